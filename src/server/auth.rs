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
/// The audience of tokens issued before they were shortened, still checked on those.
const AUDIENCE: &str = "fleetsh-local-fleet";

/// What a verified token says: who it was issued to, as what, and until when.
#[derive(Debug, Clone)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    /// The credential type that was exchanged (`API_KEY`, `ROBOT_SECRET`, `USER` or
    /// `REFRESH_TOKEN`).
    pub rpc_creds_type: &'static str,
}

/// A token's claims as signed. Every call carries the token in an `authorization` header,
/// which HPACK never indexes: each call Huffman-codes it on the client and decodes it on the
/// server, so it is kept short (no `typ` header, no audience: the signing key is the fleet's
/// own; the credential type as one letter). Only `exp` matters to a client (auth.proto).
#[derive(Serialize, Deserialize)]
struct SignedClaims {
    sub: String,
    exp: u64,
    /// Only on tokens living under `IAT_MATTERS_BELOW`, where the client needs the lifetime
    /// to renew a tenth of it early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
    /// A `CREDS_CODES` letter; tokens issued before named the type in full, as
    /// `rpc_creds_type`, and are still accepted until they expire.
    #[serde(alias = "rpc_creds_type")]
    t: String,
}

/// Each credential type's letter in a token.
const CREDS_CODES: [(&str, &str); 4] = [
    ("k", API_KEY),
    ("s", ROBOT_SECRET),
    ("u", USER),
    ("r", REFRESH_TOKEN),
];

/// The client (client/auth.rs `renew_at`) renews a tenth of a token's lifetime before `exp`,
/// at most a minute, taking 600 s for a token without `iat`: from 600 s on, `iat` changes
/// nothing it does, so it is left out.
const IAT_MATTERS_BELOW: Duration = Duration::from_secs(600);

fn creds_code(creds_type: &str) -> Option<&'static str> {
    CREDS_CODES
        .iter()
        .find(|(_, t)| *t == creds_type)
        .map(|(c, _)| *c)
}

