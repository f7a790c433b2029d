//! `fleetsh test [PATH...]`: runs `*_test.lua` files, each test against a fresh local fleet of
//! its own, files in parallel (`--jobs`). A file that does not load, a test that raises outside
//! an assertion or runs past `--test-timeout`, each count as one failure with file and line;
//! the other tests still run. Exit 0 only when every test passed (or was skipped).

mod chore;
mod discover;
mod file;
mod report;
pub mod seeding;
mod simulate;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub use discover::SUFFIX;
use file::{Options, Outcome};
use report::Counts;

use crate::exit;

pub struct TestRun {
    pub paths: Vec<PathBuf>,
    pub jobs: usize,
    pub filter: Option<String>,
    pub timeout: Duration,
    pub call_timeout: Duration,
    pub junit: Option<PathBuf>,
    /// `--seed FILE`: a fleet (Lua table or JSON) seeded into every test's fleet.
    pub seed: Option<PathBuf>,
}

/// Returns the process exit code.
pub fn main(run: &TestRun) -> u8 {
    let paths = if run.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        run.paths.clone()
    };
    let files = match discover::test_files(&paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fleetsh test: {e}");
            return exit::USAGE;
        }
    };
    if files.is_empty() {
        eprintln!("fleetsh test: no *{SUFFIX} files under {}", shown(&paths));
        return exit::USAGE;
    }
    let seed = match &run.seed {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(text) => Some((p.clone(), text)),
            Err(e) => {
                eprintln!("fleetsh test: --seed {}: {e}", p.display());
                return exit::USAGE;
            }
        },
        None => None,
    };
    let opts = Options {
        seed,
        filter: run.filter.clone(),
        timeout: run.timeout,
        call_timeout: run.call_timeout,
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Vec<Outcome>)>> = Mutex::new(Vec::new());
    let stdout = Mutex::new(());
    // Each worker takes the next file; a file's Lua state lives on the worker's thread.
    std::thread::scope(|s| {
        for _ in 0..run.jobs.clamp(1, files.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let outcomes = file::run(path, &opts);
                    {
                        let _held = stdout.lock();
                        let mut out = std::io::stdout().lock();
                        for o in &outcomes {
                            report::line(&mut out, o);
                        }
                    }
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, outcomes));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<Outcome> = results.into_iter().flat_map(|(_, o)| o).collect();
    if let Some(path) = &run.junit {
        if let Err(e) = report::junit(path, &outcomes) {
            eprintln!("fleetsh test: cannot write the JUnit report: {e}");
            return exit::SCRIPT;
        }
    }
    let counts = Counts::of(&outcomes);
    println!("{}", counts.summary());
    if counts.failed > 0 { exit::SCRIPT } else { 0 }
}

fn shown(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
