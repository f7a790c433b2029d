//! The local fleet: a wire-compatible server of the app API, backed by SQLite. `fleetsh serve`
//! exposes it on a socket; with no cloud credentials the client starts it in-process.

mod admin;
mod app_content;
mod app_service;
pub mod auth;
pub mod authz;
mod billing;
mod bootstrap;
mod call;
mod certificates;
mod checkpointer;
pub mod clock;
mod data;
mod data_pipelines;
mod devices;
pub mod error;
pub mod faults;
mod favorites;
mod fragment_revisions;
mod fragment_usage;
mod fragments;
mod in_process;
mod invites;
mod keys;
pub mod limits;
mod locations;
mod logs;
mod members; // made through the admin API
mod metadata;
mod ml_training;
mod module_usage;
mod modules;
mod oauth_apps;
mod on_first_call;
mod orgs;
mod packages;
mod parts;
pub mod rate_limit;
mod registry;
mod robot_config;
mod robot_service;
mod robots;
mod roles;
pub mod store;
pub(crate) mod structs;
mod summaries;
pub mod summaries_encode;
mod tls;
mod wal_vfs;
pub mod web;
mod white_label;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

pub use bootstrap::Credentials;
pub use on_first_call::{Embedded, FleetOnFirstCall};

use crate::proto::fleetsh::admin::v1::fleet_admin_service_server::FleetAdminServiceServer;
use crate::proto::rpc::v1::auth_service_server::AuthServiceServer;
use crate::proto::viam::app::data::v1::data_service_server::DataServiceServer;
use crate::proto::viam::app::datapipelines::v1::data_pipelines_service_server::DataPipelinesServiceServer;
use crate::proto::viam::app::dataset::v1::dataset_service_server::DatasetServiceServer;
use crate::proto::viam::app::datasync::v1::data_sync_service_server::DataSyncServiceServer;
use crate::proto::viam::app::mltraining::v1::ml_training_service_server::MlTrainingServiceServer;
use crate::proto::viam::app::packages::v1::package_service_server::PackageServiceServer;
use crate::proto::viam::app::v1::app_service_server::AppServiceServer;
use crate::proto::viam::app::v1::billing_service_server::BillingServiceServer;
use crate::proto::viam::app::v1::robot_service_server::RobotServiceServer;

/// Largest request accepted: module files travel whole in one message (the Python SDK sends
/// them that way), and the API promises files of at least 64 MiB.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// How long stopping waits for open calls and connections: a client that keeps its connection
/// open (an SDK's idle channel, a call slowed by a fault) must not keep a SIGTERM'd server up.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Shared state of every handler.
pub struct Api {
    pub store: store::Store,
    pub tokens: auth::Tokens,
    pub data_dir: PathBuf,
    /// The newest log sequence number; live tails wait on it.
    pub log_seq: tokio::sync::watch::Sender<i64>,
    /// Cancelled when the server stops, so long-lived streams (tails) end and let it.
    pub closing: tokio_util::sync::CancellationToken,
    /// Faults a test injects (`fleet.fault{...}`); empty otherwise.
    pub faults: faults::Faults,
    /// `--rate-limit`: calls per principal and second; None = unlimited.
    pub rate_limit: Option<rate_limit::RateLimit>,
    /// `http(s)://<listening address>`, where signed URLs point; set once
    /// the socket is bound.
    pub http_base: std::sync::OnceLock<String>,
    /// Callers' grants, kept until the next commit (call.rs).
    pub principals: call::Principals,
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub token_ttl: Duration,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub allow_remote: bool,
    /// Record the listening address in credentials.json (`fleetsh serve`, for other clients).
    /// The embedded fleet's port dies with its script: it writes the file only to keep a new key.
    pub publish_address: bool,
    /// Calls each principal may make (`--rate-limit`); None = unlimited.
    pub rate_limit: Option<crate::client::throttle::Rate>,
    /// Page origins allowed to call the fleet over gRPC-web, beyond loopback ones.
    pub cors: web::CorsOptions,
}

impl ServeOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: data_dir.into(),
            token_ttl: Duration::from_secs(3600),
            tls_cert: None,
            tls_key: None,
            allow_remote: false,
            publish_address: true,
            rate_limit: None,
            cors: web::CorsOptions::default(),
        }
    }
}

