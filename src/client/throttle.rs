//! How one client behaves against a server that rate-limits: every call of the client (all
//! in-flight calls of a `cloud.parallel` included) shares one retry budget and one adaptive
//! send rate, so a throttled script slows down instead of hammering.
//!
//! The model is the AWS SDKs' retry modes: "standard" (a token bucket of retries: a retry costs
//! tokens, a success pays some back, an empty bucket fails fast) and "adaptive" (after the first
//! throttle, a client-side send rate that drops multiplicatively on a throttle and climbs back
//! along a cubic curve, as TCP CUBIC does; callers wait for a send token instead of failing).
//! A throttle does not spend the retry budget (as in the Java SDK v2, where throttling
//! exceptions take no retry tokens): the server refused the call without running it and said
//! when to come back, and the send rate is what answers it; the budget is for failures that
//! say nothing about load (UNAVAILABLE...). A throttled call is bounded by its deadline instead.
//!
//! One change from AWS: a throttle only lowers the rate if its call was paced by the current
//! rate (its send token was taken after the last decrease). The refusals of calls paced by an
//! older, higher rate (the burst 64 in-flight calls bring back, the ones already queued for a
//! token) answer a congestion that was already answered; counting each of them would cut the
//! rate again and again, down to the floor, while the server is already being sent less.
//!
//! Two more, from what the server says when it refuses (google.rpc.RetryInfo, "retry after
//! d"): no call of the client is sent before the server said it takes calls again, not only the
//! refused one; and the server that takes its next call in `d` takes about one per `d`, so
//! the rate after a refusal is at most `BETA / d`. Without it, the first decrease starts from
//! the measured send rate of the first burst (thousands per second when 64 calls leave at
//! once), and each wave of refusals cuts only 30% of it: against 40/s, a dozen waves of ~20
//! refusals each before the rate comes down.
//!
//! `--max-rate` is a hard ceiling on top, kept by governor.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    /// Calls the server refused as throttled.
    throttled: AtomicU64,
    /// `Adaptive::generation`, readable without the lock (`cloud.parallel` asks per item).
    decreases: AtomicU64,
    /// Calls waiting for a send token take them in turn, the first one sleeping until its
    /// token is due at the rate of that moment: a rate lowered (or a server delay) while they
    /// wait holds them all, a rate raised speeds them all up. (Tokens reserved at once, each
    /// call sleeping its own computed wait, would keep the rate of the moment each queued.)
    turn: tokio::sync::Mutex<()>,
    queued: AtomicUsize,
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
    /// Rate decreases so far; a ticket taken before the last one was paced by an older rate.
    generation: u64,
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
            generation: 0,
        }
    }
}

/// A call's permission to be sent, and which send rate paced it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ticket {
    /// Rate decreases before the token was taken.
    generation: u64,
}

/// A call could not be sent before its deadline at the current send rate.
#[derive(Debug, PartialEq)]
pub struct TooSlow {
    /// The send rate that paced it, in calls per second.
    pub rate: f64,
}

