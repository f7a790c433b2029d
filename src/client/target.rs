//! Which fleet a command talks to: flags/env/profile (or else the Viam CLI's login) name a remote
//! (URL + API key); with no credentials the local fleet starts in-process and is reached over a
//! loopback socket like any remote.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::{ApiKey, Client, ConnectError, DEFAULT_URL, connect, in_process, viam_cli};
use crate::config::{self, Config, Profile};
use crate::lua::Defaults;
use crate::server::{Credentials, FleetOnFirstCall, RunningFleet, ServeOptions, start};

/// A connected client, the defaults its credentials imply, and the in-process fleet if any.
pub struct Target {
    pub client: Client,
    pub defaults: Defaults,
    pub fleet: Option<RunningFleet>,
    /// The embedded fleet of a run, when it opens at the first call instead (`embedded`).
    pub on_first_call: Option<FleetOnFirstCall>,
    /// Where calls go, for people: `local fleet DIR` or the remote URL.
    pub label: String,
    /// A line for stderr when the choice was implicit (the local fleet; a login found on disk).
    pub notice: Option<String>,
}

/// What the user asked for (from flags and the environment), without the rest of the CLI.
#[derive(Debug, Clone)]
pub struct Selection {
    pub url: Option<String>,
    pub api_key_id: Option<String>,
    pub api_key: Option<String>,
    /// Where `api_key_id` came from: `Origin::Flag` or `Origin::Environment`.
    pub api_key_origin: Origin,
    pub profile: Option<String>,
    /// Data directory of the local fleet, used when no credentials are given.
    pub data: PathBuf,
    pub call_timeout: Duration,
    /// `--max-rate`: a ceiling on the calls per second of the run.
    pub max_rate: Option<crate::client::throttle::Rate>,
}

impl Selection {
    /// The embedded local fleet in `data`, with no credentials, profile or rate ceiling.
    pub fn local(data: PathBuf, call_timeout: Duration) -> Self {
        Self {
            url: None,
            api_key_id: None,
            api_key: None,
            api_key_origin: Origin::Flag,
            profile: None,
            data,
            call_timeout,
            max_rate: None,
        }
    }
}

/// Where the key in use came from: named in the REPL banner and when the key is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    Flag,
    Environment,
    /// A fleetsh profile (`--profile NAME`, FLEETSH_PROFILE) in this config file.
    Profile(String, PathBuf),
    /// The Viam CLI's login (`viam login api-key`) in this file, of this CLI profile if any.
    ViamCli(PathBuf, Option<String>),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag => write!(f, "the --api-key-id flag"),
            Origin::Environment => write!(f, "the environment variable VIAM_API_KEY_ID"),
            Origin::Profile(name, path) => write!(f, "profile {name} in {}", path.display()),
            Origin::ViamCli(path, None) => write!(f, "the Viam CLI login in {}", path.display()),
            Origin::ViamCli(path, Some(name)) => {
                write!(f, "the Viam CLI profile {name} in {}", path.display())
            }
        }
    }
}

impl Origin {
    /// What to do when the server refuses a key from here.
    fn remedy(&self) -> &'static str {
        match self {
            Origin::ViamCli(..) => "log in again with `viam login api-key`",
            _ => "check the key id and the key, or save a working pair with `fleetsh profile add`",
        }
    }
}

/// Bad combinations of flags: a usage error (exit 2), not a connection failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A fleetsh profile by name out of `cfg` (read from `path`); an unknown name or a profile
/// without a key is a usage error.
fn profile(cfg: &Config, path: &Path, name: &str) -> Result<Profile, UsageError> {
    let p = cfg
        .profile(name, path)
        .map_err(|e| UsageError(e.to_string()))?;
    if p.api_key_id.is_none() || p.api_key.is_none() {
        return Err(UsageError(format!(
            "profile {name} in {} has no api_key_id/api_key",
            path.display()
        )));
    }
    Ok(p.clone())
}

/// Precedence, field by field: flag > environment (both through clap) > `--profile` > the Viam
/// CLI's API-key login > the embedded local fleet (when no credentials are given at all). The
/// config file is read by every run, so a malformed one is a usage error (exit 2) whether or
/// not a profile is named.
pub async fn resolve(g: &Selection) -> anyhow::Result<Target> {
    let mut target = select(g).await?;
    target.client.set_max_rate(g.max_rate);
    Ok(target)
}

