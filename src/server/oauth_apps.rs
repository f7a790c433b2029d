//! OAuth applications of an organization: a name, a configuration and a client secret.
//! Stored and returned only: the local fleet runs no OAuth flows and contacts no one. The
//! client secret is made here, returned once by CreateOAuthApp and kept as its SHA-256 only,
//! so ReadOAuthApp cannot give it back (it answers an empty client_secret).
//! CreateOAuthAppUser signs a new user up through an app: the user's password is kept as an
//! argon2 hash only, and the reply's tokens authenticate as that user against this fleet.

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
use super::auth::{REFRESH_TOKEN, REFRESH_TTL, USER};
use super::authz::{Perm, Principal, Scope};
use super::error::{ApiError, ApiResult, required};
use super::store::{exec, hash_secret, new_id, new_secret, now, row};
use crate::proto::viam::app::v1::*;

/// Characters of a client secret (~190 bits, as API keys).
const SECRET_CHARS: usize = 32;

/// The organization's scope, checked for `perm` (every request here names it in `org_id`).
fn scope(c: &Connection, who: &Principal, perm: Perm, org_id: &str) -> ApiResult<()> {
    let s = Scope::organization(c, org_id).map_err(|e| match e {
        ApiError::InvalidArgument(_) => ApiError::invalid("org_id", "required"),
        e => e,
    })?;
    who.require(perm, &s)
}

/// A known, specified value of an enum field (prost keeps unknown numbers as they came).
fn chosen<E: TryFrom<i32>>(field: &str, v: i32, choices: &str) -> ApiResult<()> {
    if v == 0 || E::try_from(v).is_err() {
        return Err(ApiError::invalid(
            &format!("oauth_config.{field}"),
            format!("required: one of {choices}"),
        ));
    }
    Ok(())
}

/// An absolute URI: a scheme (`https`, or an app's own such as `com.example.app`), then a rest
/// without spaces. `*` only where the configuration allows wildcards.
fn check_uri(field: &str, uri: &str, wildcards: bool) -> ApiResult<()> {
    let field = format!("oauth_config.{field}");
    let (scheme, rest) = uri.split_once(':').ok_or_else(|| {
        ApiError::invalid(
            &field,
            format!("{uri:?} is not an absolute URI (like https://example.com/callback)"),
        )
    })?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok || rest.is_empty() || uri.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid(
            &field,
            format!("{uri:?} is not an absolute URI (like https://example.com/callback)"),
        ));
    }
    if uri.contains('*') && !wildcards {
        return Err(ApiError::invalid(
            &field,
            format!(
                "{uri:?} has a wildcard; set url_validation to URL_VALIDATION_ALLOW_WILDCARDS to allow it"
            ),
        ));
    }
    Ok(())
}

/// The configuration a create or an update must carry: every choice made, at least one grant
/// and one redirect URI, every URI absolute.
fn check_config(config: Option<&OAuthConfig>) -> ApiResult<&OAuthConfig> {
    let c = config.ok_or_else(|| ApiError::invalid("oauth_config", "required"))?;
    chosen::<ClientAuthentication>(
        "client_authentication",
        c.client_authentication,
        "CLIENT_AUTHENTICATION_REQUIRED, _NOT_REQUIRED, _NOT_REQUIRED_WHEN_USING_PKCE",
    )?;
    chosen::<Pkce>(
        "pkce",
        c.pkce,
        "PKCE_REQUIRED, _NOT_REQUIRED, _NOT_REQUIRED_WHEN_USING_CLIENT_AUTHENTICATION",
    )?;
    chosen::<UrlValidation>(
        "url_validation",
        c.url_validation,
        "URL_VALIDATION_EXACT_MATCH, _ALLOW_WILDCARDS",
    )?;
    if c.enabled_grants.is_empty() {
        return Err(ApiError::invalid(
            "oauth_config.enabled_grants",
            "required: at least one grant (e.g. ENABLED_GRANT_AUTHORIZATION_CODE)",
        ));
    }
    for &g in &c.enabled_grants {
        chosen::<EnabledGrant>(
            "enabled_grants",
            g,
            "ENABLED_GRANT_AUTHORIZATION_CODE, _IMPLICIT, _PASSWORD, _REFRESH_TOKEN, _DEVICE_CODE",
        )?;
    }
    if c.redirect_uris.is_empty() {
        return Err(ApiError::invalid(
            "oauth_config.redirect_uris",
            "required: at least one URI the app may be sent back to",
        ));
    }
    let wildcards = c.url_validation == UrlValidation::AllowWildcards as i32;
    for u in &c.redirect_uris {
        check_uri("redirect_uris", u, wildcards)?;
    }
    for u in &c.origin_uris {
        check_uri("origin_uris", u, wildcards)?;
    }
    for (field, u) in [
        ("logout_uri", &c.logout_uri),
        ("invite_redirect_uri", &c.invite_redirect_uri),
    ] {
        if !u.is_empty() {
            check_uri(field, u, wildcards)?;
        }
    }
    Ok(c)
}

