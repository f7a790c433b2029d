//! OAuth applications of an organization: a name, a configuration and a client secret.
//! Stored and returned only: the local fleet runs no OAuth flows and contacts no one. The
//! client secret is made here, returned once by CreateOAuthApp and kept as its SHA-256 only,
//! so ReadOAuthApp cannot give it back (it answers an empty client_secret).

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
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
