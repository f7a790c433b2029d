//! The log entries a simulated part sends: levels in the spec's mix, picked by smooth weighted
//! round robin (deterministic, so every run of `total weight` entries has the exact mix and a
//! test can count them), at the spec's rate.

use std::time::{Duration, SystemTime};

use prost_types::Timestamp;

use super::spec::LogSpec;
use crate::proto::viam::common::v1::LogEntry;

pub struct Generator {
    levels: Vec<(String, i64)>,
    current: Vec<i64>,
    total: i64,
    rate: f64,
    /// Entries owed but not yet sent (fractions carry over between ticks).
    owed: f64,
    count: u64,
    spec: LogSpec,
    host: String,
}

impl Generator {
    pub fn new(spec: &LogSpec, host: &str) -> Self {
        let levels: Vec<(String, i64)> = spec
            .levels
            .iter()
            .filter(|(_, w)| **w > 0)
            .map(|(l, w)| (l.to_lowercase(), i64::from(*w)))
            .collect();
        Self {
            current: vec![0; levels.len()],
            total: levels.iter().map(|(_, w)| w).sum(),
            levels,
            rate: spec.rate,
            owed: 0.0,
            count: 0,
            spec: spec.clone(),
            host: host.into(),
        }
    }

    /// How often to send: every entry on its own up to 10/s, batches beyond.
    pub fn tick(&self) -> Option<Duration> {
        (self.rate > 0.0 && !self.levels.is_empty())
            .then(|| Duration::from_secs_f64((1.0 / self.rate).max(0.1)))
    }

    fn next_level(&mut self) -> String {
        let mut best = 0;
        for (i, (_, w)) in self.levels.iter().enumerate() {
            self.current[i] += w;
            if self.current[i] > self.current[best] {
                best = i;
            }
        }
        self.current[best] -= self.total;
        self.levels[best].0.clone()
    }

    /// Forgets entries owed but not sent (a part back from offline starts afresh).
    pub fn forgive(&mut self) {
        self.owed = 0.0;
    }

    /// The entries due after `elapsed` more time online (at most `max`).
    pub fn due(&mut self, elapsed: Duration, max: usize) -> Vec<LogEntry> {
        self.owed = (self.owed + self.rate * elapsed.as_secs_f64()).min(max as f64);
        let n = self.owed.floor() as usize;
        self.owed -= n as f64;
        (0..n)
            .map(|_| {
                let level = self.next_level();
                self.count += 1;
                let message = self
                    .spec
                    .messages
                    .get(&level)
                    .cloned()
                    .unwrap_or_else(|| format!("simulated {level} #{}", self.count));
                entry(&self.host, &level, &self.spec.logger, message)
            })
            .collect()
    }
}

/// One entry as viam-server sends it, stamped with the part's own (real) clock.
pub fn entry(host: &str, level: &str, logger: &str, message: String) -> LogEntry {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    LogEntry {
        host: host.into(),
        level: level.into(),
        time: Some(Timestamp {
            seconds: now.as_secs() as i64,
            nanos: now.subsec_nanos() as i32,
        }),
        logger_name: logger.into(),
        message,
        caller: None,
        stack: String::new(),
        fields: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rate: f64, levels: &[(&str, u32)]) -> LogSpec {
        LogSpec {
            rate,
            levels: levels.iter().map(|(l, w)| (l.to_string(), *w)).collect(),
            ..LogSpec::default()
        }
    }

    #[test]
    fn every_round_has_the_exact_mix_spread_out() {
        let mut g = Generator::new(&spec(10.0, &[("info", 8), ("warn", 1), ("error", 1)]), "h");
        let batch = g.due(Duration::from_secs(1), 1000);
        let levels: Vec<&str> = batch.iter().map(|e| e.level.as_str()).collect();
        assert_eq!(levels.iter().filter(|l| **l == "info").count(), 8);
        assert_eq!(levels.iter().filter(|l| **l == "warn").count(), 1);
        assert_eq!(levels.iter().filter(|l| **l == "error").count(), 1);
        assert_ne!(
            levels[..2],
            ["error", "warn"],
            "not bunched at the start: {levels:?}"
        );
        assert_eq!(batch[0].host, "h");
        assert_eq!(batch[0].logger_name, "rdk.sim");
    }

    #[test]
    fn fractions_carry_over_and_the_cap_holds() {
        let mut g = Generator::new(&spec(2.0, &[("info", 1)]), "h");
        assert_eq!(g.due(Duration::from_millis(250), 1000).len(), 0);
        assert_eq!(g.due(Duration::from_millis(250), 1000).len(), 1);
        assert_eq!(g.due(Duration::from_secs(3600), 5).len(), 5);
        assert_eq!(g.tick(), Some(Duration::from_millis(500)));
        assert_eq!(Generator::new(&spec(0.0, &[("info", 1)]), "h").tick(), None);
        assert_eq!(
            Generator::new(&spec(1000.0, &[("info", 1)]), "h").tick(),
            Some(Duration::from_millis(100))
        );
    }
}