impl Api {
    /// Opens the fleet in `data_dir`, creating the first organization on first use.
    pub fn open(
        data_dir: &Path,
        token_ttl: Duration,
        rate_limit: Option<crate::client::throttle::Rate>,
    ) -> anyhow::Result<(Arc<Self>, bootstrap::Bootstrap)> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
        let store = store::Store::open(&data_dir.join("fleet.db"))?;
        let tokens = auth::Tokens::load_or_create(&store, token_ttl)?;
        let last_seq = logs::last_seq(&store)?;
        let api = Self {
            store,
            tokens,
            data_dir: data_dir.to_path_buf(),
            log_seq: tokio::sync::watch::channel(last_seq).0,
            closing: tokio_util::sync::CancellationToken::new(),
            faults: faults::Faults::default(),
            rate_limit: rate_limit.map(rate_limit::RateLimit::new),
            http_base: std::sync::OnceLock::new(),
            principals: call::Principals::default(),
        };
        let boot = bootstrap::ensure(&api)?;
        Ok((Arc::new(api), boot))
    }
}

/// Threads serving calls unless told otherwise: one less than the CPUs, at least 1. The server
/// listens on loopback by default, so its clients (scripts, the Python SDK) run on the same
/// machine: leave them a core. On 2 cores, 64 get_robot calls in flight ran at 50,000/s with
/// one worker against 35,000/s with two, which fought the client for CPU.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .max(1)
}

/// A server that has bound its socket and is serving in a background task.
pub struct RunningFleet {
    pub addr: SocketAddr,
    pub credentials: Credentials,
    /// True when this start created the organization and its first key.
    pub created: bool,
    pub api: Arc<Api>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl RunningFleet {
    /// Stops accepting, lets in-flight calls finish for up to `SHUTDOWN_GRACE`, closes the
    /// connections still open after it, and closes the database.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.api.closing.cancel();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
                Ok(served) => served??,
                Err(_) => {
                    tracing::warn!(
                        grace = ?SHUTDOWN_GRACE,
                        "connections still open after the grace period; closing them"
                    );
                    task.abort();
                }
            }
        }
        self.api.store.close();
        Ok(())
    }
}

