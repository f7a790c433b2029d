//! Process exit codes, in one leaf module: the CLI's help, the config command, the runner and
//! the REPL all name them from here, so a code means the same thing everywhere.

/// The script failed (message with file:line on stderr).
pub const SCRIPT: u8 = 1;
/// Bad flags, arguments or config file.
pub const USAGE: u8 = 2;
/// Cannot connect or authenticate.
pub const CONNECT: u8 = 3;
/// `--lock` is held by another run.
pub const LOCKED: u8 = 4;
/// `--timeout` expired.
pub const TIMEOUT: u8 = 5;
/// Partial failure, signalled by the script with `os.exit(6)`.
pub const PARTIAL: u8 = 6;
/// `--dry-run` and the plan has changes.
pub const PLANNED: u8 = 7;

/// The table `fleetsh --help` ends with.
pub const CODES_HELP: &str = "\
Exit codes of run / -e / stdin scripts:
  0  success (with --dry-run: the plan is empty)
  1  script error (message with file:line and a traceback on stderr)
  2  usage error (bad flags, arguments or config file)
  3  cannot connect or authenticate
  4  --lock is held by another run (one line names the holder)
  5  --timeout expired (in-flight calls were cancelled)
  6  partial failure, signalled by the script: os.exit(6)
  7  --dry-run and the plan has changes
os.exit(n) exits with n after the run's cleanup (plan, audit, lock, local fleet).";

#[cfg(test)]
mod tests {
    use super::*;

    /// The help lists every code with the meaning its constant has.
    #[test]
    fn help_lists_every_code() {
        for (code, words) in [
            (SCRIPT, "script error"),
            (USAGE, "usage error"),
            (CONNECT, "cannot connect"),
            (LOCKED, "--lock"),
            (TIMEOUT, "--timeout"),
            (PARTIAL, "partial failure"),
            (PLANNED, "--dry-run and the plan"),
        ] {
            let line = format!("  {code}  {words}");
            assert!(CODES_HELP.contains(&line), "missing {line:?}");
        }
    }
}
