//! `fleetsh serve --rate-limit N/s`: each principal (an API key, a part) may make N calls per
//! second; a call over its rate is refused as the real cloud refuses it, RESOURCE_EXHAUSTED,
//! with a google.rpc.RetryInfo saying when to come back, and before any handler runs, so a
//! refused call changed nothing. Off by default.

use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt};

use crate::client::throttle::Rate;

pub struct RateLimit {
    rate: Rate,
    limiter: DefaultKeyedRateLimiter<String>,
    refused: AtomicU64,
}

impl RateLimit {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            limiter: RateLimiter::keyed(rate.quota()),
            refused: AtomicU64::new(0),
        }
    }

    /// Admits one call of `principal`, or the status that refuses it.
    pub fn admit(&self, principal: &str) -> Result<(), Status> {
        let Err(not_until) = self.limiter.check_key(&principal.to_string()) else {
            return Ok(());
        };
        self.refused.fetch_add(1, Ordering::Relaxed);
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        Err(Status::with_error_details(
            tonic::Code::ResourceExhausted,
            format!(
                "rate limit of {} calls for this principal exceeded (fleetsh serve --rate-limit); retry after {} ms",
                self.rate,
                wait.as_millis().max(1)
            ),
            ErrorDetails::with_retry_info(Some(wait)),
        ))
    }

    /// Calls refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_principal_has_its_own_rate() {
        let limit = RateLimit::new("3/s".parse().unwrap());
        for _ in 0..3 {
            limit.admit("key-a").unwrap();
        }
        let refused = limit.admit("key-a").unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(refused.message().contains("3/s"), "{}", refused.message());
        let delay = refused.get_details_retry_info().and_then(|r| r.retry_delay);
        assert!(delay.is_some_and(|d| d.as_millis() <= 334), "{delay:?}");
        limit.admit("key-b").unwrap();
        assert_eq!(limit.refused(), 1);
    }
}
