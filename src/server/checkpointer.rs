//! Copies the WAL into the database file off the request path. SQLite's autocheckpoint runs
//! inside the commit that takes the WAL past its threshold: that call fsyncs the ~20 MB the WAL
//! gathered, copies its pages and fsyncs the database (2-40 ms on the bench VM). In 6,000
//! sequential new_robot, the 6-10 calls that did so were a third of the mean call's time.
//! Here a thread with a connection of its own runs a PASSIVE checkpoint (which waits for no
//! reader or writer) every `EVERY` commits, so the WAL is synced and copied while the writer
//! goes on. The writer's own autocheckpoint stays as the bound on the WAL's size; when it
//! comes, it finds the frames copied and synced already.
//!
//! A checkpoint changes no data, and SQLite makes one safe to stop at any point (kill -9
//! included): the WAL keeps every frame until a later writer restarts it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

/// Commits between checkpoints: a new_robot writes ~10 frames, so ~2,500 frames (~5 MB) a
/// checkpoint, well under the writer's autocheckpoint at 10,000 frames.
pub const EVERY: u64 = 250;

/// The checkpointing thread of one database, started at its `EVERY`th commit (a short embedded
/// run never starts it).
pub struct Checkpointer {
    path: PathBuf,
    commits: AtomicU64,
    worker: Mutex<Option<Worker>>,
}

struct Worker {
    /// Capacity 1: a checkpoint asked for while one is waiting to start is the same checkpoint.
    wake: SyncSender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// For the database at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            commits: AtomicU64::new(0),
            worker: Mutex::new(None),
        }
    }

    /// After a commit on the writer: every `EVERY`th asks the thread for a checkpoint.
    pub fn committed(&self) {
        if self.commits.fetch_add(1, Ordering::Relaxed) % EVERY != EVERY - 1 {
            return;
        }
        let mut worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner);
        if worker.is_none() {
            *worker = self.start();
        }
        if let Some(w) = worker.as_ref()
            && let Err(TrySendError::Disconnected(())) = w.wake.try_send(())
        {
            // The thread ended (its connection failed to open): the writer's autocheckpoint
            // still bounds the WAL.
            *worker = None;
        }
    }

    fn start(&self) -> Option<Worker> {
        let (wake, asked) = mpsc::sync_channel(1);
        let path = self.path.clone();
        let thread = std::thread::Builder::new()
            .name("fleetsh-checkpoint".into())
            .spawn(move || run(&path, asked));
        match thread {
            Ok(thread) => Some(Worker { wake, thread }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the WAL checkpoint thread; commits checkpoint inline");
                None
            }
        }
    }

    /// Ends the thread, after the checkpoint it may be running (before the store's last
    /// checkpoint, which would otherwise wait for it).
    pub fn stop(&self) {
        let worker = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Worker { wake, thread }) = worker {
            drop(wake);
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(path: &Path, asked: Receiver<()>) {
    let conn = match super::store::open_checkpointer(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "the WAL checkpoint thread cannot open the database; commits checkpoint inline");
            return;
        }
    };
    while asked.recv().is_ok() {
        // (busy, frames in the WAL, frames copied): busy only if another checkpoint ran.
        let done = super::store::row(&conn, "PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        match done {
            Ok((frames, copied)) => tracing::debug!(frames, copied, "WAL checkpoint"),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; the next one retries"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::EVERY;
    use crate::server::store::{Store, exec};

    /// The main database file only grows by checkpoints (WAL mode): `EVERY` commits, far under
    /// the writer's own autocheckpoint, must reach it through the thread.
    #[test]
    fn commits_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.db");
        let store = Store::open(&path).unwrap();
        let size = || std::fs::metadata(&path).unwrap().len();
        let before = size();
        for i in 0..EVERY {
            store
                .tx(|c| {
                    let value = vec![7u8; 1024];
                    Ok(exec(
                        c,
                        "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                        rusqlite::params![format!("k{i}"), value],
                    )?)
                })
                .unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while size() < before + 200 * 1024 {
            assert!(
                Instant::now() < deadline,
                "the database file stayed at {} bytes (was {before})",
                size()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // Closing stops the thread first, then checkpoints the rest; the rows are all there.
        store.close();
        drop(store);
        let store = Store::open(&path).unwrap();
        let rows = store
            .read(|c| {
                Ok(crate::server::store::row(
                    c,
                    "SELECT count(*) FROM meta WHERE key LIKE 'k%'",
                    [],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .unwrap();
        assert_eq!(rows, EVERY as i64);
    }
}
