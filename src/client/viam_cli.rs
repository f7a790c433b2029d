//! The Viam CLI's API-key login as a credentials source, read-only. Its format, as Viam's rdk
//! repository defines it (cli/config.go, cli/auth.go, cli/profile.go, utils/cli.go,
//! utils/env.go):
//! - the directory is `$VIAM_HOME`, else `$HOME/.viam`;
//! - `viam login api-key` writes `cached_cli_config.json`: `base_url`, `auth` = `{key_id,
//!   key_crypto}`, `default_org`, `default_location` (a browser `viam login` puts a token in
//!   `auth` instead, which fleetsh cannot use);
//! - `VIAM_CLI_PROFILE_NAME=NAME` selects `NAME_cached_cli_config.json` (same format), and
//!   `cli_profiles.json` maps NAME to `{"Name", "APIKey": {key_id, key_crypto}}`; a profile the
//!   environment names but that is missing falls back to the default login, as in the CLI.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::client::ApiKey;

/// An API-key login found on disk.
#[derive(Debug)]
pub struct Login {
    pub key: ApiKey,
    /// `base_url`, when the login names one.
    pub url: Option<String>,
    pub org_id: Option<String>,
    pub location_id: Option<String>,
    /// The file the key was read from.
    pub path: PathBuf,
    /// The CLI profile it belongs to (`VIAM_CLI_PROFILE_NAME`).
    pub profile: Option<String>,
}

#[derive(Deserialize, Default)]
struct CachedConfig {
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    auth: Option<Auth>,
    #[serde(default)]
    default_org: String,
    #[serde(default)]
    default_location: String,
}

#[derive(Deserialize, Default)]
struct Auth {
    #[serde(default)]
    key_id: String,
    #[serde(default)]
    key_crypto: String,
}

#[derive(Deserialize)]
struct CliProfile {
    #[serde(rename = "APIKey")]
    api_key: Auth,
}

fn some(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// `$VIAM_HOME`, else `$HOME/.viam`.
pub fn dir() -> Option<PathBuf> {
    match std::env::var_os("VIAM_HOME") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => dirs::home_dir().map(|h| h.join(".viam")),
    }
}

/// Reads a JSON file; a missing one is None, an unreadable or malformed one an error naming it.
fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, String> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "cannot read the Viam CLI login {}: {e}",
                path.display()
            ));
        }
    };
    serde_json::from_slice(&text).map(Some).map_err(|e| {
        format!(
            "the Viam CLI login {} is malformed ({e}); log in again with `viam login api-key`, or remove the file",
            path.display()
        )
    })
}

/// The API key of a cached config, if it holds one (a token login does not).
fn login(cfg: CachedConfig, path: PathBuf, profile: Option<String>) -> Option<Login> {
    let auth = cfg.auth?;
    if auth.key_id.is_empty() || auth.key_crypto.is_empty() {
        return None;
    }
    Some(Login {
        key: ApiKey {
            id: auth.key_id,
            key: auth.key_crypto,
        },
        url: some(cfg.base_url),
        org_id: some(cfg.default_org),
        location_id: some(cfg.default_location),
        path,
        profile,
    })
}

/// The login the Viam CLI would use: the profile `VIAM_CLI_PROFILE_NAME` names, else the
/// default login. None when there is no API-key login.
pub fn find() -> Result<Option<Login>, String> {
    let Some(dir) = dir() else { return Ok(None) };
    let profile = std::env::var("VIAM_CLI_PROFILE_NAME").ok();
    find_in(&dir, profile.as_deref().filter(|n| !n.is_empty()))
}

fn find_in(dir: &Path, profile: Option<&str>) -> Result<Option<Login>, String> {
    let default_path = dir.join("cached_cli_config.json");
    if let Some(name) = profile.map(str::to_string) {
        let path = dir.join(format!("{name}_cached_cli_config.json"));
        if let Some(cfg) = read::<CachedConfig>(&path)?
            && let Some(l) = login(cfg, path, Some(name.clone()))
        {
            return Ok(Some(l));
        }
        // A profile added with `viam profiles add` but never used has only its key.
        let profiles_path = dir.join("cli_profiles.json");
        let profiles: Option<std::collections::HashMap<String, CliProfile>> = read(&profiles_path)?;
        if let Some(p) = profiles.and_then(|mut m| m.remove(&name)) {
            let base = read::<CachedConfig>(&default_path)?.unwrap_or_default();
            let cfg = CachedConfig {
                auth: Some(p.api_key),
                default_org: String::new(),
                default_location: String::new(),
                ..base
            };
            if let Some(l) = login(cfg, profiles_path, Some(name)) {
                return Ok(Some(l));
            }
        }
    }
    Ok(read::<CachedConfig>(&default_path)?.and_then(|cfg| login(cfg, default_path, None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, json: &str) {
        std::fs::write(dir.join(file), json).unwrap();
    }

    #[test]
    fn the_default_login_a_profile_and_a_key_only_profile() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        assert!(find_in(dir, None).unwrap().is_none(), "no login at all");
        write(
            dir,
            "cached_cli_config.json",
            r#"{"base_url":"https://app.viam.com:443","auth":{"key_id":"k0","key_crypto":"s0"},"default_org":"o0","default_location":""}"#,
        );
        let l = find_in(dir, None).unwrap().unwrap();
        assert_eq!((l.key.id.as_str(), l.org_id.as_deref()), ("k0", Some("o0")));
        assert_eq!(l.url.as_deref(), Some("https://app.viam.com:443"));
        assert_eq!(l.location_id, None);

        write(
            dir,
            "lab_cached_cli_config.json",
            r#"{"base_url":"","auth":{"key_id":"k1","key_crypto":"s1"}}"#,
        );
        let l = find_in(dir, Some("lab")).unwrap().unwrap();
        assert_eq!((l.key.id.as_str(), l.url), ("k1", None));
        assert_eq!(l.profile.as_deref(), Some("lab"));

        // Added with `viam profiles add`, never logged in: the key from cli_profiles.json.
        write(
            dir,
            "cli_profiles.json",
            r#"{"ci":{"Name":"ci","APIKey":{"key_id":"k2","key_crypto":"secret-of-k2"}}}"#,
        );
        let l = find_in(dir, Some("ci")).unwrap().unwrap();
        assert_eq!(l.key.id, "k2");
        assert!(l.path.ends_with("cli_profiles.json"));
        // A profile that is nowhere falls back to the default login, as the CLI does.
        assert_eq!(find_in(dir, Some("gone")).unwrap().unwrap().key.id, "k0");
        // A secret no temp dir's name can hold (a bare "s2" once matched the random path).
        assert!(
            !format!("{l:?}").contains("secret-of-k2"),
            "Debug hides the key"
        );
    }
}
