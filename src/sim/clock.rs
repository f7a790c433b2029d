//! Fleet time for simulated parts: real time since the simulation started plus every advance of
//! the fleet's clock (`fleet.clock.advance` in a test). Offline schedules run on it; log rates
//! and check-in intervals run on real time (an advance does not make a part send a backlog).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

#[derive(Clone)]
pub struct SimClock {
    started: Instant,
    /// Total advance so far; parts watch it to re-check their schedule and call in at once.
    advanced: Arc<watch::Sender<Duration>>,
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new()
    }
}

impl SimClock {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            advanced: Arc::new(watch::channel(Duration::ZERO).0),
        }
    }

    /// Fleet time since the clock was made.
    pub fn now(&self) -> Duration {
        self.started.elapsed() + *self.advanced.borrow()
    }

    pub fn advanced(&self) -> Duration {
        *self.advanced.borrow()
    }

    /// Called after the fleet's stored times moved by `by`.
    pub fn advance(&self, by: Duration) {
        self.advanced.send_modify(|d| *d += by);
    }

    pub fn watch(&self) -> watch::Receiver<Duration> {
        self.advanced.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_add_to_real_time_and_are_seen() {
        let c = SimClock::new();
        let mut w = c.watch();
        let before = c.now();
        c.advance(Duration::from_secs(600));
        assert!(c.now() >= before + Duration::from_secs(600));
        assert_eq!(c.advanced(), Duration::from_secs(600));
        assert!(w.has_changed().unwrap());
        assert_eq!(*w.borrow_and_update(), Duration::from_secs(600));
    }
}
