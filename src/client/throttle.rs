//! How one client behaves against a server that rate-limits: every call of the client (all
//! in-flight calls of a `cloud.parallel` included) shares one retry budget and one adaptive
//! send rate, so a throttled script slows down instead of hammering.
//!
//! The model is the AWS SDKs' retry modes: "standard" (a token bucket of retries: a retry costs
//! tokens, a success pays some back, an empty bucket fails fast) and "adaptive" (after the first
//! throttle, a client-side send rate that drops multiplicatively on a throttle and climbs back
//! along a cubic curve, as TCP CUBIC does). One change from AWS: a throttle only lowers the rate
//! if its call was sent after the last decrease, so the burst of refusals that 64 in-flight
//! calls bring back counts once, as TCP counts one loss per window.
//!
//! `--max-rate` is a hard ceiling on top, kept by governor.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Retry budget (AWS standard mode): capacity, the cost of one retry, the refund of a call
/// that passed at its first attempt.
const BUDGET: u32 = 500;
const RETRY_COST: u32 = 5;
const SUCCESS_REFUND: u32 = 1;

/// The rate after a throttle, as a share of the rate that was throttled (AWS: beta).
const BETA: f64 = 0.7;
/// How fast the rate climbs back (AWS: scale constant), in calls/s per s³.
const SCALE: f64 = 0.4;
/// Lowest send rate and bucket size: one call every two seconds still makes progress.
const MIN_RATE: f64 = 0.5;
/// Width of the buckets in which the send rate is measured.
const MEASURE_BUCKET: f64 = 0.1;
/// Weight of the newest bucket in the measured rate.
const SMOOTHING: f64 = 0.8;

/// A send rate: `count` calls per `per`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub per: Duration,
}

impl Rate {
    pub fn per_second(&self) -> f64 {
        f64::from(self.count.get()) / self.per.as_secs_f64()
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

impl std::str::FromStr for Rate {
    type Err = String;
    /// `500/s`, `30/min`, `1000/h`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("{s:?} is not a rate: write calls per time unit, e.g. 500/s, 30/min, 1000/h")
        };
        let (n, unit) = s.split_once('/').ok_or_else(bad)?;
        let count = n.trim().parse::<NonZeroU32>().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        Ok(Self { count, per })
    }
}

impl Rate {
    /// The same rate as a governor quota, with a burst of one period's calls.
    pub fn quota(&self) -> Quota {
        Quota::with_period(self.per / self.count.get())
            .expect("a rate has a non-zero period")
            .allow_burst(self.count)
    }
}

#[derive(Default)]
pub struct Throttle {
    state: Mutex<Adaptive>,
    ceiling: Option<DefaultDirectRateLimiter>,
    /// Calls the server refused as throttled, for `cloud.parallel` and the run's summary.
    throttled: AtomicU64,
}

/// The adaptive send rate and the retry budget.
struct Adaptive {
    budget: u32,
    /// Off until the first throttle: a client that is never refused is never slowed.
    enabled: bool,
    fill_rate: f64,
    capacity: f64,
    tokens: f64,
    last_refill: Instant,
    /// Sends per second, measured.
    measured: f64,
    bucket_start: Instant,
    bucket_count: u32,
    /// The rate at the last throttle, and when it was lowered.
    last_max: f64,
    last_decrease: Option<Instant>,
}

impl Default for Adaptive {
    fn default() -> Self {
        let now = Instant::now();
        Self {
            budget: BUDGET,
            enabled: false,
            fill_rate: 0.0,
            capacity: 0.0,
            tokens: 0.0,
            last_refill: now,
            measured: 0.0,
            bucket_start: now,
            bucket_count: 0,
            last_max: 0.0,
            last_decrease: None,
        }
    }
}

/// What a call that was refused should do next.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    RetryAfter(Duration),
    /// The shared budget is spent: the server keeps refusing, so fail instead of adding load.
    BudgetSpent,
}

