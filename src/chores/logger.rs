//! Runner output on stderr: `--log-format text|json` and `--quiet` (only errors, so cron mails
//! only failures). JSON lines carry time, level, script, run id and the message. Scripts reach
//! it through `log.info/warn/error/debug` (Lua app data); the runner's own messages go through it too.

use std::io::Write;
use std::time::SystemTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub struct Logger {
    pub format: LogFormat,
    pub quiet: bool,
    pub script: String,
    pub run_id: String,
}

pub fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

impl Logger {
    /// One entry; `fleetsh: ` prefixes the runner's own text lines, scripts' read `level: `.
    fn write(&self, level: &str, message: &str, runner: bool) {
        if self.quiet && level != "error" {
            return;
        }
        let line = match self.format {
            LogFormat::Json => serde_json::json!({
                "time": now(), "level": level, "script": self.script,
                "run_id": self.run_id, "message": message,
            })
            .to_string(),
            LogFormat::Text if runner => format!("fleetsh: {message}"),
            LogFormat::Text => format!("{level}: {message}"),
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// A message from the runner itself (failures, timeouts, the lock holder).
    pub fn runner(&self, level: &str, message: &str) {
        self.write(level, message, true);
    }

    /// A line from the script's `log.*` (src/lua/helpers.rs finds this logger in app data).
    pub fn script(&self, level: &str, message: &str) {
        self.write(level, message, false);
    }
}
