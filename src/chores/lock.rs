//! `--lock FILE`: a non-blocking exclusive lock (flock/LockFileEx through fs4). The holder writes
//! its pid, start time and run id into the file, so a second run can say who holds it. The lock
//! dies with the process, so a crashed run never leaves a stale lock; the file itself stays.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;

use fs4::FileExt;

pub struct Lock {
    _file: File,
}

pub enum LockError {
    /// Another run holds it; the text names the holder.
    Held(String),
    Io(String),
}

pub fn acquire(path: &Path, run_id: &str) -> Result<Lock, LockError> {
    let io = |e: std::io::Error| LockError::Io(format!("lock file {}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    match FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() {
                "another run (holder unknown)"
            } else {
                holder
            };
            return Err(LockError::Held(format!(
                "lock {} is held by {holder}; not running",
                path.display()
            )));
        }
        Err(fs4::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    let me = format!(
        "pid {} since {} (run {run_id})\n",
        std::process::id(),
        super::logger::now()
    );
    file.write_all(me.as_bytes()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(Lock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_told_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l");
        let first = acquire(&p, "run-1").ok().expect("first lock");
        match acquire(&p, "run-2") {
            Err(LockError::Held(msg)) => {
                assert!(
                    msg.contains(&format!("pid {}", std::process::id())),
                    "{msg}"
                );
                assert!(msg.contains("run-1"), "{msg}");
            }
            _ => panic!("second lock must be refused"),
        }
        drop(first);
        assert!(acquire(&p, "run-3").is_ok(), "released on drop");
    }
}
