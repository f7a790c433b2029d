//! The error value a failed call raises: fields `code`, `message`, `method`, and a readable
//! `tostring` (`get_robot: NOT_FOUND: robot "x" not found`).

use mlua::{MetaMethod, UserData, UserDataFields, UserDataMethods};
use tonic::Code;

#[derive(Debug, Clone)]
pub struct CallError {
    pub code: &'static str,
    pub message: String,
    pub method: String,
}

impl CallError {
    pub fn new(method: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            method: method.to_string(),
        }
    }

    pub fn from_status(method: &str, s: &tonic::Status) -> Self {
        Self::new(method, code_name(s.code()), s.message())
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.method, self.code, self.message)
    }
}

impl UserData for CallError {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("code", |_, e| Ok(e.code));
        fields.add_field_method_get("message", |_, e| Ok(e.message.clone()));
        fields.add_field_method_get("method", |_, e| Ok(e.method.clone()));
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method(MetaMethod::ToString, |_, e, ()| Ok(e.to_string()));
    }
}

/// The canonical upper-case name of a gRPC status code, as in the gRPC spec.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
        let e = CallError::from_status(
            "get_robot",
            &tonic::Status::not_found("robot \"x\" not found"),
        );
        assert_eq!(e.to_string(), "get_robot: NOT_FOUND: robot \"x\" not found");
    }
}
