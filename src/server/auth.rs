//! Authentication: `proto.rpc.v1.AuthService/Authenticate` exchanges an API key (or a part
//! secret) for a signed, expiring access token (a JWT, as the real service issues); every
//! other call carries it as `authorization: Bearer <token>`. The interceptor only verifies
//! the signature and expiry; each call then loads the principal's current grants (call.rs),
//! so a deleted key stops working at once even while its token is still fresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

use super::Api;
use super::authz::{Grant, ResourceType, Role};
use super::call::log_call;
use super::error::{ApiError, ApiResult};
use super::store::{Store, exec, hash_secret, new_secret, row};
use crate::proto::rpc::v1::auth_service_server::AuthService;
use crate::proto::rpc::v1::{AuthenticateRequest, AuthenticateResponse};

pub const API_KEY: &str = "api-key";
pub const ROBOT_SECRET: &str = "robot-secret";
/// A user signed up through an OAuth app (CreateOAuthAppUser).
pub const USER: &str = "user";
/// What CreateOAuthAppUser's refresh_token is: not accepted on calls, only exchanged with
/// Authenticate (entity: the user id, credentials: this type and the token) for a new one.
pub const REFRESH_TOKEN: &str = "refresh-token";
/// How long a refresh token stays exchangeable.
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 86_400);
const AUDIENCE: &str = "fleetsh-local-fleet";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    /// The credential type that was exchanged ("api-key" or "robot-secret").
    pub rpc_creds_type: String,
}

/// Signs and verifies access tokens with a per-fleet key kept in the database, so tokens
/// stay valid across a restart of the server.
#[derive(Clone)]
pub struct Tokens {
    enc: EncodingKey,
    dec: DecodingKey,
    validation: Validation,
    pub ttl: Duration,
    /// Tokens whose signature was already checked, with their claims. A client sends the same
    /// token on every call, and the HMAC + JSON decode was ~9% of the server's CPU per
    /// get_robot. Only signature and expiry are cached: grants are still read on every call.
    verified: Arc<Mutex<HashMap<String, Claims>>>,
}

/// Verified tokens kept at most; the cache is emptied when full (a token is re-checked once).
const VERIFIED_TOKENS: usize = 1024;

impl Tokens {
    pub fn load_or_create(store: &Store, ttl: Duration) -> ApiResult<Self> {
        let secret = match store.meta_get("token_signing_key")? {
            Some(k) => k,
            None => {
                let k = new_secret(64).into_bytes();
                store.meta_set("token_signing_key", &k)?;
                k
            }
        };
        let mut validation = Validation::default();
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 0;
        Ok(Self {
            enc: EncodingKey::from_secret(&secret),
            dec: DecodingKey::from_secret(&secret),
            validation,
            ttl,
            verified: Arc::default(),
        })
    }

    pub fn issue(&self, entity: &str, creds_type: &str) -> ApiResult<String> {
        self.issue_for(entity, creds_type, self.ttl)
    }

