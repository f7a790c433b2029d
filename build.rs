//! Compiles proto/ with protox (a Rust protobuf compiler, so no system `protoc` is needed).
//! The descriptor set is kept for the client side, which builds every Lua function and the
//! help text from it; tonic-prost-build generates the server traits and typed messages.
//! proto/ is written by proto/generate.py from the pinned SDK; every directory of proto/ is an
//! import root as upstream lays them out (the api repo, the rpc framework, googleapis), and
//! every .proto file under one is compiled.

use std::path::{Path, PathBuf};

#[path = "build/lua_bytecode.rs"]
mod lua_bytecode;
#[path = "build/method_sets.rs"]
mod method_sets;

fn main() -> anyhow::Result<()> {
    println!("cargo:rerun-if-changed=proto");
    pack_relative_relocations();
    let (files, includes) = proto_files(Path::new("proto"))?;
    let fds = protox::compile(&files, &includes)?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    lua_bytecode::compile_all(&out)?;
    // With comments, for help() and `fleetsh types` only; of the source info only the
    // commented locations (the RPCs' lines), since nothing reads spans.
    let mut docs = fds.clone();
    for info in docs
        .file
        .iter_mut()
        .filter_map(|f| f.source_code_info.as_mut())
    {
        info.location
            .retain(|l| l.leading_comments.is_some() || l.trailing_comments.is_some());
    }
    std::fs::write(
        out.join("fleetsh_docs.bin"),
        prost::Message::encode_to_vec(&docs),
    )?;
    // Without: the comments are much of the set, and every run builds a pool from it at start.
    let mut bare = fds.clone();
    for f in &mut bare.file {
        f.source_code_info = None;
    }
    std::fs::write(
        out.join("fleetsh_descriptor.bin"),
        prost::Message::encode_to_vec(&bare),
    )?;
    method_sets::write_all(&bare, &out)?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Unimplemented RPCs answer UNIMPLEMENTED, so a service impl names only what it serves.
        .generate_default_stubs(true)
        // prost's codec, encoding each message into one buffer of its size (src/codec.rs).
        .codec_path("crate::codec::SizedCodec")
        .bytes(".viam.app.v1.UploadModuleFileRequest.file")
        // Written as protobuf straight from the query's rows (src/server/summaries_encode.rs).
        .extern_path(
            ".viam.app.v1.ListMachineSummariesResponse",
            "crate::server::summaries_encode::ListMachineSummariesResponse",
        )
        .compile_fds(fds)?;
    Ok(())
}

/// The binary's relative relocations packed (DT_RELR, binutils >= 2.38, glibc >= 2.36): the
/// loader applied ~32,000 24-byte RELA entries (769 KB) at every start. Links of the binary
/// only: no dependency is rebuilt for it.
fn pack_relative_relocations() {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Every .proto file under each import root (a directory of `proto`), as a path relative to
/// its root, and the roots; both sorted so the build does not depend on directory order.
fn proto_files(proto: &Path) -> anyhow::Result<(Vec<String>, Vec<PathBuf>)> {
    let mut roots: Vec<PathBuf> = std::fs::read_dir(proto)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    roots.retain(|p| p.is_dir());
    roots.sort();
    let mut files = Vec::new();
    for root in &roots {
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "proto") {
                    let rel = path
                        .strip_prefix(root)?
                        .to_string_lossy()
                        .replace('\\', "/");
                    files.push(rel);
                }
            }
        }
    }
    files.sort();
    anyhow::ensure!(
        !files.is_empty(),
        "no .proto files under {}",
        proto.display()
    );
    Ok((files, roots))
}