async fn select(g: &Selection) -> anyhow::Result<Target> {
    // Read even when no profile is named: a malformed file is an error, not silently skipped.
    let path = config::path();
    let cfg = Config::load(&path).map_err(|e| UsageError(format!("{e:#}")))?;
    let (profile, profile_origin) = match &g.profile {
        Some(name) => (
            profile(&cfg, &path, name)?,
            Some(Origin::Profile(name.clone(), path.clone())),
        ),
        None => (Profile::default(), None),
    };
    let key = match (&g.api_key_id, &g.api_key) {
        (Some(id), Some(key)) => Some((
            ApiKey {
                id: id.clone(),
                key: key.clone(),
            },
            g.api_key_origin.clone(),
        )),
        (None, None) => profile
            .api_key_id
            .clone()
            .zip(profile.api_key.clone())
            .map(|(id, key)| ApiKey { id, key })
            .zip(profile_origin),
        _ => {
            return Err(UsageError(
                "--api-key-id and --api-key (VIAM_API_KEY_ID, VIAM_API_KEY) go together".into(),
            )
            .into());
        }
    };
    let defaults = Defaults {
        org_id: profile.org_id,
        location_id: profile.location_id,
    };
    match (key, g.url.clone().or(profile.url)) {
        (Some((key, origin)), url) => remote(g, url, key, origin, defaults, None).await,
        (None, Some(url)) => {
            Err(UsageError(format!("--url {url} needs --api-key-id and --api-key")).into())
        }
        // After fleetsh's own sources, the Viam CLI's login; only when no URL was named either,
        // so its key never goes to a server the login is not for.
        (None, None) => match viam_cli::find().map_err(UsageError)? {
            Some(login) => {
                let origin = Origin::ViamCli(login.path, login.profile);
                let notice = format!(
                    "using key id {} from {origin} ({})",
                    login.key.id,
                    login.url.as_deref().unwrap_or(DEFAULT_URL)
                );
                let defaults = Defaults {
                    org_id: login.org_id,
                    location_id: login.location_id,
                };
                remote(g, login.url, login.key, origin, defaults, Some(notice)).await
            }
            None => embedded(g).await,
        },
    }
}

/// Connects to a remote with `key` (which came from `origin`); `url` None is the Viam cloud.
async fn remote(
    g: &Selection,
    url: Option<String>,
    key: ApiKey,
    origin: Origin,
    defaults: Defaults,
    notice: Option<String>,
) -> anyhow::Result<Target> {
    let url = url.as_deref().unwrap_or(DEFAULT_URL);
    let mut client = connect(url, Some(key), g.call_timeout)
        .await
        .map_err(|e| match e {
            ConnectError::KeyRefused { .. } => {
                anyhow::anyhow!("{e} (from {origin}); {}", origin.remedy())
            }
            ConnectError::Unreachable(_) => e.into(),
        })?;
    client.set_refusal_remedy(format!("(from {origin}); {}", origin.remedy()));
    Ok(Target {
        client,
        defaults,
        fleet: None,
        on_first_call: None,
        label: format!("{url} (key from {origin})"),
        notice,
    })
}

/// How the embedded fleet is served: its own loopback port (for signed URLs and other clients),
/// not recorded in credentials.json, since it dies with the run.
fn embedded_options(dir: &Path) -> ServeOptions {
    let mut opts = ServeOptions::new(dir);
    opts.listen = ([127, 0, 0, 1], 0).into();
    opts.publish_address = false;
    opts
}

/// The embedded fleet of a script run or the REPL: opened at the first call
/// (`server::FleetOnFirstCall`), so that a run that makes none never opens the store. A data
/// directory without a readable credentials.json (a first start, or a lost key file) is opened
/// now, as `local` does: that start makes the fleet or a new owner key.
async fn embedded(g: &Selection) -> anyhow::Result<Target> {
    let dir = &g.data;
    let Ok(c) = Credentials::read(dir) else {
        return local(g).await;
    };
    let fleet = FleetOnFirstCall::new(embedded_options(dir));
    let key = ApiKey {
        id: c.api_key_id,
        key: c.api_key,
    };
    let client =
        crate::client::in_process_token_from_transport(fleet.transport(), key, g.call_timeout);
    Ok(Target {
        client,
        defaults: Defaults::default(),
        fleet: None,
        on_first_call: Some(fleet),
        label: local_label(dir),
        notice: Some(local_notice(dir)),
    })
}

fn local_label(dir: &Path) -> String {
    format!("local fleet {}", dir.display())
}

fn local_notice(dir: &Path) -> String {
    format!(
        "local fleet at {} (no cloud credentials given)",
        dir.display()
    )
}

pub async fn local(g: &Selection) -> anyhow::Result<Target> {
    let dir = &g.data;
    let fleet = start(&embedded_options(dir)).await?;
    let c = &fleet.credentials;
    let key = ApiKey {
        id: c.api_key_id.clone(),
        key: c.api_key.clone(),
    };
    // No defaults from credentials.json: the organization and location it records are only
    // where the fleet started, and guessing them would make the embedded fleet answer
    // differently from `--url` on the same data (the prelude's rule applies: the only one,
    // else an error listing them).
    let defaults = Defaults::default();
    let token = fleet
        .api
        .tokens
        .issue(&c.api_key_id, crate::server::auth::API_KEY)?;
    // The script's own calls stay in this process; the socket serves the others (a chore a
    // test runs with --url, an SDK pointed at the address).
    let client = in_process(
        crate::server::in_process(&fleet.api),
        key,
        token,
        g.call_timeout,
    );
    Ok(Target {
        client,
        defaults,
        fleet: Some(fleet),
        on_first_call: None,
        label: local_label(dir),
        notice: Some(local_notice(dir)),
    })
}