impl Throttle {
    /// A hard ceiling on the client's send rate (`--max-rate`).
    pub fn with_ceiling(rate: Option<Rate>) -> Self {
        Self {
            ceiling: rate.map(|r| RateLimiter::direct(r.quota().allow_burst(NonZeroU32::MIN))),
            ..Self::default()
        }
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Adaptive> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the call may be sent; returns when it was sent (for `on_throttled`).
    pub async fn before_send(&self) -> Instant {
        if let Some(limit) = &self.ceiling {
            limit.until_ready().await;
        }
        let wait = self.state().acquire(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Instant::now()
    }

    /// A call passed; `retried` says whether it took more than one attempt.
    pub fn on_success(&self, retried: bool) {
        let mut s = self.state();
        let refund = if retried { RETRY_COST } else { SUCCESS_REFUND };
        s.budget = (s.budget + refund).min(BUDGET);
        s.passed(Instant::now());
    }

    /// The server refused a call sent at `sent` as throttled (RESOURCE_EXHAUSTED), asking to
    /// wait `server_delay` if it said so; attempt `n` (1-based) failed.
    pub fn on_throttled(&self, sent: Instant, server_delay: Option<Duration>, n: u32) -> Verdict {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        let mut s = self.state();
        s.refused(sent, Instant::now());
        self.spend(&mut s, n, server_delay)
    }

    /// A call failed in a way worth retrying that is not a throttle (UNAVAILABLE...).
    pub fn on_transient(&self, n: u32) -> Verdict {
        let mut s = self.state();
        self.spend(&mut s, n, None)
    }

    fn spend(&self, s: &mut Adaptive, n: u32, server_delay: Option<Duration>) -> Verdict {
        if s.budget < RETRY_COST {
            return Verdict::BudgetSpent;
        }
        s.budget -= RETRY_COST;
        // The server knows when it will take the call again; a little jitter keeps the
        // refused calls from all coming back in the same instant.
        let delay = match server_delay {
            Some(d) => d.mul_f64(1.0 + rand::random_range(0.0..0.25)),
            None => backoff(n),
        };
        Verdict::RetryAfter(delay)
    }
}

/// Jittered exponential backoff: ~100 ms, ~200 ms, ... up to ~6.4 s.
pub fn backoff(attempt: u32) -> Duration {
    let base = 100u64 << attempt.min(6);
    Duration::from_millis(base / 2 + rand::random_range(0..=base))
}

impl Adaptive {
    /// Takes one send token; the time to wait for it (zero while not enabled).
    fn acquire(&mut self, now: Instant) -> Duration {
        self.count_send(now);
        if !self.enabled {
            return Duration::ZERO;
        }
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            // The debt is paid by the refill while this call waits.
            Duration::from_secs_f64(-self.tokens / self.fill_rate)
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now
            .saturating_duration_since(self.last_refill)
            .as_secs_f64();
        self.tokens = (self.tokens + dt * self.fill_rate).min(self.capacity);
        self.last_refill = now;
    }

    fn count_send(&mut self, now: Instant) {
        self.bucket_count += 1;
        let dt = now
            .saturating_duration_since(self.bucket_start)
            .as_secs_f64();
        if dt >= MEASURE_BUCKET {
            let rate = f64::from(self.bucket_count) / dt;
            self.measured = if self.measured == 0.0 {
                rate
            } else {
                rate * SMOOTHING + self.measured * (1.0 - SMOOTHING)
            };
            self.bucket_start = now;
            self.bucket_count = 0;
        }
    }

    /// The send rate so far, also before the first full bucket.
    fn measured_rate(&self, now: Instant) -> f64 {
        if self.measured > 0.0 {
            return self.measured;
        }
        let dt = now
            .saturating_duration_since(self.bucket_start)
            .as_secs_f64();
        f64::from(self.bucket_count) / dt.max(0.001)
    }

    fn refused(&mut self, sent: Instant, now: Instant) {
        if self.last_decrease.is_some_and(|d| sent < d) {
            return; // sent before the last decrease, which already answered this congestion
        }
        let measured = self.measured_rate(now);
        let rate = if self.enabled {
            self.fill_rate.min(measured)
        } else {
            measured
        };
        self.last_max = rate;
        self.last_decrease = Some(now);
        self.enabled = true;
        self.set_rate(now, rate * BETA);
    }

    fn passed(&mut self, now: Instant) {
        let Some(since) = self.last_decrease else {
            return;
        };
        // Cubic: back to last_max after `k` seconds, then growing past it to find the new limit.
        let k = (self.last_max * (1.0 - BETA) / SCALE).cbrt();
        let t = now.saturating_duration_since(since).as_secs_f64();
        let cubic = SCALE * (t - k).powi(3) + self.last_max;
        // Never more than twice what is actually being sent: an idle client must not bank rate.
        let rate = cubic.min(2.0 * self.measured_rate(now).max(self.last_max));
        self.set_rate(now, rate);
    }

    fn set_rate(&mut self, now: Instant, rate: f64) {
        self.refill(now);
        self.fill_rate = rate.max(MIN_RATE);
        // A bucket of a tenth of a second's calls: short bursts pass, floods do not.
        self.capacity = (self.fill_rate / 10.0).max(1.0);
        self.tokens = self.tokens.min(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_print() {
        let r: Rate = "500/s".parse().unwrap();
        assert_eq!(r.per_second(), 500.0);
        assert_eq!(r.to_string(), "500/s");
        assert_eq!("30/min".parse::<Rate>().unwrap().per_second(), 0.5);
        for bad in ["500", "0/s", "x/s", "5/fortnight", "-1/s"] {
            let e = bad.parse::<Rate>().unwrap_err();
            assert!(e.contains("e.g. 500/s"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_client_never_refused_is_never_slowed() {
        let mut a = Adaptive::default();
        let now = Instant::now();
        for i in 0..10_000 {
            assert_eq!(a.acquire(now + Duration::from_micros(i)), Duration::ZERO);
        }
    }

    #[test]
    fn a_throttle_lowers_the_rate_once_per_window_and_success_climbs_back() {
        let mut a = Adaptive::default();
        let t0 = Instant::now();
        // 1,000 sends in 0.1 s: about 10,000/s.
        for i in 0..1000 {
            a.acquire(t0 + Duration::from_micros(100 * i));
        }
        let t1 = t0 + Duration::from_millis(100);
        a.refused(t1, t1);
        let after_first = a.fill_rate;
        assert!((6_000.0..8_000.0).contains(&after_first), "{after_first}");
        // 63 refusals of calls sent before the decrease: the same congestion, no new decrease.
        for _ in 0..63 {
            a.refused(
                t1 - Duration::from_micros(10),
                t1 + Duration::from_millis(1),
            );
        }
        assert_eq!(a.fill_rate, after_first);
        // A refusal of a call sent after it lowers again.
        let t2 = t1 + Duration::from_millis(2);
        a.refused(t2, t2);
        assert!(a.fill_rate < after_first * 0.75);
        let low = a.fill_rate;
        // Success climbs back, towards the rate that was last throttled and past it.
        a.passed(t2 + Duration::from_secs(60));
        assert!(a.fill_rate > low, "{} <= {low}", a.fill_rate);
    }

    #[test]
    fn a_throttled_client_waits_for_send_tokens() {
        let mut a = Adaptive::default();
        let t0 = Instant::now();
        for i in 0..100 {
            a.acquire(t0 + Duration::from_millis(i));
        }
        let t = t0 + Duration::from_millis(100);
        a.refused(t, t); // ~1000/s measured -> 700/s
        let waits: Vec<Duration> = (0..200).map(|_| a.acquire(t)).collect();
        // 200 calls at once at ~700/s: the last waits about 0.28 s.
        let last = waits.last().unwrap().as_secs_f64();
        assert!((0.2..0.4).contains(&last), "{last}");
    }

    #[test]
    fn the_budget_is_shared_and_refunded() {
        let t = Throttle::default();
        let sent = Instant::now();
        let mut retries = 0;
        while let Verdict::RetryAfter(_) = t.on_throttled(sent, None, 1) {
            retries += 1;
        }
        assert_eq!(retries, BUDGET / RETRY_COST);
        assert_eq!(t.throttled(), u64::from(retries + 1));
        // A retried call that passed pays its retry back: the next throttle may retry again.
        t.on_success(true);
        assert!(matches!(t.on_transient(1), Verdict::RetryAfter(_)));
    }

    #[test]
    fn the_server_delay_is_honoured() {
        let t = Throttle::default();
        let Verdict::RetryAfter(d) =
            t.on_throttled(Instant::now(), Some(Duration::from_secs(30)), 1)
        else {
            panic!("a throttle with budget left is retried")
        };
        assert!(
            d >= Duration::from_secs(30) && d <= Duration::from_millis(37_500),
            "{d:?}"
        );
    }
}
