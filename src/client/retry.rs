//! Which failed calls are tried again, decided from the status and what the call was: one
//! place, asked by every call path of the client (throttle.rs says how long to wait).

use tonic::{Code, Status};

pub const READ_ATTEMPTS: u32 = 3;
/// Every attempt of a call runs within what is left of the call's deadline; with less than
/// this left, a transient failure is not retried (no reply could come back in time).
pub const MIN_ATTEMPT: std::time::Duration = std::time::Duration::from_millis(10);
/// A throttled call without a retry delay from the server may be tried this often; one with a
/// delay ("retry after X") is tried until its deadline, since the server says it will take it.
pub const THROTTLED_ATTEMPTS: u32 = 10;

/// A failed attempt, and whether its request left the client at all.
#[derive(Debug)]
pub enum Failed {
    /// The connection was not ready: nothing was sent, so even a write may be tried again.
    NotSent(Status),
    Sent(Status),
}

impl Failed {
    pub fn into_status(self) -> Status {
        match self {
            Failed::NotSent(s) | Failed::Sent(s) => s,
        }
    }
}

impl From<Status> for Failed {
    fn from(s: Status) -> Self {
        Failed::Sent(s)
    }
}

/// What to do after attempt `n` (1-based) of a call failed.
#[derive(Debug, PartialEq)]
pub enum Next {
    Reauthenticate,
    /// RESOURCE_EXHAUSTED: the server refused the call without running it.
    Throttled,
    /// UNAVAILABLE or DEADLINE_EXCEEDED where repeating is safe.
    Transient,
    Fail,
}

/// An expired token is renewed once (the server refused the call, so even a write is safe to
/// repeat); a throttled call is retried, read or write, since it was not executed (without
/// end while the server gives a retry delay, `delayed`: the caller stops at the call's
/// deadline); reads are retried on UNAVAILABLE/DEADLINE_EXCEEDED up to `READ_ATTEMPTS` in
/// all, writes only when their request was never sent, since an attempt that reached the
/// server may have been applied.
pub fn after_failure(
    code: Code,
    read: bool,
    sent: bool,
    n: u32,
    can_reauth: bool,
    delayed: bool,
) -> Next {
    match code {
        Code::Unauthenticated if can_reauth => Next::Reauthenticate,
        Code::ResourceExhausted if delayed || n < THROTTLED_ATTEMPTS => Next::Throttled,
        Code::Unavailable if (read || !sent) && n < READ_ATTEMPTS => Next::Transient,
        Code::DeadlineExceeded if read && n < READ_ATTEMPTS => Next::Transient,
        _ => Next::Fail,
    }
}

/// Whether a failed attempt's connection was refused, so its request never left the client:
/// tonic's channel takes a call before it connects, and reports the refused connection as the
/// call's error.
pub fn connection_refused(s: &Status) -> bool {
    let mut source = std::error::Error::source(s);
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// The retry delay the server put in the status (google.rpc.RetryInfo), if any.
pub fn server_delay(s: &Status) -> Option<std::time::Duration> {
    use tonic_types::StatusExt;
    s.get_details_retry_info().and_then(|r| r.retry_delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Code::*;

    #[test]
    fn reads_are_retried_on_transient_failures() {
        let retry = |c, n| after_failure(c, true, true, n, false, false) == Next::Transient;
        assert!(retry(Unavailable, 1) && retry(Unavailable, 2));
        assert!(retry(DeadlineExceeded, 1));
        assert_eq!(
            after_failure(Unavailable, true, true, 3, false, false),
            Next::Fail,
            "3 attempts in all"
        );
        assert_eq!(
            after_failure(NotFound, true, true, 1, false, false),
            Next::Fail
        );
    }

    #[test]
    fn writes_are_retried_only_when_not_executed() {
        assert_eq!(
            after_failure(Unavailable, false, true, 1, false, false),
            Next::Fail
        );
        assert_eq!(
            after_failure(DeadlineExceeded, false, true, 1, false, false),
            Next::Fail
        );
        assert_eq!(
            after_failure(Unavailable, false, false, 1, false, false),
            Next::Transient
        );
        assert_eq!(
            after_failure(ResourceExhausted, false, true, 1, false, false),
            Next::Throttled
        );
        assert_eq!(
            after_failure(ResourceExhausted, true, true, 9, false, false),
            Next::Throttled
        );
        assert_eq!(
            after_failure(ResourceExhausted, true, true, 10, false, false),
            Next::Fail,
            "without a server delay, 10 attempts"
        );
        assert_eq!(
            after_failure(ResourceExhausted, false, true, 1_000, false, true),
            Next::Throttled,
            "with one, until the deadline"
        );
    }

    #[test]
    fn an_expired_token_is_renewed_once() {
        assert_eq!(
            after_failure(Unauthenticated, false, true, 1, true, false),
            Next::Reauthenticate
        );
        assert_eq!(
            after_failure(Unauthenticated, true, true, 1, false, false),
            Next::Fail,
            "only once"
        );
    }

    #[test]
    fn a_refused_connection_means_nothing_was_sent() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(connection_refused(&Status::from_error(Box::new(refused))));
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(!connection_refused(&Status::from_error(Box::new(reset))));
        assert!(!connection_refused(&Status::unavailable("down")));
    }

    #[test]
    fn the_server_delay_is_read_from_the_status() {
        use tonic_types::{ErrorDetails, StatusExt};
        let d = std::time::Duration::from_millis(250);
        let s = Status::with_error_details(
            ResourceExhausted,
            "slow down",
            ErrorDetails::with_retry_info(Some(d)),
        );
        assert_eq!(server_delay(&s), Some(d));
        assert_eq!(
            server_delay(&Status::resource_exhausted("no details")),
            None
        );
    }
}
