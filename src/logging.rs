//! tracing to stderr; the level comes from --log-level, else RUST_LOG, else "info" for the
//! server's request lines and "warn" elsewhere.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(level: Option<&str>) {
    let filter = level
        .map(EnvFilter::new)
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("warn,fleetsh=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Colours only for a person at a terminal (a log file or journal would keep the escape codes)
/// who has not set NO_COLOR.
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