    pub fn issue_for(&self, entity: &str, creds_type: &str, ttl: Duration) -> ApiResult<String> {
        let now = unix_now();
        let claims = Claims {
            sub: entity.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + ttl.as_secs().max(1),
            rpc_creds_type: creds_type.into(),
        };
        jsonwebtoken::encode(&Header::default(), &claims, &self.enc)
            .map_err(|e| ApiError::Internal(format!("signing a token: {e}")))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, Status> {
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(claims) = verified.get(token) {
            if claims.exp > unix_now() {
                return Ok(claims.clone());
            }
            verified.remove(token);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.dec, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| {
                Status::unauthenticated(format!("unauthenticated: {e}; authenticate again"))
            })?;
        if verified.len() >= VERIFIED_TOKENS {
            verified.clear();
        }
        verified.insert(token.to_string(), claims.clone());
        Ok(claims)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Builds the tonic interceptor that admits only requests with one valid bearer token and
/// hands the token's claims to the handler.
pub fn interceptor(
    tokens: Tokens,
) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone {
    move |mut req: Request<()>| {
        let mut values = req.metadata().get_all("authorization").iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(Status::unauthenticated("authentication required"));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Status::unauthenticated("authorization header must be \"Bearer <token>\"")
            })?;
        let claims = tokens.verify(token)?;
        req.extensions_mut().insert(claims);
        Ok(req)
    }
}

impl Api {
    fn authenticate(&self, entity: &str, creds_type: &str, payload: &str) -> ApiResult<String> {
        // A transaction on the writer: a successful API-key check records `last_used`.
        let ok = self.store.tx(|c| match creds_type {
            API_KEY => {
                let hash: Option<String> = row(
                    c,
                    "SELECT key_hash FROM api_keys WHERE id = ?1",
                    [entity],
                    |r| r.get(0),
                )
                .optional()?;
                let ok = hash.is_some_and(|h| h == hash_secret(payload));
                if ok {
                    exec(
                        c,
                        "UPDATE api_keys SET last_used = ?2 WHERE id = ?1",
                        rusqlite::params![entity, super::store::now()],
                    )?;
                }
                Ok(ok)
            }
            ROBOT_SECRET => Ok(row(
                c,
                "SELECT 1 FROM part_secrets WHERE part_id = ?1 AND secret = ?2",
                [entity, payload],
                |_| Ok(()),
            )
            .optional()?
            .is_some()),
            // The user must still exist: deleting it ends its refreshes too.
            REFRESH_TOKEN => Ok(self.tokens.verify(payload).is_ok_and(|claims| {
                claims.sub == entity && claims.rpc_creds_type == REFRESH_TOKEN
            }) && row(c, "SELECT 1 FROM users WHERE id = ?1", [entity], |_| Ok(()))
                .optional()?
                .is_some()),
            other => Err(ApiError::invalid(
                "credentials.type",
                format!(
                    "unsupported credential type {other:?}; use \"api-key\", \"robot-secret\" or \"refresh-token\""
                ),
            )),
        })?;
        if !ok {
            // Viam's cloud answers UNAUTHENTICATED "invalid credentials" (goutils rpc:
            // errInvalidCredentials, the answer of its API-key and secret handlers); the
            // entity is named too, as every refusal here names what it refused.
            return Err(ApiError::Unauthenticated(format!(
                "invalid credentials for entity {entity:?}"
            )));
        }
        let issued_as = if creds_type == REFRESH_TOKEN {
            USER
        } else {
            creds_type
        };
        self.tokens.issue(entity, issued_as)
    }
}

pub fn grants_of(c: &rusqlite::Connection, identity_id: &str) -> ApiResult<Vec<Grant>> {
    let mut stmt = c.prepare_cached(
        // Plus, for each organization-wide grant, an operator grant on every location shared
        // with that organization (issue 11, sharing): its members see and operate the shared
        // location and its machines, but only the owning organization changes or deletes them.
        "SELECT org_id, role, resource_type, resource_id FROM authorizations WHERE identity_id = ?1
         UNION ALL
         SELECT l.org_id, 'operator', 'location', s.location_id FROM authorizations a
           JOIN location_shares s ON s.org_id = a.org_id
           JOIN locations l ON l.id = s.location_id
         WHERE a.identity_id = ?1 AND a.resource_type = 'organization' AND a.resource_id = a.org_id",
    )?;
    let rows = stmt.query_map([identity_id], |r| {
        <(String, String, String, String)>::try_from(r)
    })?;
    let mut grants = Vec::new();
    for row in rows {
        let (org_id, role, rt, resource_id) = row?;
        grants.push(Grant {
            org_id,
            role: Role::parse(&role)?,
            resource_type: ResourceType::parse(&rt)?,
            resource_id,
        });
    }
    Ok(grants)
}

impl Api {
    /// Checks one Authenticate request and exchanges its credentials for a token. It is the
    /// one call made without a token, so it has no principal to load.
    fn authenticate_request(&self, request: Request<AuthenticateRequest>) -> ApiResult<String> {
        if request.metadata().contains_key("authorization") {
            return Err(ApiError::InvalidArgument(
                "Authenticate must be called without an authorization header".into(),
            ));
        }
        let req = request.into_inner();
        super::limits::check("Authenticate", &req)?;
        let creds = req
            .credentials
            .ok_or_else(|| ApiError::invalid("credentials", "required"))?;
        if req.entity.is_empty() {
            return Err(ApiError::invalid(
                "entity",
                "required (the API key id or part id)",
            ));
        }
        self.authenticate(&req.entity, &creds.r#type, &creds.payload)
    }
}

pub struct AuthSvc(pub std::sync::Arc<Api>);

#[tonic::async_trait]
impl AuthService for AuthSvc {
    async fn authenticate(
        &self,
        request: Request<AuthenticateRequest>,
    ) -> Result<Response<AuthenticateResponse>, Status> {
        let start = Instant::now();
        // The entity names the caller in the log line, unless the size limit refuses it.
        let entity = Some(&request.get_ref().entity)
            .filter(|e| !e.is_empty() && e.len() <= super::limits::MAX_NAME_CHARS)
            .map_or_else(|| "-".to_string(), String::clone);
        let result = self.0.authenticate_request(request);
        // The same line as every other call: a success at debug, a refusal at info.
        log_call(
            "Authenticate",
            &entity,
            result.as_ref().err().map(ApiError::code),
            start,
        );
        Ok(Response::new(AuthenticateResponse {
            access_token: result?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        let store = Store::open_in_memory().unwrap();
        Tokens::load_or_create(&store, Duration::from_secs(60)).unwrap()
    }

    #[test]
    fn a_verified_token_is_served_from_the_cache_until_it_expires() {
        let t = tokens();
        let token = t.issue("key-1", API_KEY).unwrap();
        assert_eq!(t.verify(&token).unwrap().sub, "key-1");
        assert_eq!(t.verified.lock().unwrap().len(), 1);
        assert_eq!(t.verify(&token).unwrap().sub, "key-1");
        // An entry past its expiry is dropped and the token checked again in full.
        t.verified.lock().unwrap().get_mut(&token).unwrap().exp = unix_now() - 1;
        assert_eq!(t.verify(&token).unwrap().sub, "key-1");
        assert!(t.verified.lock().unwrap()[&token].exp > unix_now());
    }

    #[test]
    fn only_the_exact_token_hits_the_cache() {
        let t = tokens();
        let token = t.issue("key-1", API_KEY).unwrap();
        t.verify(&token).unwrap();
        let tampered = format!("{token}x");
        assert_eq!(
            t.verify(&tampered).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        let other = tokens().issue("key-1", API_KEY).unwrap();
        assert!(t.verify(&other).is_err(), "signed with another fleet's key");
    }
}
