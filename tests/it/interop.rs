//! The official Python SDK against the local fleet: `tests/interop/` run by pytest in a venv
//! (`target/interop-venv`, built from `tests/interop/requirements.txt`) while a TestServer
//! serves; and, in the same venv, our schema against the SDK's (descriptor parity) and proto/
//! against what proto/generate.py writes. Missing python or pip is a failure, not a skip: CI installs from these files.
//! `FLEETSH_INTEROP_K=expr` passes `-k expr` to pytest; `FLEETSH_PYTHON` picks the interpreter
//! that creates the venv (default `python3`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::harness::TestServer;

const STAMP: &str = ".requirements-sha256";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `cmd` to completion with inherited output; panics naming `what` unless it succeeds.
fn run(what: &str, cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    assert!(status.success(), "{what} failed ({status}): {cmd:?}");
}

/// Creates the venv if missing and installs the pinned requirements unless the stamp says the
/// same requirements are already installed. Returns the venv's python.
fn ensure_venv(venv: &Path, requirements: &Path) -> PathBuf {
    let reqs = std::fs::read(requirements).expect("tests/interop/requirements.txt");
    let hash = hex::encode(Sha256::digest(&reqs));
    let python = venv.join("bin").join("python");
    if !python.exists() {
        let base = std::env::var("FLEETSH_PYTHON").unwrap_or_else(|_| "python3".into());
        run(
            "creating the interop venv",
            Command::new(base).arg("-m").arg("venv").arg(venv),
        );
    }
    let stamp = venv.join(STAMP);
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(hash.as_str()) {
        run(
            "pip install -r tests/interop/requirements.txt",
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "-q",
                    "-r",
                ])
                .arg(requirements),
        );
        std::fs::write(&stamp, &hash).expect("writing the venv stamp");
    }
    python
}

/// The interop venv's python, made once per test run: the tests here share it, and two pip
/// installs into one venv at the same time would corrupt it.
fn venv_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let root = root();
            ensure_venv(
                &root.join("target/interop-venv"),
                &root.join("tests/interop/requirements.txt"),
            )
        })
        .clone()
}

/// fleetsh's compiled schema against the pinned SDK's, field by field (names every difference).
#[test]
fn descriptor_set_matches_the_sdk() {
    let python = venv_python();
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("fleetsh_descriptor.bin");
    std::fs::write(&set, fleetsh::proto::DESCRIPTOR_SET).unwrap();
    run(
        "the descriptor parity check (tests/interop/descriptor_parity.py; its output says what differs)",
        Command::new(python)
            .arg(root().join("tests/interop/descriptor_parity.py"))
            .arg(&set),
    );
}

/// proto/ is exactly what proto/generate.py writes from the pinned SDK: no hand edits, no
/// stale files, and a doc line for every RPC.
#[test]
fn proto_dir_is_what_the_generator_writes() {
    run(
        "proto/generate.py --check (run `target/interop-venv/bin/python proto/generate.py` to regenerate)",
        Command::new(venv_python())
            .arg(root().join("proto/generate.py"))
            .arg("--check"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_interop_suite_passes() {
    let root = root();
    let python = tokio::task::spawn_blocking(venv_python)
        .await
        .expect("venv setup panicked");

    let s = TestServer::start().await;
    let creds = s.dir.path().join("credentials.json");
    assert!(
        creds.exists(),
        "the server did not write {}",
        creds.display()
    );

    let mut cmd = Command::new(python);
    cmd.args(["-m", "pytest", "-q", "-rfE"])
        .current_dir(root.join("tests/interop"))
        .env("FLEETSH_CREDENTIALS", &creds);
    if let Ok(k) = std::env::var("FLEETSH_INTEROP_K") {
        cmd.args(["-k", &k]);
    }
    // The child blocks; the multi-threaded runtime keeps the server answering meanwhile.
    let status = tokio::task::spawn_blocking(move || cmd.status())
        .await
        .expect("pytest runner panicked");
    let status = status.expect("cannot start pytest in the interop venv");
    s.fleet.stop().await.expect("server stops cleanly");
    assert!(
        status.success(),
        "the Python SDK interop suite failed ({status}); see pytest's output above"
    );
}
