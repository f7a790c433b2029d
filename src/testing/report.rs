//! What `fleetsh test` prints: one line per test as its file finishes, failures with their
//! message, a closing `N passed, M failed[, K skipped]`; and JUnit XML for CI systems.

use std::io::Write;
use std::path::Path;

use super::file::{Outcome, Verdict};

pub fn line(out: &mut impl Write, o: &Outcome) {
    let ms = o.took.as_millis();
    let file = o.file.display();
    let _ = match &o.verdict {
        Verdict::Passed => writeln!(out, "ok    {file}: {} ({ms} ms)", o.name),
        Verdict::Skipped(why) if why.is_empty() => writeln!(out, "skip  {file}: {}", o.name),
        Verdict::Skipped(why) => writeln!(out, "skip  {file}: {} ({why})", o.name),
        Verdict::Failed(msg) => {
            let indented = msg.replace('\n', "\n      ");
            writeln!(out, "FAIL  {file}: {} ({ms} ms)\n      {indented}", o.name)
        }
    };
}

#[derive(Default, Debug, PartialEq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Counts {
    pub fn of(outcomes: &[Outcome]) -> Self {
        let mut c = Counts::default();
        for o in outcomes {
            match o.verdict {
                Verdict::Passed => c.passed += 1,
                Verdict::Failed(_) => c.failed += 1,
                Verdict::Skipped(_) => c.skipped += 1,
            }
        }
        c
    }

    /// `3 passed, 1 failed` (`, 2 skipped`): the closing line CI systems read.
    pub fn summary(&self) -> String {
        let mut s = format!("{} passed, {} failed", self.passed, self.failed);
        if self.skipped > 0 {
            s.push_str(&format!(", {} skipped", self.skipped));
        }
        s
    }
}

/// JUnit XML: one suite per file, one case per test.
pub fn junit(path: &Path, outcomes: &[Outcome]) -> Result<(), String> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("fleetsh test");
    let mut files: Vec<&Path> = outcomes.iter().map(|o| o.file.as_path()).collect();
    files.dedup();
    for file in files {
        let mut suite = TestSuite::new(file.display().to_string());
        for o in outcomes.iter().filter(|o| o.file == file) {
            let status = match &o.verdict {
                Verdict::Passed => TestCaseStatus::success(),
                Verdict::Skipped(why) => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(why.as_str());
                    s
                }
                Verdict::Failed(msg) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(msg.lines().next().unwrap_or(""));
                    s.set_description(msg.as_str());
                    s
                }
            };
            let mut case = TestCase::new(o.name.as_str(), status);
            case.set_time(o.took);
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    let xml = report.to_string().map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, xml).map_err(|e| format!("{}: {e}", path.display()))
}
