//! What a failed connection means, for people. tonic nests the same text at every level of its
//! error chain (`transport error: X: X`); this says once what failed and what to try.

use std::error::Error;
use std::io::ErrorKind;

/// Connecting or authenticating failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Nothing usable answered at the URL; the text names the cause and what to try.
    #[error("{0}")]
    Unreachable(String),
    /// The server answered and refused the key.
    #[error("cannot authenticate to {url}: the server refused key id {key_id}{reason}")]
    KeyRefused {
        url: String,
        key_id: String,
        /// The server's reason (`: ...`), or empty when it only repeats the key id.
        reason: String,
    },
}

/// `HOST:PORT` of a URL, for messages.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// The innermost cause's text (the outer layers only name their kind) and the first I/O error
/// kind on the way there.
fn cause(err: &(dyn Error + 'static)) -> (String, Option<ErrorKind>) {
    let mut text = String::new();
    let mut kind = None;
    let mut cur = Some(err);
    while let Some(e) = cur {
        let t = match e.downcast_ref::<tonic::Status>() {
            Some(s) => s.message().to_string(),
            None => e.to_string(),
        };
        if !t.is_empty() {
            text = t;
        }
        // h2 keeps an I/O error inside its own and names no source: look in both.
        let io = e
            .downcast_ref::<std::io::Error>()
            .or_else(|| e.downcast_ref::<h2::Error>().and_then(h2::Error::get_io));
        if kind.is_none()
            && let Some(io) = io
        {
            kind = Some(io.kind());
        }
        cur = e.source();
    }
    (text, kind)
}

/// The connection ended, or h2 refused the peer's bytes as HTTP/2 frames, before any answer:
/// what a plaintext connection shows when the server speaks TLS (a reset, or its alert record
/// read as an oversized frame) or HTTP/1. Which one shows depends on timing; when the
/// connection dies before the request was even taken, hyper only says it was cancelled.
fn ended_without_http2(err: &(dyn Error + 'static), kind: Option<ErrorKind>) -> bool {
    if matches!(
        kind,
        Some(ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof)
    ) {
        return true;
    }
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2.is_library()
                && matches!(
                    h2.reason(),
                    Some(h2::Reason::FRAME_SIZE_ERROR | h2::Reason::PROTOCOL_ERROR)
                );
        }
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_canceled)
        {
            return true;
        }
        cur = e.source();
    }
    false
}

