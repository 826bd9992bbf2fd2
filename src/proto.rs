//! Code generated from `proto/` and the descriptor pool the transcoder and reflection read.

use std::sync::LazyLock;

use prost_reflect::DescriptorPool;

pub mod v1 {
    tonic::include_proto!("orgd.v1");
}

/// The encoded `FileDescriptorSet` of every proto, custom options included.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/orgd_descriptor.bin"));

/// Decoded once; `DescriptorPool` clones are cheap handles onto the same data.
pub static DESCRIPTOR_POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("descriptor set built by build.rs")
});
