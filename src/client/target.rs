//! Which fleet a command talks to: flags/env name a remote (URL + API key); with no credentials
//! the local fleet starts in-process and is reached over a loopback socket like any remote.

use crate::cli::{GlobalOpts, default_data_dir};
use crate::client::{ApiKey, Client, DEFAULT_URL, connect};
use crate::lua::Defaults;
use crate::server::{RunningFleet, ServeOptions, start};

/// A connected client, the defaults its credentials imply, and the in-process fleet if any.
pub struct Target {
    pub client: Client,
    pub defaults: Defaults,
    pub fleet: Option<RunningFleet>,
}

/// Bad combinations of flags: a usage error (exit 2), not a connection failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub async fn resolve(g: &GlobalOpts) -> anyhow::Result<Target> {
    if let Some(p) = &g.profile {
        return Err(UsageError(format!(
            "--profile {p}: profiles are not supported yet; use --url and the API key flags"
        ))
        .into());
    }
    let key = match (&g.api_key_id, &g.api_key) {
        (Some(id), Some(key)) => Some(ApiKey {
            id: id.clone(),
            key: key.clone(),
        }),
        (None, None) => None,
        _ => {
            return Err(UsageError(
                "--api-key-id and --api-key (VIAM_API_KEY_ID, VIAM_API_KEY) go together".into(),
            )
            .into());
        }
    };
    match (key, &g.url) {
        (Some(key), url) => {
            let url = url.as_deref().unwrap_or(DEFAULT_URL);
            let client = connect(url, Some(key), g.call_timeout).await?;
            Ok(Target {
                client,
                defaults: Defaults::default(),
                fleet: None,
            })
        }
        (None, Some(url)) => {
            Err(UsageError(format!("--url {url} needs --api-key-id and --api-key")).into())
        }
        (None, None) => local(g).await,
    }
}

async fn local(g: &GlobalOpts) -> anyhow::Result<Target> {
    let dir = g.data.clone().unwrap_or_else(default_data_dir);
    let mut opts = ServeOptions::new(&dir);
    opts.listen = ([127, 0, 0, 1], 0).into();
    let fleet = start(&opts).await?;
    if !g.quiet {
        eprintln!(
            "fleetsh: local fleet at {} (no cloud credentials given)",
            dir.display()
        );
    }
    let c = &fleet.credentials;
    let key = ApiKey {
        id: c.api_key_id.clone(),
        key: c.api_key.clone(),
    };
    let defaults = Defaults {
        org_id: Some(c.org_id.clone()),
        location_id: Some(c.location_id.clone()),
    };
    let client = connect(&c.address, Some(key), g.call_timeout).await?;
    Ok(Target {
        client,
        defaults,
        fleet: Some(fleet),
    })
}