/// Every service of the local fleet, each behind the token check it needs: the dispatch that
/// `fleetsh serve` and the embedded fleet both serve.
fn services(api: &Arc<Api>) -> in_process::Dispatch {
    let intercept = auth::interceptor(api.tokens.clone());
    let app = AppServiceServer::new(app_service::AppSvc(api.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let robot = RobotServiceServer::new(robot_service::RobotSvc(api.clone()));
    // Captured data and its uploads.
    let data_svc = DataServiceServer::new(data::service::DataSvc(api.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let data_sync = DataSyncServiceServer::new(data::service::DataSyncSvc(api.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    // datasets
    let datasets = DatasetServiceServer::new(data::service::DatasetSvc(api.clone()));
    // Billing and ML training, stored and returned only.
    let billing_svc = BillingServiceServer::new(billing::BillingSvc(api.clone()));
    let training_svc = MlTrainingServiceServer::new(ml_training::MlTrainingSvc(api.clone()));
    // Data pipelines (runs over the readings, results in a sink) and
    // packages (records with their bytes in the data dir, uploaded in chunks).
    let pipelines_svc =
        DataPipelinesServiceServer::new(data_pipelines::DataPipelinesSvc(api.clone()));
    let packages_svc = PackageServiceServer::new(packages::PackageSvc(api.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    // The busiest first: the in-process dispatch looks services up in this order.
    in_process::Dispatch::default()
        .add(InterceptedService::new(app, intercept.clone()))
        .add(AuthServiceServer::new(auth::AuthSvc(api.clone())))
        .add(InterceptedService::new(pipelines_svc, intercept.clone()))
        .add(InterceptedService::new(packages_svc, intercept.clone()))
        .add(InterceptedService::new(billing_svc, intercept.clone()))
        .add(InterceptedService::new(training_svc, intercept.clone()))
        .add(InterceptedService::new(data_svc, intercept.clone()))
        .add(InterceptedService::new(data_sync, intercept.clone()))
        .add(InterceptedService::new(datasets, intercept.clone()))
        .add(InterceptedService::new(robot, intercept.clone()))
        .add(InterceptedService::new(
            FleetAdminServiceServer::new(admin::AdminSvc(api.clone())),
            intercept,
        ))
}

/// The fleet as a tower service, for a client in the same process (the embedded fleet): the
/// same services, token checks, codec and messages as over a socket, without the socket, HTTP/2
/// framing, a second runtime hop or the router (in_process.rs).
pub fn in_process(api: &Arc<Api>) -> crate::client::Transport {
    use tower::{Layer, ServiceExt};
    let dispatch = services(api);
    let svc = call::NamedUnimplementedLayer.layer(dispatch);
    let svc = ServiceExt::<http::Request<tonic::body::Body>>::map_err(
        svc,
        |e: std::convert::Infallible| -> Box<dyn std::error::Error + Send + Sync> { match e {} },
    );
    tower::util::BoxCloneSyncService::new(svc)
}

/// Binds `opts.listen` (port 0 picks a free port) and serves until `stop`.
///
/// Everything that can fail without touching the data directory (the address, the TLS files,
/// the socket) comes first: a start that fails there leaves no half-made fleet behind, whose
/// owner key nobody was shown.
pub async fn start(opts: &ServeOptions) -> anyhow::Result<RunningFleet> {
    if !opts.listen.ip().is_loopback() && !opts.allow_remote {
        anyhow::bail!(
            "refusing to listen on non-loopback address {}: pass --allow-remote to expose the local fleet",
            opts.listen
        );
    }
    opts.cors.validate()?;
    let tls = match (&opts.tls_cert, &opts.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        (None, None) => None,
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    };
    let listener = TcpListener::bind(opts.listen).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {}: {e}; if another fleetsh serve holds it, stop it or pick another address with --listen",
            opts.listen
        )
    })?;
    let addr = listener.local_addr()?;
    let (api, boot) = Api::open(&opts.data_dir, opts.token_ttl, opts.rate_limit)?;
    let scheme = if opts.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    // Bound to every address (0.0.0.0, ::), the fleet is reached at loopback from here; signed
    // URLs name the address each request came to (signed_urls.rs).
    let reachable: SocketAddr = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            (std::net::Ipv4Addr::LOCALHOST, addr.port()).into()
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            (std::net::Ipv6Addr::LOCALHOST, addr.port()).into()
        }
        _ => addr,
    };
    let credentials = boot.credentials(&format!("{scheme}://{reachable}"));
    let _ = api.http_base.set(format!("{scheme}://{reachable}"));
    if opts.publish_address || boot.created {
        credentials.write(&opts.data_dir)?;
    }

    // HTTP/1.1 too: the TypeScript SDK's fetch and pages speak gRPC-web over it. CORS comes
    // first, so preflights are answered before any authentication; gRPC-web translation next,
    // so that everything inside sees plain gRPC.
    let dispatch = services(&api);
    let router = Server::builder()
        .accept_http1(true)
        .layer(web::BrowserCorsLayer::new(opts.cors.layer()))
        // Signed URLs are plain HTTP GETs, answered before gRPC-web (which
        // refuses other HTTP/1.1 requests) and outside the token checks (the URL's token is
        // the credential).
        .layer(data::signed_urls::layer(&api, addr))
        .layer(tonic_web::GrpcWebLayer::new())
        // Names the method in UNIMPLEMENTED answers, which tonic sends without a message.
        .layer(call::NamedUnimplementedLayer)
        // tonic's server serves a `Routes` under its layers; the last layer puts the services'
        // dispatch by name (in_process.rs, as the embedded fleet uses) in its place: axum's
        // path matching, URL-parameter map and route clone were ~2,000 instructions a call.
        .layer(tower::layer::layer_fn(move |_: Routes| dispatch.clone()))
        .add_routes(Routes::default());

    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stopped = async {
        let _ = rx.await;
    };
    let task = match tls {
        Some(acceptor) => tokio::spawn(async move {
            let incoming = tls::incoming(listener, acceptor);
            router
                .serve_with_incoming_shutdown(incoming, stopped)
                .await
                .context("server failed")
        }),
        None => tokio::spawn(async move {
            // No Nagle: tonic writes a reply's trailers in a second small write, which Nagle
            // holds until the client's delayed ACK (~40 ms) whenever another write is
            // unacknowledged.
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            router
                .serve_with_incoming_shutdown(incoming, stopped)
                .await
                .context("server failed")
        }),
    };
    Ok(RunningFleet {
        addr,
        credentials,
        created: boot.created,
        api,
        shutdown: Some(tx),
        task: Some(task),
    })
}
