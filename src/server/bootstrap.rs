//! First start of an empty data directory: one organization owned by a local admin user, a
//! root location and an owner API key. The key is shown once and kept only in
//! `credentials.json` (mode 0600); the database holds its hash.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::Api;
use super::authz::{ResourceType, Role};
use super::error::ApiResult;
use super::{keys, locations, orgs, roles, store};

pub const ADMIN_EMAIL: &str = "admin@localhost";
const CREDENTIALS_FILE: &str = "credentials.json";

/// What a client needs to reach the fleet; written to `DIR/credentials.json`.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub address: String,
    pub org_id: String,
    pub location_id: String,
    pub api_key_id: String,
    pub api_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("address", &self.address)
            .field("org_id", &self.org_id)
            .field("api_key_id", &self.api_key_id)
            .field("api_key", &"****")
            .finish()
    }
}

impl Credentials {
    pub fn path(data_dir: &Path) -> std::path::PathBuf {
        data_dir.join(CREDENTIALS_FILE)
    }

    pub fn read(data_dir: &Path) -> anyhow::Result<Self> {
        let path = Self::path(data_dir);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: not a credentials file", path.display()))
    }

    /// Writes atomically, owner-only.
    pub fn write(&self, data_dir: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        crate::private_file::write_private(&Self::path(data_dir), text.as_bytes())
    }
}

pub struct Bootstrap {
    pub created: bool,
    pub org_id: String,
    pub location_id: String,
    pub api_key_id: String,
    pub api_key: String,
}

impl Bootstrap {
    pub fn credentials(&self, address: &str) -> Credentials {
        Credentials {
            address: address.into(),
            org_id: self.org_id.clone(),
            location_id: self.location_id.clone(),
            api_key_id: self.api_key_id.clone(),
            api_key: self.api_key.clone(),
        }
    }
}

pub fn ensure(api: &Api) -> anyhow::Result<Bootstrap> {
    if let Some(org_id) = api.store.meta_get("bootstrap_org")? {
        let org_id = String::from_utf8_lossy(&org_id).into_owned();
        if let Ok(c) = Credentials::read(&api.data_dir) {
            if c.org_id == org_id && keys::key_matches(api, &c.api_key_id, &c.api_key)? {
                return Ok(Bootstrap {
                    created: false,
                    org_id,
                    location_id: c.location_id,
                    api_key_id: c.api_key_id,
                    api_key: c.api_key,
                });
            }
        }
        // The credentials file is gone or stale: mint a fresh owner key rather than lock the
        // operator out of their own data.
        tracing::warn!("credentials.json missing or invalid; creating a new owner key");
        let location_id = locations::first_location(api, &org_id)?.unwrap_or_default();
        let (api_key_id, api_key) = api.store.tx(|tx| owner_key(tx, &org_id))?;
        return Ok(Bootstrap {
            created: true,
            org_id,
            location_id,
            api_key_id,
            api_key,
        });
    }
    let b = api.store.tx(|tx| {
        let now = store::now();
        let user_id = store::new_id();
        store::exec(
            tx,
            "INSERT INTO users(id, email, created_on) VALUES (?1, ?2, ?3)",
            rusqlite::params![user_id, ADMIN_EMAIL, now],
        )?;
        let org_id = orgs::insert_org(tx, "Local Fleet", Some("local"))?;
        orgs::insert_member(tx, &org_id, &user_id)?;
        roles::insert_grant(
            tx,
            &org_id,
            &user_id,
            "user",
            Role::Owner,
            ResourceType::Organization,
            &org_id,
        )?;
        let location_id = locations::insert_location(tx, &org_id, "Main", None)?;
        let (api_key_id, api_key) = owner_key(tx, &org_id)?;
        store::exec(
            tx,
            "INSERT INTO meta(key, value) VALUES ('bootstrap_org', ?1)",
            [org_id.as_bytes()],
        )?;
        Ok(Bootstrap {
            created: true,
            org_id,
            location_id,
            api_key_id,
            api_key,
        })
    })?;
    Ok(b)
}

fn owner_key(tx: &store::Tx<'_>, org_id: &str) -> ApiResult<(String, String)> {
    let (id, key) = keys::insert_key(tx, org_id, "fleetsh local owner")?;
    roles::insert_grant(
        tx,
        org_id,
        &id,
        "api-key",
        Role::Owner,
        ResourceType::Organization,
        org_id,
    )?;
    Ok((id, key))
}
