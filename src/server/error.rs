//! The one place where failures become gRPC statuses. Handlers and the store return
//! `ApiError`; a database failure is logged here and reaches the client as INTERNAL with no
//! detail, while every user error keeps its message (which names the field or the id).

use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    ResourceExhausted(String),
    #[error("storage: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("{0}")]
    Internal(String),
    /// Sent without a message: `call::NamedUnimplemented` names the method from the path.
    #[error("")]
    Unimplemented,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The value of a required string field, trimmed; INVALID_ARGUMENT naming the field when empty.
pub fn required<'a>(field: &str, v: &'a str) -> ApiResult<&'a str> {
    let v = v.trim();
    if v.is_empty() {
        Err(ApiError::invalid(field, "required"))
    } else {
        Ok(v)
    }
}

impl ApiError {
    pub fn invalid(field: &str, why: impl std::fmt::Display) -> Self {
        Self::InvalidArgument(format!("{field}: {why}"))
    }

    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::NotFound(format!("{kind} {id:?} not found"))
    }

    pub fn denied(what: impl std::fmt::Display) -> Self {
        Self::PermissionDenied(format!("permission denied: {what}"))
    }

    pub fn code(&self) -> Code {
        match self {
            Self::InvalidArgument(_) => Code::InvalidArgument,
            Self::NotFound(_) => Code::NotFound,
            Self::AlreadyExists(_) => Code::AlreadyExists,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::ResourceExhausted(_) => Code::ResourceExhausted,
            Self::Storage(e) if is_busy(e) => Code::Unavailable,
            Self::Storage(_) | Self::Internal(_) => Code::Internal,
            Self::Unimplemented => Code::Unimplemented,
        }
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Self {
        match &e {
            ApiError::Storage(db) if is_busy(db) => {
                tracing::warn!(error = %e, "database busy");
                Status::unavailable(
                    "the local fleet's database stayed locked (another process holds it); retry",
                )
            }
            ApiError::Storage(_) | ApiError::Internal(_) => {
                tracing::error!(error = %e, "internal error");
                Status::internal("internal error in the local fleet; see the server log")
            }
            _ => Status::new(e.code(), capped(e.to_string())),
        }
    }
}

/// SQLite gave up waiting for a lock (busy_timeout): transient, so UNAVAILABLE, which clients
/// retry for reads, rather than INTERNAL.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Longest status message sent: it travels in an HTTP/2 trailer, and a client refuses a
/// trailer block larger than its header list limit (16 KiB by default), which would turn a
/// clear error into a protocol error.
pub const MAX_MESSAGE_CHARS: usize = 2048;

fn capped(mut msg: String) -> String {
    if let Some((cut, _)) = msg.char_indices().nth(MAX_MESSAGE_CHARS) {
        msg.truncate(cut);
        msg.push_str("...");
    }
    msg
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        Self::Internal(format!("i/o: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_errors_keep_their_message_and_storage_errors_hide_theirs() {
        let s: Status = ApiError::not_found("robot", "x").into();
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(s.message(), "robot \"x\" not found");
        let s: Status = ApiError::Storage(rusqlite::Error::InvalidQuery).into();
        assert_eq!(s.code(), Code::Internal);
        assert!(!s.message().contains("Query"));
    }

    #[test]
    fn a_database_that_stays_locked_is_unavailable_not_internal() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        let s: Status = ApiError::Storage(busy).into();
        assert_eq!(s.code(), Code::Unavailable);
        assert!(s.message().contains("retry"));
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let s: Status = ApiError::not_found("robot", &"é".repeat(5000)).into();
        assert!(s.message().starts_with("robot \"éé"));
        assert_eq!(s.message().chars().count(), MAX_MESSAGE_CHARS + 3);
    }
}