fn creds_type(code: &str) -> Option<&'static str> {
    CREDS_CODES
        .iter()
        .find(|(c, t)| *c == code || *t == code)
        .map(|(_, t)| *t)
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
    verified: Arc<Mutex<HashMap<String, Arc<Claims>>>>,
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
        let code = creds_code(creds_type).ok_or_else(|| {
            ApiError::Internal(format!("no token for credential type {creds_type:?}"))
        })?;
        let claims = SignedClaims {
            sub: entity.into(),
            exp: now + ttl.as_secs().max(1),
            iat: (ttl < IAT_MATTERS_BELOW).then_some(now),
            t: code.into(),
        };
        let header = Header {
            typ: None,
            ..Header::default()
        };
        jsonwebtoken::encode(&header, &claims, &self.enc)
            .map_err(|e| ApiError::Internal(format!("signing a token: {e}")))
    }

    pub fn verify(&self, token: &str) -> Result<Arc<Claims>, Status> {
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(claims) = verified.get(token) {
            if claims.exp > unix_now() {
                return Ok(claims.clone());
            }
            verified.remove(token);
        }
        let signed = jsonwebtoken::decode::<SignedClaims>(token, &self.dec, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| {
                Status::unauthenticated(format!("unauthenticated: {e}; authenticate again"))
            })?;
        let claims = Arc::new(Claims {
            rpc_creds_type: creds_type(&signed.t).ok_or_else(|| {
                Status::unauthenticated(format!(
                    "unauthenticated: unknown credential type {:?} in the token; authenticate again",
                    signed.t
                ))
            })?,
            sub: signed.sub,
            exp: signed.exp,
        });
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
    // tonic's router clones a service, interceptor included, for every call: cloning the keys
    // and validation rules each time was ~900 instructions of a get_robot.
    let tokens = Arc::new(tokens);
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
        Arc::make_mut(t.verified.lock().unwrap().get_mut(&token).unwrap()).exp = unix_now() - 1;
        assert_eq!(t.verify(&token).unwrap().sub, "key-1");
        assert!(t.verified.lock().unwrap()[&token].exp > unix_now());
    }

    /// A token signed with `t`'s key, with exactly these claims.
    fn signed(t: &Tokens, header: &Header, claims: serde_json::Value) -> String {
        jsonwebtoken::encode(header, &claims, &t.enc).unwrap()
    }

    fn part(token: &str, i: usize) -> serde_json::Value {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(i).unwrap())
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn tokens_carry_only_what_verifying_and_renewing_need() {
        let t = tokens();
        let id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        let token = t.issue_for(id, API_KEY, Duration::from_secs(3600)).unwrap();
        // 160 bytes with a UUID subject; was 261 (a typ header, the audience, iat and
        // "rpc_creds_type":"api-key").
        assert!(token.len() <= 160, "{} bytes: {token}", token.len());
        assert_eq!(part(&token, 0), serde_json::json!({"alg": "HS256"}));
        let claims = part(&token, 1);
        let mut keys: Vec<&str> = claims
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["exp", "sub", "t"], "{claims}");
        assert_eq!(t.verify(&token).unwrap().rpc_creds_type, API_KEY);
        for kind in [ROBOT_SECRET, USER, REFRESH_TOKEN] {
            assert_eq!(
                t.issue("x", kind)
                    .map(|k| t.verify(&k).unwrap().rpc_creds_type)
                    .unwrap(),
                kind
            );
        }
        assert!(
            t.issue("x", "password").is_err(),
            "no token for an unknown type"
        );

        // The client renews a tenth of the lifetime early, at most a minute: without `iat` a
        // long-lived token still renews a minute early, a short-lived one keeps its `iat`.
        let exp = claims["exp"].as_u64().unwrap();
        let renew = crate::client::auth::renew_at(&token).unwrap();
        assert_eq!(renew, UNIX_EPOCH + Duration::from_secs(exp - 60));
        let short = t.issue_for(id, API_KEY, Duration::from_secs(100)).unwrap();
        let short_claims = part(&short, 1);
        assert!(short_claims.get("iat").is_some(), "{short_claims}");
        let exp = short_claims["exp"].as_u64().unwrap();
        let renew = crate::client::auth::renew_at(&short).unwrap();
        assert_eq!(renew, UNIX_EPOCH + Duration::from_secs(exp - 10));
    }

    #[test]
    fn expired_forged_and_unknown_tokens_are_refused() {
        let t = tokens();
        let now = unix_now();
        let short = Header {
            typ: None,
            ..Header::default()
        };
        let expired = signed(
            &t,
            &short,
            serde_json::json!({"sub": "k", "exp": now - 1, "t": "k"}),
        );
        let err = t.verify(&expired).unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        assert!(
            err.message().contains("authenticate again"),
            "{}",
            err.message()
        );

        // Claims changed after signing: the signature no longer matches.
        let good = t.issue("key-1", API_KEY).unwrap();
        let forged_claims = signed(
            &t,
            &short,
            serde_json::json!({"sub": "key-2", "exp": now + 60, "t": "k"}),
        );
        let mut pieces: Vec<&str> = good.split('.').collect();
        pieces[1] = forged_claims.split('.').nth(1).unwrap();
        assert!(
            t.verify(&pieces.join(".")).is_err(),
            "claims swapped under a signature"
        );

        let unknown = signed(
            &t,
            &short,
            serde_json::json!({"sub": "k", "exp": now + 60, "t": "z"}),
        );
        let err = t.verify(&unknown).unwrap_err();
        assert!(
            err.message().contains("unknown credential type"),
            "{}",
            err.message()
        );
        let untyped = signed(&t, &short, serde_json::json!({"sub": "k", "exp": now + 60}));
        assert!(
            t.verify(&untyped).is_err(),
            "a token must say its credential type"
        );
        let no_exp = signed(&t, &short, serde_json::json!({"sub": "k", "t": "k"}));
        assert!(t.verify(&no_exp).is_err(), "a token must expire");
    }

    #[test]
    fn tokens_issued_before_the_short_form_are_accepted_until_they_expire() {
        let t = tokens();
        let now = unix_now();
        let old = |aud: &str| {
            let claims = serde_json::json!({
                "sub": "key-1", "aud": aud, "exp": now + 60, "iat": now,
                "rpc_creds_type": "api-key",
            });
            signed(&t, &Header::default(), claims)
        };
        let claims = t.verify(&old(AUDIENCE)).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.rpc_creds_type),
            ("key-1", API_KEY)
        );
        assert!(
            t.verify(&old("another-service")).is_err(),
            "another audience"
        );
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
