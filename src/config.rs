//! Named connection profiles in a TOML file (`config_dir()/fleetsh/config.toml`, or the file
//! named by `FLEETSH_CONFIG`). Profiles hold API keys, so the file is written with mode 0600.
//!
//! ```toml
//! [profiles.prod]
//! url = "https://app.viam.com:443"
//! api_key_id = "..."
//! api_key = "..."
//! org_id = "..."        # optional: the default for org_id arguments
//! location_id = "..."   # optional: the default for location_id arguments
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::cli::{GlobalOpts, ProfileCommand};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("url", &self.url)
            .field("api_key_id", &self.api_key_id)
            .field("api_key", &self.api_key.as_ref().map(|_| "****"))
            .field("org_id", &self.org_id)
            .field("location_id", &self.location_id)
            .finish()
    }
}

/// The config file: `$FLEETSH_CONFIG`, else `config_dir()/fleetsh/config.toml`.
pub fn path() -> PathBuf {
    match std::env::var_os("FLEETSH_CONFIG") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => dirs::config_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("fleetsh")
            .join("config.toml"),
    }
}

impl Config {
    /// A missing file is an empty config; a malformed one is an error naming file and line.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Self::parse(&text).map_err(|e| anyhow::anyhow!("{}:{e}", path.display()))
    }

    /// Parses TOML; the error starts with the line number (`12: ...`).
    fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            format!("{line}: {}", e.message())
        })
    }

    /// Writes atomically (temp file + rename), readable by the owner only.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let text = toml::to_string_pretty(self).context("encoding the config")?;
        crate::private_file::write_private(path, text.as_bytes())
    }

    pub fn profile(&self, name: &str, path: &Path) -> anyhow::Result<&Profile> {
        self.profiles.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            anyhow::anyhow!(
                "no profile {name:?} in {} (profiles: {}); add one with `fleetsh profile add {name} --url URL --api-key-id ID --api-key KEY`",
                path.display(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        })
    }
}

/// `fleetsh profile add|list|remove`; returns the exit code (2 for usage errors).
pub fn command(g: &GlobalOpts, cmd: &ProfileCommand) -> u8 {
    let path = path();
    match run_command(g, cmd, &path) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("fleetsh profile: {e:#}");
            crate::exit::USAGE
        }
    }
}

fn run_command(g: &GlobalOpts, cmd: &ProfileCommand, path: &Path) -> anyhow::Result<()> {
    let mut config = Config::load(path)?;
    match cmd {
        ProfileCommand::Add {
            name,
            org_id,
            location_id,
        } => {
            let (Some(id), Some(key)) = (&g.api_key_id, &g.api_key) else {
                anyhow::bail!(
                    "profile add {name} needs --api-key-id and --api-key (or VIAM_API_KEY_ID and VIAM_API_KEY)"
                );
            };
            if let Some(url) = &g.url {
                crate::client::endpoint(url)?;
            }
            let profile = Profile {
                url: g.url.clone(),
                api_key_id: Some(id.clone()),
                api_key: Some(key.clone()),
                org_id: org_id.clone(),
                location_id: location_id.clone(),
            };
            config.profiles.insert(name.clone(), profile);
            config.save(path)?;
            eprintln!("fleetsh: saved profile {name} in {}", path.display());
        }
        ProfileCommand::List => {
            for (name, p) in &config.profiles {
                println!(
                    "{name}\t{}\t{}",
                    p.url.as_deref().unwrap_or(crate::client::DEFAULT_URL),
                    p.api_key_id.as_deref().unwrap_or("-")
                );
            }
        }
        ProfileCommand::Remove { name } => {
            config.profile(name, path)?;
            config.profiles.remove(name);
            config.save(path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        let mut c = Config::default();
        c.profiles.insert(
            "prod".into(),
            Profile {
                url: Some("https://app.viam.com:443".into()),
                api_key_id: Some("id".into()),
                api_key: Some("secret".into()),
                org_id: Some("o".into()),
                location_id: None,
            },
        );
        c.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let back = Config::load(&path).unwrap();
        assert_eq!(back.profiles["prod"], c.profiles["prod"]);
        assert!(!format!("{:?}", back.profiles["prod"]).contains("secret"));
        assert!(
            Config::load(&dir.path().join("none.toml"))
                .unwrap()
                .profiles
                .is_empty()
        );
    }

    #[test]
    fn malformed_files_name_the_line() {
        let e = Config::parse("[profiles.a]\nurl = \"x\"\napi_key = \n").unwrap_err();
        assert!(e.starts_with("3: "), "{e}");
        let e = Config::parse("[profiles.a]\n\nurll = \"x\"\n").unwrap_err();
        assert!(e.starts_with("3: ") && e.contains("url"), "{e}");
    }
}
