//! tracing to stderr; the level comes from --log-level, else RUST_LOG, else "info" for the
//! server's request lines and "warn" elsewhere.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// `json`: one JSON object per line (a run with `--log-format json`, where every stderr line
/// must be JSON, the local fleet's own warnings included).
pub fn init(level: Option<&str>, json: bool) {
    let filter = level
        .map(EnvFilter::new)
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("warn,fleetsh=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.with_ansi(colour()).try_init()
    };
}

/// Colours only for a person at a terminal (a log file or journal would keep the escape codes)
/// who has not set NO_COLOR.
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
