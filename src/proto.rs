//! Code generated from `proto/` and the descriptor pool the transcoder and reflection read.

use std::sync::LazyLock;

use prost_reflect::DescriptorPool;

/// Nested as the proto packages are, because generated code refers across packages by
/// relative paths (`super::super::google::api`).
pub mod orgd {
    pub mod v1 {
        tonic::include_proto!("orgd.v1");
    }
}
pub use orgd::v1;

/// `google.api.HttpBody`, which v1 responses use for raw (non-JSON) bodies.
pub mod google {
    pub mod api {
        tonic::include_proto!("google.api");
    }
}

/// The encoded `FileDescriptorSet` of every proto, custom options included.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/orgd_descriptor.bin"));

/// Decoded once; `DescriptorPool` clones are cheap handles onto the same data.
pub static DESCRIPTOR_POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("descriptor set built by build.rs")
});