/// What a call that failed transiently should do next.
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

    /// Rate decreases so far: `cloud.parallel` halves its concurrency once per decrease.
    pub fn decreases(&self) -> u64 {
        self.decreases.load(Ordering::Relaxed)
    }

    /// Waits until the call may be sent, or fails as soon as its send token would only come
    /// after `deadline` (the call could not be sent in time at this rate).
    pub async fn before_send(&self, deadline: Instant) -> Result<Ticket, TooSlow> {
        if let Some(limit) = &self.ceiling {
            limit.until_ready().await;
        }
        if self.queued.load(Ordering::Acquire) == 0
            && let Ok(ticket) = self.state().try_take(Instant::now())
        {
            return Ok(ticket);
        }
        let ahead = self.queued.fetch_add(1, Ordering::AcqRel);
        let _queued = Queued(&self.queued);
        self.state().due(Instant::now(), ahead, deadline)?;
        let _turn = self.turn.lock().await;
        loop {
            let now = Instant::now();
            let wait = match self.state().try_take(now) {
                Ok(ticket) => return Ok(ticket),
                Err(wait) => wait,
            };
            self.state().due(now, 0, deadline)?;
            tokio::time::sleep(wait).await;
        }
    }

    /// A call passed; `spent` says whether it spent retry budget (a transient retry).
    pub fn on_success(&self, spent: bool) {
        let mut s = self.state();
        let refund = if spent { RETRY_COST } else { SUCCESS_REFUND };
        s.budget = (s.budget + refund).min(BUDGET);
        s.passed(Instant::now());
    }

    /// The server refused the call of `ticket` as throttled (RESOURCE_EXHAUSTED), asking to
    /// wait `server_delay` if it said so; attempt `n` (1-based) failed. Returns how long to
    /// wait before its next attempt (which takes a send token again). No budget is spent:
    /// the caller bounds a throttled call by its deadline.
    pub fn on_throttled(&self, ticket: Ticket, server_delay: Option<Duration>, n: u32) -> Duration {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        let mut s = self.state();
        s.refused(ticket, Instant::now(), server_delay);
        self.decreases.store(s.generation, Ordering::Relaxed);
        drop(s);
        // The server knows when it will take the call again; a little jitter keeps the
        // refused calls from all coming back in the same instant.
        match server_delay {
            Some(d) => d.mul_f64(1.0 + rand::random_range(0.0..0.25)),
            None => backoff(n),
        }
    }

    /// A call failed in a way worth retrying that is not a throttle (UNAVAILABLE...).
    pub fn on_transient(&self, n: u32) -> Verdict {
        let mut s = self.state();
        if s.budget < RETRY_COST {
            return Verdict::BudgetSpent;
        }
        s.budget -= RETRY_COST;
        Verdict::RetryAfter(backoff(n))
    }
}

/// One call counted in `Throttle::queued` until it leaves (sent, failed or dropped).
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Jittered exponential backoff: ~100 ms, ~200 ms, ... up to ~6.4 s.
pub fn backoff(attempt: u32) -> Duration {
    let base = 100u64 << attempt.min(6);
    Duration::from_millis(base / 2 + rand::random_range(0..=base))
}

impl Adaptive {
    /// Takes a send token if one is there (always, while not enabled), or says how long
    /// until the next one comes at the current rate.
    fn try_take(&mut self, now: Instant) -> Result<Ticket, Duration> {
        let ticket = Ticket {
            generation: self.generation,
        };
        if self.enabled {
            self.refill(now);
            if self.tokens < 1.0 {
                return Err(Duration::from_secs_f64(
                    (1.0 - self.tokens) / self.fill_rate,
                ));
            }
            self.tokens -= 1.0;
        }
        self.count_send(now);
        Ok(ticket)
    }

    /// `TooSlow` if a call with `ahead` calls waiting before it would get its token only
    /// after `deadline` at the current rate.
    fn due(&mut self, now: Instant, ahead: usize, deadline: Instant) -> Result<(), TooSlow> {
        if !self.enabled {
            return Ok(());
        }
        self.refill(now);
        let missing = ahead as f64 + 1.0 - self.tokens;
        if missing > 0.0 && now + Duration::from_secs_f64(missing / self.fill_rate) > deadline {
            return Err(TooSlow {
                rate: self.fill_rate,
            });
        }
        Ok(())
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

    /// The server refused the call of `ticket`, saying it takes calls again after
    /// `server_delay` if it said so.
    fn refused(&mut self, ticket: Ticket, now: Instant, server_delay: Option<Duration>) {
        let server_delay = server_delay.filter(|d| !d.is_zero());
        if ticket.generation == self.generation {
            let measured = self.measured_rate(now);
            let sent = if self.enabled {
                self.fill_rate.min(measured)
            } else {
                measured
            };
            // The rate the server asked for is taken as it is; a rate only measured is cut,
            // as the congestion it met is not known. Either way the cubic climbs back from
            // it, past it, to find the limit.
            let rate = match server_delay.map(|d| 1.0 / d.as_secs_f64()) {
                Some(asked) if asked < sent * BETA => asked,
                _ => sent * BETA,
            };
            self.last_max = rate / BETA;
            self.last_decrease = Some(now);
            self.generation += 1;
            self.enabled = true;
            self.set_rate(now, rate);
        }
        // Otherwise paced by an older rate: the last decrease already answered this
        // congestion. What the server said about when it takes calls holds either way.
        if let Some(d) = server_delay {
            self.hold_until(now, now + d);
        }
    }

    /// No send token before `until`: the next one comes then, the ones after at the rate.
    fn hold_until(&mut self, now: Instant, until: Instant) {
        if !self.enabled {
            return;
        }
        self.refill(now);
        let wait = until.saturating_duration_since(now).as_secs_f64();
        self.tokens = self.tokens.min(1.0 - wait * self.fill_rate);
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
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    /// A send token, waiting for it as the first of the queue does: the ticket and when.
    fn take(a: &mut Adaptive, mut now: Instant) -> (Ticket, Instant) {
        loop {
            match a.try_take(now) {
                Ok(ticket) => return (ticket, now),
                // At least a nanosecond: the clock must move for the refill.
                Err(wait) => now += wait.max(Duration::from_nanos(1)),
            }
        }
    }

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
            assert!(a.try_take(now + Duration::from_micros(i)).is_ok());
        }
    }

