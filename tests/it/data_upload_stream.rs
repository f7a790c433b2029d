//! `cloud.data.file_upload_from_path` streams a file of any size (issue 12): a 64 MiB file goes
//! up in 1 MiB messages read while they are sent, comes back byte for byte (SHA-256), and the
//! uploading fleetsh process never holds it whole (its peak RSS, VmHWM, stays far below the
//! file's size above a run that uploads nothing).

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::harness::TestServer;
use crate::lua::{assert_exit, fleetsh, remote, text};

const FILE_BYTES: usize = 64 * 1024 * 1024;

/// Distinct 8-byte words, so a lost, repeated or reordered chunk changes the hash.
fn write_file(path: &std::path::Path) -> String {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut hash = Sha256::new();
    let mut block = Vec::with_capacity(64 * 1024);
    for i in 0..(FILE_BYTES / 8) as u64 {
        block.extend_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
        if block.len() == block.capacity() {
            hash.update(&block);
            f.write_all(&block).unwrap();
            block.clear();
        }
    }
    hash.update(&block);
    f.write_all(&block).unwrap();
    f.flush().unwrap();
    hex(&hash.finalize())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Peak resident set of the Lua run, in KiB, printed by the chunk as `peak=N`.
const PEAK: &str = r#"
  local s = io.open("/proc/self/status"):read("a")
  print("peak=" .. s:match("VmHWM:%s*(%d+)"))"#;

fn peak_kib(stdout: &str) -> u64 {
    let at = stdout.find("peak=").expect("the run printed its peak") + 5;
    stdout[at..].trim().lines().next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_64_mib_file_goes_up_in_chunks_and_comes_back_whole() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capture.bin");
    let sha = write_file(&file);

    let baseline = fleetsh(
        remote(
            &s,
            &["-q", "-e", &format!("cloud.new_robot('idle') {PEAK}")],
        ),
        None,
    )
    .await;
    assert_exit(&baseline, 0);
    let baseline = peak_kib(&text(&baseline.stdout));

    let upload = format!(
        r#"local part = cloud.get_robot_parts(cloud.new_robot("uploader"))[1].id
        print("id=" .. cloud.data.file_upload_from_path({:?}, part, nil, "files"))
        {PEAK}"#,
        file.display().to_string()
    );
    let out = fleetsh(remote(&s, &["-q", "-e", &upload]), None).await;
    assert_exit(&out, 0);
    let shown = text(&out.stdout);
    let id = shown
        .lines()
        .find_map(|l| l.strip_prefix("id="))
        .expect("the upload printed its id")
        .to_string();
    let peak = peak_kib(&shown);
    let file_kib = (FILE_BYTES / 1024) as u64;
    assert!(
        peak < baseline + file_kib / 4,
        "the upload's peak RSS is {peak} KiB over a baseline of {baseline} KiB for a {file_kib} KiB file: \
         the file is being held in memory rather than read in chunks while it is sent"
    );

    let back = dir.path().join("back.bin");
    let fetch = format!(
        r#"local got = cloud.data.binary_data_by_ids({{ {id:?} }}, false)
        assert(#got == 1, "one binary by its id")
        print("name=" .. got[1].metadata.file_name .. got[1].metadata.file_ext)
        cloud.data.binary_data_by_ids({{ {id:?} }}, true, {:?})"#,
        back.display().to_string()
    );
    let out = fleetsh(remote(&s, &["-q", "-e", &fetch]), None).await;
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("name=capture.bin"),
        "{}",
        text(&out.stdout)
    );
    let bytes = std::fs::read(&back).unwrap();
    assert_eq!(bytes.len(), FILE_BYTES, "the stored file's size");
    assert_eq!(hex(&Sha256::digest(&bytes)), sha, "the stored bytes");
}

#[tokio::test]
async fn a_missing_file_is_refused_before_anything_is_sent() {
    let s = TestServer::start().await;
    let code = r#"local part = cloud.get_robot_parts(cloud.new_robot("uploader"))[1].id
        local ok, err = pcall(cloud.data.file_upload_from_path, "/nonexistent/capture.bin", part)
        assert(not ok and err.code == "INVALID_ARGUMENT", tostring(err))
        local _, n = cloud.data.binary_data_by_filter { count_only = true }
        assert(n == 0, "nothing stored: " .. tostring(n))
        print("refused")"#;
    let out = fleetsh(remote(&s, &["-q", "-e", code]), None).await;
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("refused"),
        "{}",
        text(&out.stdout)
    );
}
