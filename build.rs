//! Compiles proto/ with protox (a Rust protobuf compiler, so no system `protoc` is needed).
//! The descriptor set is kept for the client side, which builds every Lua function and the
//! help text from it; tonic-prost-build generates the server traits and typed messages.

use std::path::PathBuf;

const FILES: &[&str] = &[
    "proto/viam/app/v1/app.proto",
    "proto/viam/app/v1/robot.proto",
    "proto/goutils/proto/rpc/v1/auth.proto",
];
// Import roots as upstream: the api repo's `proto/viam` and the rpc framework's repo root.
const INCLUDES: &[&str] = &["proto/viam", "proto/goutils"];

fn main() -> anyhow::Result<()> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(FILES, INCLUDES)?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // With comments, for help() and `fleetsh types` only.
    std::fs::write(
        out.join("fleetsh_docs.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    // Without: the comments are 58% of the set, and every run builds a pool from it at start.
    let mut bare = fds.clone();
    for f in &mut bare.file {
        f.source_code_info = None;
    }
    std::fs::write(
        out.join("fleetsh_descriptor.bin"),
        prost::Message::encode_to_vec(&bare),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .bytes(".viam.app.v1.UploadModuleFileRequest.file")
        .compile_fds(fds)?;
    Ok(())
}
