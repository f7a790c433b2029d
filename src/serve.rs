//! `fleetsh serve`: the local fleet on a socket until SIGINT/SIGTERM.

use std::path::{Path, PathBuf};

use crate::cli::{GlobalOpts, ServeArgs, default_data_dir};
use crate::client::target::{Selection, UsageError, local};
use crate::server::{Credentials, ServeOptions, start};

/// Where the fleet records the seed it was made from (`meta` table): `{sha256, file, done}`.
const SEED_META: &str = "serve_seed";
/// The ids of a seeded fleet by name, kept in the data directory (mode 0600: keys' secrets).
const SEED_IDS_FILE: &str = "seed-ids.json";

pub async fn run(global: &GlobalOpts, args: &ServeArgs) -> anyhow::Result<()> {
    let data_dir = global.data.clone().unwrap_or_else(default_data_dir);
    // The files first: a bad one is a usage error before the data directory is touched.
    let seed = args
        .seed
        .as_ref()
        .map(|p| read_file("--seed", p).map(|text| (p.clone(), text)))
        .transpose()?;
    let faults = match &args.faults {
        Some(p) => {
            let text = read_file("--faults", p)?;
            crate::server::faults::rules_from_file(p, &text)
                .map_err(|e| UsageError(format!("--faults {e}")))?
        }
        None => Vec::new(),
    };
    let mut opts = ServeOptions::new(data_dir);
    opts.listen = args.listen;
    opts.allow_remote = args.allow_remote;
    opts.tls_cert = args.tls_cert.clone();
    opts.tls_key = args.tls_key.clone();
    opts.token_ttl = args.token_ttl;
    opts.rate_limit = args.rate_limit;
    opts.cors.origins = args.cors_origins.clone();
    opts.cors.any_origin = args.cors_allow_any_origin;
    if let Some((path, text)) = &seed {
        let ids_copy = args.seed_ids.as_deref();
        seed_once(&opts.data_dir, global, path, text, ids_copy).await?;
    }
    let fleet = start(&opts).await?;
    if fleet.created {
        announce_new(&opts.data_dir, &fleet.credentials);
    }
    if let Some(path) = &args.faults {
        let n = faults.len();
        for rule in faults {
            fleet.api.faults.add(rule);
        }
        eprintln!("fleetsh: {n} fault rules from {}", path.display());
    }
    let bound = if fleet.addr.ip().is_unspecified() {
        format!(", listening on {}", fleet.addr)
    } else {
        String::new()
    };
    eprintln!(
        "fleetsh: serving the local fleet on {}{bound} (credentials: {})",
        fleet.credentials.address,
        Credentials::path(&opts.data_dir).display()
    );
    if let Some(rate) = opts.rate_limit {
        eprintln!("fleetsh: each API key and part may make {rate} calls (--rate-limit)");
    }
    let simulated = crate::sim::serve(args.simulate.as_deref(), &fleet).await?;
    shutdown_signal().await;
    if let Some(limit) = &fleet.api.rate_limit {
        eprintln!("fleetsh: the rate limit refused {} calls", limit.refused());
    }
    eprintln!("fleetsh: shutting down");
    if let Some(s) = simulated {
        s.stop().await;
    }
    fleet.stop().await
}

fn read_file(flag: &str, path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("{flag} {}: {e}", path.display())).into())
}

/// Shown once: only the hash of the key is stored in the database.
fn announce_new(data_dir: &Path, c: &Credentials) {
    eprintln!("fleetsh: new local fleet in {}", data_dir.display());
    eprintln!("  organization  {}", c.org_id);
    eprintln!("  location      {}", c.location_id);
    eprintln!("  api key id    {}", c.api_key_id);
    eprintln!(
        "  api key       {}   (shown once; also in credentials.json, mode 0600)",
        c.api_key
    );
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SeedRecord {
    sha256: String,
    file: PathBuf,
    done: bool,
}

/// `--seed FILE`: makes the file's fleet in the data directory at the first start that names
/// it, through a fleet of its own on a loopback port, so that nothing listens on `--listen`
/// before the seed is complete. A later start with the same seed skips it (the ids stay in
/// DATA/seed-ids.json); a different seed, or one whose seeding did not finish, is refused
/// rather than made beside it.
async fn seed_once(
    data_dir: &Path,
    global: &GlobalOpts,
    path: &Path,
    text: &str,
    ids_copy: Option<&Path>,
) -> anyhow::Result<()> {
    let selection = Selection::local(data_dir.to_path_buf(), global.call_timeout);
    let target = local(&selection).await?;
    let fleet = target.fleet.expect("the local target runs a fleet");
    let mut client = Some(target.client);
    if fleet.created {
        announce_new(data_dir, &fleet.credentials);
    }
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
    let ids_path = data_dir.join(SEED_IDS_FILE);
    let shown = path.display();
    let earlier: Option<SeedRecord> = fleet
        .api
        .store
        .meta_get(SEED_META)?
        .and_then(|v| serde_json::from_slice(&v).ok());
    let outcome: anyhow::Result<()> = match earlier {
        Some(r) if r.sha256 == sha256 && r.done => {
            eprintln!(
                "fleetsh: the fleet in {} was seeded from {shown} at an earlier start; not seeding again (ids: {})",
                data_dir.display(),
                ids_path.display()
            );
            Ok(())
        }
        Some(r) if r.done => Err(UsageError(format!(
            "--seed {shown}: the fleet in {} was seeded from {} (other contents) at an earlier start; \
             a second seed would be made beside the first: serve it without --seed, or seed a fresh --data directory",
            data_dir.display(),
            r.file.display()
        ))
        .into()),
        Some(r) => Err(UsageError(format!(
            "--seed {shown}: seeding the fleet in {} from {} did not finish at an earlier start, so it is partly seeded: \
             seed a fresh --data directory",
            data_dir.display(),
            r.file.display()
        ))
        .into()),
        None => {
            let mut record = SeedRecord {
                sha256,
                file: path.to_path_buf(),
                done: false,
            };
            let store = &fleet.api.store;
            store.meta_set(SEED_META, &serde_json::to_vec(&record)?)?;
            let client = client.take().expect("not used before");
            match crate::testing::seeding::seed(client, path, text).await {
                Ok(ids) => {
                    let json = serde_json::to_string_pretty(&ids)?;
                    crate::private_file::write_private(&ids_path, json.as_bytes())?;
                    record.done = true;
                    store.meta_set(SEED_META, &serde_json::to_vec(&record)?)?;
                    eprintln!(
                        "fleetsh: seeded the fleet from {shown}; ids by name in {}",
                        ids_path.display()
                    );
                    Ok(())
                }
                // A seed the fleet refuses is a bad file, like one that does not parse.
                Err(e) => Err(UsageError(format!(
                    "{e:#}; the fleet in {} is now partly seeded: fix the seed and start on a fresh --data directory",
                    data_dir.display()
                ))
                .into()),
            }
        }
    };
    // The seeding connection is gone (dropped with its Lua state, or here) before the fleet
    // stops, so stopping does not wait for it.
    drop(client);
    fleet.stop().await?;
    outcome?;
    if let Some(copy) = ids_copy {
        let text = std::fs::read(&ids_path).map_err(|e| {
            anyhow::anyhow!(
                "--seed-ids: cannot read {} ({e}); it is written when the seed is made",
                ids_path.display()
            )
        })?;
        crate::private_file::write_private(copy, &text)
            .map_err(|e| e.context(format!("--seed-ids {}", copy.display())))?;
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
