//! API key -> access token through `proto.rpc.v1.AuthService/Authenticate`, over the same
//! generic call path as every other RPC. The key and the token are never logged.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost_reflect::{DynamicMessage, MessageDescriptor, Value};
use tonic::Status;

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

/// The request message of Authenticate for this key; `desc` is the method's own request type
/// (from its own small pool: building the whole pool for a key exchange cost ~18 M instructions).
pub fn request(key: &ApiKey, desc: MessageDescriptor) -> DynamicMessage {
    let creds_desc = desc
        .get_field_by_name("credentials")
        .and_then(|f| f.kind().as_message().cloned())
        .expect("AuthenticateRequest has its credentials");
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

/// When to renew `token` before it expires: a tenth of its lifetime (at most a minute) before its
/// `exp` claim. Tokens are JWTs on the real cloud and on the local fleet; the claims are only
/// read, not verified (that is the server's job). None for a token that is not a JWT: then only
/// the server's refusal renews it.
pub fn renew_at(token: &str) -> Option<SystemTime> {
    #[derive(serde::Deserialize)]
    struct Times {
        exp: u64,
        iat: Option<u64>,
    }
    let t: Times = jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
    let lifetime = t.iat.map_or(600, |iat| t.exp.saturating_sub(iat));
    let margin = (lifetime / 10).clamp(1, 60);
    Some(UNIX_EPOCH + Duration::from_secs(t.exp.saturating_sub(margin)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwts_are_renewed_a_tenth_of_their_lifetime_early_and_opaque_tokens_never() {
        let store = crate::server::store::Store::open_in_memory().unwrap();
        let tokens =
            crate::server::auth::Tokens::load_or_create(&store, Duration::from_secs(100)).unwrap();
        let token = tokens.issue("key-id", "api-key").unwrap();
        let at = renew_at(&token).unwrap();
        let left = at.duration_since(SystemTime::now()).unwrap().as_secs();
        assert!((88..=90).contains(&left), "renew in {left} s");
        assert_eq!(renew_at("opaque-token"), None);
    }
}
