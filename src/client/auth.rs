//! API key -> access token through `proto.rpc.v1.AuthService/Authenticate`, over the same
//! generic call path as every other RPC. The key and the token are never logged.

use prost_reflect::{DynamicMessage, Value};
use tonic::Status;

use crate::proto::POOL;

/// An API key; `Debug` hides the secret.
#[derive(Clone)]
pub struct ApiKey {
    pub id: String,
    pub key: String,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("key", &"****")
            .finish()
    }
}

pub const AUTH_SERVICE: &str = "proto.rpc.v1.AuthService";

/// The request message of Authenticate for this key.
pub fn request(key: &ApiKey) -> DynamicMessage {
    let desc = POOL
        .get_message_by_name("proto.rpc.v1.AuthenticateRequest")
        .expect("auth.proto is compiled in");
    let creds_desc = POOL
        .get_message_by_name("proto.rpc.v1.Credentials")
        .expect("auth.proto is compiled in");
    let mut creds = DynamicMessage::new(creds_desc);
    creds.set_field_by_name("type", Value::String("api-key".into()));
    creds.set_field_by_name("payload", Value::String(key.key.clone()));
    let mut req = DynamicMessage::new(desc);
    req.set_field_by_name("entity", Value::String(key.id.clone()));
    req.set_field_by_name("credentials", Value::Message(creds));
    req
}

/// The access token out of an AuthenticateResponse.
pub fn token(resp: &DynamicMessage) -> Result<String, Status> {
    match resp
        .get_field_by_name("access_token")
        .as_deref()
        .and_then(Value::as_str)
    {
        Some(t) if !t.is_empty() => Ok(t.to_string()),
        _ => Err(Status::unauthenticated(
            "Authenticate returned no access token",
        )),
    }
}
