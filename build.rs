//! Compiles the protos with protox (pure Rust, no system protoc) into tonic/prost code, and
//! writes the descriptor set the REST transcoder and server reflection read at start-up.

use std::path::{Path, PathBuf};

fn proto_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            proto_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let mut files = Vec::new();
    proto_files(Path::new("proto/orgd"), &mut files)?;
    files.sort();

    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_imports(true).include_source_info(false);
    compiler.open_files(&files)?;

    // encode_file_descriptor_set keeps custom options (google.api.http, orgd.*), which a
    // round trip through prost_types would drop.
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("orgd_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    // Type names let the codec find each request's descriptor, to bound its strings and
    // lists whatever the RPC (src/grpc/codec.rs).
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::grpc::codec::BoundedCodec")
        .compile_fds_with_config(compiler.file_descriptor_set(), config)?;
    Ok(())
}
