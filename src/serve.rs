//! `fleetsh serve`: the local fleet on a socket until SIGINT/SIGTERM.

use crate::cli::{GlobalOpts, ServeArgs, default_data_dir};
use crate::server::{ServeOptions, start};

pub async fn run(global: &GlobalOpts, args: &ServeArgs) -> anyhow::Result<()> {
    let mut opts = ServeOptions::new(global.data.clone().unwrap_or_else(default_data_dir));
    opts.listen = args.listen;
    opts.allow_remote = args.allow_remote;
    opts.tls_cert = args.tls_cert.clone();
    opts.tls_key = args.tls_key.clone();
    opts.token_ttl = args.token_ttl;
    opts.rate_limit = args.rate_limit;
    opts.cors.origins = args.cors_origins.clone();
    opts.cors.any_origin = args.cors_allow_any_origin;
    let fleet = start(&opts).await?;
    let c = &fleet.credentials;
    if fleet.created {
        // Shown once: only the hash of the key is stored in the database.
        eprintln!("fleetsh: new local fleet in {}", opts.data_dir.display());
        eprintln!("  organization  {}", c.org_id);
        eprintln!("  location      {}", c.location_id);
        eprintln!("  api key id    {}", c.api_key_id);
        eprintln!(
            "  api key       {}   (shown once; also in credentials.json, mode 0600)",
            c.api_key
        );
    }
    eprintln!(
        "fleetsh: serving the local fleet on {} (credentials: {})",
        c.address,
        crate::server::Credentials::path(&opts.data_dir).display()
    );
    if let Some(rate) = opts.rate_limit {
        eprintln!("fleetsh: each API key and part may make {rate} calls (--rate-limit)");
    }
    let simulated = crate::sim::serve(args.simulate.as_deref(), &fleet.credentials).await?;
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