    #[test]
    fn a_throttle_lowers_the_rate_once_per_window_and_success_climbs_back() {
        let mut a = Adaptive::default();
        let t0 = Instant::now();
        // 1,000 sends in 0.1 s: about 10,000/s; 64 of them still in flight.
        let mut in_flight = Vec::new();
        for i in 0..1000 {
            let (ticket, _) = take(&mut a, t0 + Duration::from_micros(100 * i));
            in_flight.push(ticket);
        }
        let t1 = t0 + Duration::from_millis(100);
        a.refused(in_flight.pop().unwrap(), t1, None);
        let after_first = a.fill_rate;
        assert!((6_000.0..8_000.0).contains(&after_first), "{after_first}");
        // 63 refusals of calls paced before the decrease: the same congestion, no new decrease.
        for ticket in in_flight.drain(in_flight.len() - 63..) {
            a.refused(ticket, t1 + Duration::from_millis(1), None);
        }
        assert_eq!(a.fill_rate, after_first);
        // A refusal of a call paced after it lowers again.
        let t2 = t1 + Duration::from_millis(2);
        let (ticket, t2) = take(&mut a, t2);
        a.refused(ticket, t2, None);
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
        let mut last = None;
        for i in 0..100 {
            last = Some(take(&mut a, t0 + Duration::from_millis(i)).0);
        }
        let t = t0 + Duration::from_millis(100);
        a.refused(last.unwrap(), t, None); // ~1000/s measured -> 700/s
        // 200 calls at once at ~700/s, taking their tokens in turn: the last one's comes
        // about 0.28 s later.
        let mut at = t;
        for _ in 0..200 {
            at = take(&mut a, at).1;
        }
        let last = (at - t).as_secs_f64();
        assert!((0.2..0.4).contains(&last), "{last}");
        // A call whose token would come after its deadline is not queued: it fails at once,
        // taking nothing from the calls behind it.
        let before = a.tokens;
        let e = a.due(at, 99, at + Duration::from_millis(100)).unwrap_err();
        assert!((600.0..800.0).contains(&e.rate), "{e:?}");
        assert_eq!(a.tokens, before);
        assert!(a.due(at, 10, at + Duration::from_millis(100)).is_ok());
    }