/// The organization's app `client_id`: its name and configuration.
fn find(c: &Connection, org_id: &str, client_id: &str) -> ApiResult<(String, OAuthConfig)> {
    let client_id = required("client_id", client_id)?;
    let (name, blob): (String, Vec<u8>) = row(
        c,
        "SELECT client_name, config FROM oauth_apps WHERE client_id = ?1 AND org_id = ?2",
        params![client_id, org_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?
    .ok_or_else(|| {
        ApiError::NotFound(format!(
            "client_id: organization {org_id:?} has no OAuth app {client_id:?}; ListOAuthApps lists its apps"
        ))
    })?;
    let config = OAuthConfig::decode(blob.as_slice())
        .map_err(|e| ApiError::Internal(format!("stored OAuth config: {e}")))?;
    Ok((name, config))
}

pub fn create_oauth_app(
    api: &Api,
    who: &Principal,
    req: CreateOAuthAppRequest,
) -> ApiResult<CreateOAuthAppResponse> {
    let name = required("client_name", &req.client_name)?;
    let config = check_config(req.oauth_config.as_ref())?;
    api.store.tx(|tx| {
        scope(tx, who, Perm::WriteOrganization, &req.org_id)?;
        let client_id = new_id();
        let secret = new_secret(SECRET_CHARS);
        exec(
            tx,
            "INSERT INTO oauth_apps(client_id, org_id, client_name, secret_sha256, config, created_on)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                client_id,
                req.org_id,
                name,
                hash_secret(&secret),
                config.encode_to_vec(),
                now()
            ],
        )?;
        Ok(CreateOAuthAppResponse {
            client_id,
            client_secret: secret,
        })
    })
}

/// The app's name and configuration; its secret was shown once, at creation.
pub fn read_oauth_app(
    api: &Api,
    who: &Principal,
    req: ReadOAuthAppRequest,
) -> ApiResult<ReadOAuthAppResponse> {
    api.store.read(|c| {
        scope(c, who, Perm::ReadOrganization, &req.org_id)?;
        let (client_name, config) = find(c, &req.org_id, &req.client_id)?;
        Ok(ReadOAuthAppResponse {
            client_name,
            client_secret: String::new(),
            oauth_config: Some(config),
        })
    })
}

/// Replaces the app's name and configuration (both required, as on create); the secret stays.
pub fn update_oauth_app(
    api: &Api,
    who: &Principal,
    req: UpdateOAuthAppRequest,
) -> ApiResult<UpdateOAuthAppResponse> {
    let name = required("client_name", &req.client_name)?;
    let config = check_config(req.oauth_config.as_ref())?;
    api.store.tx(|tx| {
        scope(tx, who, Perm::WriteOrganization, &req.org_id)?;
        find(tx, &req.org_id, &req.client_id)?;
        exec(
            tx,
            "UPDATE oauth_apps SET client_name = ?3, config = ?4 WHERE client_id = ?1 AND org_id = ?2",
            params![
                req.client_id.trim(),
                req.org_id,
                name,
                config.encode_to_vec()
            ],
        )?;
        Ok(UpdateOAuthAppResponse {})
    })
}

pub fn delete_oauth_app(
    api: &Api,
    who: &Principal,
    req: DeleteOAuthAppRequest,
) -> ApiResult<DeleteOAuthAppResponse> {
    api.store.tx(|tx| {
        scope(tx, who, Perm::WriteOrganization, &req.org_id)?;
        find(tx, &req.org_id, &req.client_id)?;
        exec(
            tx,
            "DELETE FROM oauth_apps WHERE client_id = ?1 AND org_id = ?2",
            params![req.client_id.trim(), req.org_id],
        )?;
        Ok(DeleteOAuthAppResponse {})
    })
}

/// The organization's apps, oldest first.
pub fn list_oauth_apps(
    api: &Api,
    who: &Principal,
    req: ListOAuthAppsRequest,
) -> ApiResult<ListOAuthAppsResponse> {
    api.store.read(|c| {
        scope(c, who, Perm::ReadOrganization, &req.org_id)?;
        let mut stmt = c.prepare_cached(
            "SELECT client_id FROM oauth_apps WHERE org_id = ?1 ORDER BY created_on, client_id",
        )?;
        let client_ids = stmt
            .query_map([&req.org_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ListOAuthAppsResponse { client_ids })
    })
}

/// Shortest password accepted: the fleet's users sign in with what they chose here.
const MIN_PASSWORD_CHARS: usize = 8;

/// The password's argon2id hash as a PHC string (salt and parameters inside). argon2's
/// default parameters (19 MiB, 2 passes) are OWASP's minimum; dev builds optimise the crate
/// (Cargo.toml) so tests do not pay for debug code.
fn hash_password(password: &str) -> ApiResult<String> {
    use argon2::PasswordHasher;
    let salt = argon2::password_hash::SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| ApiError::Internal(format!("password salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))
}

/// An address with a local part and a domain, no spaces.
fn check_email(email: &str) -> ApiResult<&str> {
    let email = required("email", email)?;
    let ok = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if !ok {
        return Err(ApiError::invalid(
            "email",
            format!("{email:?} is not an email address (like ada@example.com)"),
        ));
    }
    Ok(email)
}

fn check_password(password: &str) -> ApiResult<&str> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid(
            "password",
            format!("at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(password)
}

/// Signs a new user up through the organization's app `application_id` (owners only) and
/// returns tokens that authenticate as the user: `auth_token` on calls (with the grants the
/// user is given; none at first), `refresh_token` with Authenticate for a new one. An email
/// that already names a user is ALREADY_EXISTS: a sign-up never yields a token for someone
/// else's account.
pub fn create_oauth_app_user(
    api: &Api,
    who: &Principal,
    req: CreateOAuthAppUserRequest,
) -> ApiResult<CreateOAuthAppUserResponse> {
    let email = check_email(&req.email)?.to_lowercase();
    let password = check_password(&req.password)?;
    // Checked first on a reader: only an owner's request pays for the hash, and the hash is
    // made before the write transaction, which would otherwise hold every writer meanwhile.
    api.store.read(|c| {
        scope(c, who, Perm::WriteOrganization, &req.org_id)?;
        find(c, &req.org_id, &req.application_id)
    })?;
    let hash = hash_password(password)?;
    let (user_id, registration_id) = api.store.tx(|tx| {
        scope(tx, who, Perm::WriteOrganization, &req.org_id)?;
        find(tx, &req.org_id, &req.application_id)?;
        let app = req.application_id.trim();
        let taken: Option<Option<String>> = row(
            tx,
            "SELECT r.client_id FROM users u LEFT JOIN oauth_app_users r ON r.user_id = u.id
             WHERE lower(u.email) = ?1",
            [&email],
            |r| r.get(0),
        )
        .optional()?;
        match taken {
            Some(Some(client)) if client == app => {
                return Err(ApiError::AlreadyExists(format!(
                    "email: {email:?} already signed up through this app"
                )));
            }
            Some(_) => {
                return Err(ApiError::AlreadyExists(format!(
                    "email: a user with {email:?} already exists"
                )));
            }
            None => {}
        }
        let (user_id, registration_id) = (new_id(), new_id());
        exec(
            tx,
            "INSERT INTO users(id, email, created_on) VALUES (?1, ?2, ?3)",
            params![user_id, email, now()],
        )?;
        exec(
            tx,
            "INSERT INTO oauth_app_users(registration_id, client_id, user_id, first_name, last_name,
                                         password_hash, created_on)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                registration_id,
                app,
                user_id,
                req.first_name.trim(),
                req.last_name.trim(),
                hash,
                now()
            ],
        )?;
        Ok((user_id, registration_id))
    })?;
    Ok(CreateOAuthAppUserResponse {
        auth_token: api.tokens.issue(&user_id, USER)?,
        refresh_token: api.tokens.issue_for(&user_id, REFRESH_TOKEN, REFRESH_TTL)?,
        registration_id,
        user_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OAuthConfig {
        OAuthConfig {
            client_authentication: ClientAuthentication::Required as i32,
            pkce: Pkce::Required as i32,
            url_validation: UrlValidation::ExactMatch as i32,
            redirect_uris: vec!["https://example.com/cb".into()],
            enabled_grants: vec![EnabledGrant::AuthorizationCode as i32],
            ..Default::default()
        }
    }

    fn refusal(c: OAuthConfig) -> String {
        check_config(Some(&c)).unwrap_err().to_string()
    }

    #[test]
    fn a_complete_config_passes_and_each_gap_is_named() {
        assert!(check_config(Some(&config())).is_ok());
        assert!(
            refusal(OAuthConfig {
                pkce: 0,
                ..config()
            })
            .starts_with("oauth_config.pkce:")
        );
        assert!(
            refusal(OAuthConfig {
                enabled_grants: vec![99],
                ..config()
            })
            .starts_with("oauth_config.enabled_grants:")
        );
        assert!(
            refusal(OAuthConfig {
                redirect_uris: vec![],
                ..config()
            })
            .starts_with("oauth_config.redirect_uris:")
        );
    }

    #[test]
    fn passwords_are_kept_as_salted_argon2_hashes() {
        use argon2::PasswordVerifier;
        let (a, b) = (
            hash_password("hunter22!").unwrap(),
            hash_password("hunter22!").unwrap(),
        );
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        let parsed = argon2::PasswordHash::new(&a).unwrap();
        let argon = argon2::Argon2::default();
        assert!(argon.verify_password(b"hunter22!", &parsed).is_ok());
        assert!(argon.verify_password(b"hunter23!", &parsed).is_err());
        assert!(check_password("short").is_err());
        assert!(check_email("not-an-email").is_err());
        assert!(check_email("ada@example.com").is_ok());
    }

    #[test]
    fn uris_must_be_absolute_and_wildcards_allowed_first() {
        for bad in ["example.com/cb", "/cb", "https://exa mple.com", "1http://x"] {
            assert!(check_uri("redirect_uris", bad, true).is_err(), "{bad}");
        }
        assert!(check_uri("redirect_uris", "com.example.app:/cb", false).is_ok());
        let wild = "https://*.example.com/cb";
        assert!(
            check_uri("redirect_uris", wild, false)
                .unwrap_err()
                .to_string()
                .contains("URL_VALIDATION_ALLOW_WILDCARDS")
        );
        assert!(check_uri("redirect_uris", wild, true).is_ok());
    }
}