/// `cannot connect to URL: CAUSE; WHAT TO TRY`.
pub fn unreachable(url: &str, err: &(dyn Error + 'static)) -> ConnectError {
    let (cause, kind) = cause(err);
    let host = authority(url);
    let plaintext = url.starts_with("http://");
    let hint = if kind == Some(ErrorKind::ConnectionRefused) {
        format!(
            "nothing listens at {host}; start the local fleet there with `fleetsh serve`, or check the URL"
        )
    } else if cause.contains("InvalidContentType") {
        format!(
            "the server does not speak TLS; for a plaintext server (such as `fleetsh serve` without --tls-cert) use http://{host}"
        )
    } else if cause.contains("certificate") {
        "the server's certificate is not trusted; if your own CA signed it, point SSL_CERT_FILE at the CA's PEM file".to_string()
    } else if cause.contains("lookup address") || cause.contains("dns error") {
        "the host name does not resolve; check the URL".to_string()
    } else if kind == Some(ErrorKind::TimedOut) || cause.contains("timed out") {
        format!("no answer from {host}; check the URL and the network")
    } else if plaintext && ended_without_http2(err, kind) {
        format!(
            "the server ended the connection without an HTTP/2 answer; if it serves TLS, use https://{host}"
        )
    } else if plaintext {
        // How a plaintext connection to a TLS server fails depends on timing and on which
        // layer notices first; the hint must not hang on telling them apart.
        format!("check the URL and that the server is up; if it serves TLS, use https://{host}")
    } else {
        "check the URL and that the server is up".to_string()
    };
    ConnectError::Unreachable(format!("cannot connect to {url}: {cause}; {hint}"))
}

/// The server's reason for refusing `key_id` (` (...)`), or empty when it only repeats that
/// the key was refused; None when `status` is no refusal of the key.
fn refusal_reason(key_id: &str, status: &tonic::Status) -> Option<String> {
    use tonic::Code;
    match status.code() {
        Code::PermissionDenied | Code::Unauthenticated if status.source().is_none() => {
            let m = status.message();
            // Viam's "invalid credentials" only repeats that the key was refused.
            Some(
                if m.is_empty() || m.contains(key_id) || m == "invalid credentials" {
                    String::new()
                } else {
                    format!(" ({m})")
                },
            )
        }
        _ => None,
    }
}

/// The Authenticate call failed: a refusal of the key, or a connection that does not work.
pub fn authentication(url: &str, key_id: &str, status: &tonic::Status) -> ConnectError {
    match refusal_reason(key_id, status) {
        Some(reason) => ConnectError::KeyRefused {
            url: url.to_string(),
            key_id: key_id.to_string(),
            reason,
        },
        None => unreachable(url, status),
    }
}

/// Authenticating again mid-run (the token expired, or the server stopped taking it) failed:
/// a refusal of the key says which key, where it came from and what to do (`remedy`, as at
/// connect), with the status's code kept; any other failure is returned as it is.
pub fn refused_again(key_id: &str, status: tonic::Status, remedy: Option<&str>) -> tonic::Status {
    let Some(reason) = refusal_reason(key_id, &status) else {
        return status;
    };
    let remedy = remedy.map_or_else(
        || "; check that the key still exists and was not rotated".to_string(),
        |r| format!(" {r}"),
    );
    tonic::Status::new(
        status.code(),
        format!("authenticating again, the server refused key id {key_id}{reason}{remedy}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_innermost_cause_is_said_once_with_a_hint() {
        let io = std::io::Error::new(ErrorKind::ConnectionRefused, "Connection refused");
        let status = tonic::Status::from_error(Box::new(io));
        let m = unreachable("http://127.0.0.1:9", &status).to_string();
        assert_eq!(m.matches("Connection refused").count(), 1, "{m}");
        assert!(
            m.contains("nothing listens at 127.0.0.1:9") && m.contains("fleetsh serve"),
            "{m}"
        );

        // What Viam's cloud and the local fleet answer.
        let refused = tonic::Status::unauthenticated("invalid credentials");
        let m = authentication("http://h:1", "k1", &refused).to_string();
        assert_eq!(
            m,
            "cannot authenticate to http://h:1: the server refused key id k1"
        );
        let refused = tonic::Status::permission_denied("invalid credentials for entity \"k1\"");
        let m = authentication("http://h:1", "k1", &refused).to_string();
        assert!(m.ends_with("refused key id k1"), "{m}");
        let refused = tonic::Status::unauthenticated("key expired");
        let m = authentication("http://h:1", "k1", &refused).to_string();
        assert!(m.ends_with("key id k1 (key expired)"), "{m}");
    }

    #[test]
    fn a_plaintext_failure_of_no_known_kind_still_names_https() {
        let status = tonic::Status::unknown("transport error");
        let m = unreachable("http://127.0.0.1:9", &status).to_string();
        assert!(
            m.contains("that the server is up; if it serves TLS, use https://127.0.0.1:9"),
            "{m}"
        );
        let m = unreachable("https://h:1", &status).to_string();
        assert!(
            m.ends_with("check the URL and that the server is up"),
            "{m}"
        );
    }

    /// A server that takes one byte of the client's HTTP/2 preface and closes: the unread rest
    /// makes the kernel reset the connection, as a TLS server does to a plaintext client.
    #[tokio::test]
    async fn a_server_resetting_a_plaintext_connection_gets_the_https_hint() {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Detached: it serves the connection and a retry's, if any, then waits on accept.
        std::thread::spawn(move || {
            for _ in 0..2 {
                let (mut conn, _) = listener.accept().unwrap();
                let mut first = [0u8; 1];
                conn.read_exact(&mut first).unwrap();
                // Let the rest of the preface arrive so that closing resets.
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        });
        let url = format!("http://127.0.0.1:{port}");
        let key = crate::client::ApiKey {
            id: "k1".into(),
            key: "secret".into(),
        };
        let timeout = std::time::Duration::from_secs(5);
        let err = crate::client::connect(&url, Some(key), timeout)
            .await
            .err()
            .expect("a server that resets cannot be connected to");
        let m = err.to_string();
        assert!(m.contains(&format!("use https://127.0.0.1:{port}")), "{m}");
    }
}