    #[test]
    fn the_server_delay_holds_every_call_and_bounds_the_rate() {
        let mut a = Adaptive::default();
        let t0 = Instant::now();
        let mut tickets = Vec::new();
        for i in 0..64 {
            tickets.push(take(&mut a, t0 + Duration::from_micros(10 * i)).0);
        }
        // 64 calls in under a millisecond; the server says its next call is in 25 ms: it
        // takes about 40/s, not the thousands per second measured.
        let t = t0 + Duration::from_millis(1);
        a.refused(tickets.pop().unwrap(), t, Some(Duration::from_millis(25)));
        assert!((39.0..41.0).contains(&a.fill_rate), "{}", a.fill_rate);
        // A refusal of an older call says the server is busy for 40 ms more: no decrease,
        // but no call of this client goes before then, and the ones after are paced.
        a.refused(tickets.pop().unwrap(), t, Some(Duration::from_millis(40)));
        assert!((39.0..41.0).contains(&a.fill_rate), "{}", a.fill_rate);
        let (_, first) = take(&mut a, t);
        let (ticket, second) = take(&mut a, first);
        let (first, second) = ((first - t).as_secs_f64(), (second - t).as_secs_f64());
        assert!((0.039..0.041).contains(&first), "{first}");
        assert!(
            (second - first - 1.0 / a.fill_rate).abs() < 0.001,
            "{first} then {second}"
        );
        // A rate lowered while calls wait paces the next of them at once.
        let t = t + Duration::from_secs_f64(second);
        a.refused(ticket, t, None);
        assert!(a.fill_rate < 30.0, "{}", a.fill_rate);
        let next = (take(&mut a, t).1 - t).as_secs_f64();
        assert!((next - 1.0 / a.fill_rate).abs() < 0.001, "{next}");
    }

    #[test]
    fn transient_retries_share_a_budget_that_successes_refund() {
        let t = Throttle::default();
        let mut retries = 0;
        while let Verdict::RetryAfter(_) = t.on_transient(1) {
            retries += 1;
        }
        assert_eq!(retries, BUDGET / RETRY_COST);
        // A retried call that passed pays its retry back: the next failure may retry again.
        t.on_success(true);
        assert!(matches!(t.on_transient(1), Verdict::RetryAfter(_)));
    }

    #[test]
    fn throttles_do_not_spend_the_budget() {
        let t = Throttle::default();
        let ticket = Ticket { generation: 0 };
        for _ in 0..10_000 {
            t.on_throttled(ticket, Some(Duration::from_millis(2)), 1);
        }
        assert_eq!(t.throttled(), 10_000);
        assert!(
            matches!(t.on_transient(1), Verdict::RetryAfter(_)),
            "the budget is whole after 10,000 refusals"
        );
        assert_eq!(t.decreases(), 1, "one congestion, one decrease");
    }

    #[test]
    fn the_server_delay_is_honoured() {
        let t = Throttle::default();
        let d = t.on_throttled(Ticket { generation: 0 }, Some(Duration::from_secs(30)), 1);
        assert!(
            d >= Duration::from_secs(30) && d <= Duration::from_millis(37_500),
            "{d:?}"
        );
    }

    struct Sim {
        took: f64,
        lowest: f64,
        refusals: u32,
    }

