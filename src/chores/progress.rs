//! Progress bars on stderr for `cloud.parallel` and long pagination — only when stderr is a
//! terminal and the run is not `--quiet`, so cron and CI output stays clean.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

static SUPPRESSED: AtomicBool = AtomicBool::new(false);

/// `--quiet` turns bars off for the whole process.
pub fn suppress() {
    SUPPRESSED.store(true, Ordering::Relaxed);
}

fn enabled() -> bool {
    !SUPPRESSED.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// A bar of `len` steps (None: a spinner counting items) or nothing when bars are off.
pub fn bar(len: Option<u64>, label: &str) -> Option<ProgressBar> {
    if !enabled() {
        return None;
    }
    let (b, template) = match len {
        Some(n) => (
            ProgressBar::new(n),
            "{msg} [{bar:30}] {pos}/{len} {elapsed}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{msg} {spinner} {pos} {elapsed}",
        ),
    };
    b.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_message(label.to_string());
    Some(b)
}

thread_local! {
    static PAGES: RefCell<HashMap<String, ProgressBar>> = RefCell::new(HashMap::new());
}

/// After each paged call (`more`: the reply has a next page token): from the first reply that
/// promises more, a spinner counts the pages of `label` until the last one.
pub fn page(label: &str, more: bool) {
    if !enabled() {
        return;
    }
    PAGES.with(|p| {
        let mut p = p.borrow_mut();
        if !more {
            if let Some(b) = p.remove(label) {
                b.finish_and_clear();
            }
            return;
        }
        if !p.contains_key(label) {
            let Some(b) = bar(None, &format!("{label}: pages")) else {
                return;
            };
            p.insert(label.to_string(), b);
        }
        if let Some(b) = p.get(label) {
            b.inc(1);
        }
    });
}