    /// 64 callers, each sending its next call as soon as the last one is answered (and a
    /// refused one after the server's delay), against a server that admits `limit` calls per
    /// second with a burst of one second's calls, as `fleetsh serve --rate-limit` does (and
    /// says when it takes the next call): the virtual time `calls` took, the lowest send rate
    /// the client fell to, and the refusals on the way.
    fn simulate(limit: f64, calls: u32) -> Sim {
        #[derive(PartialEq, Eq, PartialOrd, Ord)]
        enum Event {
            Acquire,
            /// The first of the callers waiting for a token looks again.
            Wake,
            Send(u64),
            Reply {
                generation: u64,
                admitted: bool,
                delay_nanos: u64,
            },
        }
        const CALLERS: usize = 64;
        const LATENCY_NANOS: u64 = 300_000;
        let t0 = Instant::now();
        let at = |nanos: u64| t0 + Duration::from_nanos(nanos);
        let mut a = Adaptive::default();
        let (mut server_tokens, mut server_at) = (limit, 0u64);
        let mut queue = BinaryHeap::new();
        let mut waiting = std::collections::VecDeque::new();
        for caller in 0..CALLERS {
            queue.push(Reverse((caller as u64 * 1_000, caller, Event::Acquire)));
        }
        let (mut started, mut done, mut lowest, mut refusals) = (CALLERS as u32, 0, f64::MAX, 0);
        while let Some(Reverse((now, caller, event))) = queue.pop() {
            match event {
                // As `Throttle::before_send`: a token at once if nobody waits, else in turn.
                Event::Acquire => {
                    waiting.push_back(caller);
                    if waiting.len() == 1 {
                        queue.push(Reverse((now, usize::MAX, Event::Wake)));
                    }
                }
                Event::Wake => match a.try_take(at(now)) {
                    Ok(ticket) => {
                        let first = waiting.pop_front().expect("a wake has a caller");
                        queue.push(Reverse((now, first, Event::Send(ticket.generation))));
                        if !waiting.is_empty() {
                            queue.push(Reverse((now, usize::MAX, Event::Wake)));
                        }
                    }
                    Err(wait) => {
                        // At least a nanosecond: the virtual clock must move for the refill.
                        let due = now + (wait.as_nanos() as u64).max(1);
                        queue.push(Reverse((due, usize::MAX, Event::Wake)));
                    }
                },
                Event::Send(generation) => {
                    server_tokens =
                        (server_tokens + (now - server_at) as f64 / 1e9 * limit).min(limit);
                    server_at = now;
                    let admitted = server_tokens >= 1.0;
                    let delay_nanos = if admitted {
                        server_tokens -= 1.0;
                        0
                    } else {
                        ((1.0 - server_tokens) / limit * 1e9 * 1.1) as u64
                    };
                    let reply = Event::Reply {
                        generation,
                        admitted,
                        delay_nanos,
                    };
                    queue.push(Reverse((now + LATENCY_NANOS, caller, reply)));
                }
                Event::Reply {
                    generation,
                    admitted: true,
                    ..
                } => {
                    let _ = generation;
                    a.passed(at(now));
                    done += 1;
                    if done == calls {
                        return Sim {
                            took: (now as f64) / 1e9,
                            lowest,
                            refusals,
                        };
                    }
                    if started < calls {
                        started += 1;
                        queue.push(Reverse((now, caller, Event::Acquire)));
                    }
                }
                Event::Reply {
                    generation,
                    admitted: false,
                    delay_nanos,
                } => {
                    refusals += 1;
                    if std::env::var("SIMDBG").is_ok() {
                        eprintln!(
                            "refused t={:.3} gen={generation} cur={} rate={:.1}",
                            now as f64 / 1e9,
                            a.generation,
                            a.fill_rate
                        );
                    }
                    a.refused(
                        Ticket { generation },
                        at(now),
                        Some(Duration::from_nanos(delay_nanos)),
                    );
                    lowest = lowest.min(a.fill_rate);
                    // The client's jitter, fixed: 1/8 of the delay more.
                    let retry = delay_nanos + delay_nanos / 8;
                    queue.push(Reverse((now + retry, caller, Event::Acquire)));
                }
            }
        }
        unreachable!("every call is answered")
    }

    #[test]
    fn a_fan_out_against_a_rate_limit_runs_at_the_limit() {
        // The bench row: 10,000 calls, 64 in flight, 500/s, the first second's burst free.
        let Sim { took, lowest, .. } = simulate(500.0, 10_000);
        assert!((18.0..22.0).contains(&took), "took {took:.1} s");
        // Refusals of calls paced by an older rate must not cut the rate again and again.
        assert!(lowest > 250.0, "the send rate fell to {lowest:.1}/s");
    }

    #[test]
    fn a_fan_out_against_a_low_limit_is_refused_a_few_times_not_once_per_call() {
        // tests/it/rate_limit.rs: 200 calls, 64 in flight, 40/s. Each refused wave that only
        // cuts the rate by 30% from the measured send rate takes a dozen waves of ~20
        // refusals to come down to 40/s from the thousands per second of the first burst.
        let Sim { took, refusals, .. } = simulate(40.0, 200);
        eprintln!("40/s: took {took:.2} s, {refusals} refusals");
        assert!(refusals < 100, "{refusals} refusals for 200 calls");
        // The first second's 40, then 160 at about the limit.
        assert!((4.0..7.0).contains(&took), "took {took:.1} s");
        // A limit of 5/s, 60 calls: paced near the limit, not far below it.
        let Sim { took, refusals, .. } = simulate(5.0, 60);
        eprintln!("5/s: took {took:.2} s, {refusals} refusals");
        assert!((10.0..16.0).contains(&took), "took {took:.1} s");
    }
}
