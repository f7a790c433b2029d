//! The embedded fleet of a script run or the REPL, opened at the first call that reaches it: a
//! run that makes no call never opens the store (SQLite's schema read was ~30% of a start),
//! binds no socket and checkpoints nothing at exit. The first call opens it exactly as
//! `server::start` does at a start today; later calls go straight to the in-process dispatch.
//!
//! The client is made before the fleet is open, so it holds no token: this transport adds the
//! fleet's own (issued in-process, as `client::target::local` does, renewed before it expires)
//! to every request that carries none. The client keeps the key from credentials.json, so a
//! refused token is re-exchanged and a refused key reported as on any fleet.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::SystemTime;

use http::HeaderValue;
use http::header::AUTHORIZATION;
use tonic::body::Body;
use tower::{Service, ServiceExt};

use super::{RunningFleet, ServeOptions, start};
use crate::client::Transport;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The embedded fleet of a run: started before the script (a fresh data directory, whose first
/// start makes the organization and its key), or opened at the script's first call.
pub enum Embedded {
    Started(RunningFleet),
    OnFirstCall(FleetOnFirstCall),
}

impl Embedded {
    /// Why the fleet could not be opened at the first call (the start's own message), if it
    /// was tried and failed.
    pub fn failed_open(&self) -> Option<String> {
        match self {
            Embedded::Started(_) => None,
            Embedded::OnFirstCall(f) => f.failed_open(),
        }
    }

    /// Stops the fleet if it runs (`RunningFleet::stop`); one never opened has nothing to stop.
    pub async fn stop(self) -> anyhow::Result<()> {
        match self {
            Embedded::Started(fleet) => fleet.stop().await,
            Embedded::OnFirstCall(f) => f.stop().await,
        }
    }
}

/// A fleet opened by the first request sent through `transport()`.
#[derive(Clone)]
pub struct FleetOnFirstCall(Arc<Lazy>);

struct Lazy {
    opts: ServeOptions,
    /// The open fleet's dispatch and token, or the start's error (`{e:#}`), said to every call.
    opened: tokio::sync::OnceCell<Result<Opened, String>>,
    /// Taken by `stop`.
    fleet: Mutex<Option<RunningFleet>>,
}

struct Opened {
    dispatch: Transport,
    token: Mutex<Token>,
    api: Arc<super::Api>,
    key_id: String,
}

struct Token {
    header: HeaderValue,
    renew_at: Option<SystemTime>,
}

impl Opened {
    fn token(api: &super::Api, key_id: &str) -> anyhow::Result<Token> {
        let token = api.tokens.issue(key_id, super::auth::API_KEY)?;
        Ok(Token {
            header: HeaderValue::try_from(format!("Bearer {token}"))?,
            renew_at: crate::client::auth::renew_at(&token),
        })
    }

    /// The fleet's token for a request that carries none, issued again shortly before it expires.
    fn header(&self) -> anyhow::Result<HeaderValue> {
        let mut token = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if token.renew_at.is_some_and(|at| at <= SystemTime::now()) {
            *token = Self::token(&self.api, &self.key_id)?;
        }
        Ok(token.header.clone())
    }
}

impl FleetOnFirstCall {
    /// A fleet in `opts.data_dir`, started with `opts` at the first call.
    pub fn new(opts: ServeOptions) -> Self {
        Self(Arc::new(Lazy {
            opts,
            opened: tokio::sync::OnceCell::new(),
            fleet: Mutex::new(None),
        }))
    }

    /// What the client sends its calls through.
    pub fn transport(&self) -> Transport {
        Transport::new(self.clone())
    }

    fn failed_open(&self) -> Option<String> {
        match self.0.opened.get() {
            Some(Err(e)) => Some(e.clone()),
            _ => None,
        }
    }

    /// Stops the fleet if a call opened it (after the Lua state that calls it is gone).
    pub async fn stop(self) -> anyhow::Result<()> {
        let fleet = self
            .0
            .fleet
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match fleet {
            Some(f) => f.stop().await,
            None => Ok(()),
        }
    }
}

impl Lazy {
    /// Concurrent first calls (`cloud.parallel`) wait for one open.
    async fn open(&self) -> &Result<Opened, String> {
        self.opened
            .get_or_init(|| async {
                let fleet = start(&self.opts).await.map_err(|e| format!("{e:#}"))?;
                let key_id = fleet.credentials.api_key_id.clone();
                let token = Opened::token(&fleet.api, &key_id).map_err(|e| format!("{e:#}"))?;
                let opened = Opened {
                    dispatch: super::in_process(&fleet.api),
                    token: Mutex::new(token),
                    api: fleet.api.clone(),
                    key_id,
                };
                *self.fleet.lock().unwrap_or_else(|p| p.into_inner()) = Some(fleet);
                Ok(opened)
            })
            .await
    }
}

impl Service<http::Request<Body>> for FleetOnFirstCall {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The dispatch is always ready; opening happens in the call.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let lazy = self.0.clone();
        Box::pin(async move {
            let opened = match lazy.open().await {
                Ok(o) => o,
                // Not a status the client retries: the runner reports the start's error
                // itself when the script ends (run.rs).
                Err(e) => {
                    let status = tonic::Status::failed_precondition(format!(
                        "cannot open the local fleet in {}: {e}",
                        lazy.opts.data_dir.display()
                    ));
                    return Ok(status.into_http());
                }
            };
            // A key exchange (a script's `check_key`, a renewal) goes without a token, as the
            // server requires of Authenticate.
            let key_exchange = req.uri().path().starts_with("/proto.rpc.v1.AuthService/");
            if !key_exchange && !req.headers().contains_key(AUTHORIZATION) {
                let header = opened.header().map_err(BoxError::from)?;
                req.headers_mut().insert(AUTHORIZATION, header);
            }
            opened.dispatch.clone().oneshot(req).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tonic::Code;

    use super::*;
    use crate::proto::viam::app::v1::ListOrganizationsRequest;
    use crate::proto::viam::app::v1::app_service_client::AppServiceClient;

    fn options(dir: &std::path::Path) -> ServeOptions {
        let mut opts = ServeOptions::new(dir);
        opts.listen = ([127, 0, 0, 1], 0).into();
        opts.publish_address = false;
        opts
    }

    async fn orgs(fleet: &FleetOnFirstCall) -> Result<usize, tonic::Status> {
        let mut app = AppServiceClient::new(fleet.transport());
        let reply = app.list_organizations(ListOrganizationsRequest {}).await?;
        Ok(reply.into_inner().organizations.len())
    }

    #[tokio::test]
    async fn the_store_opens_at_the_first_call_which_carries_the_fleets_token() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("fleet");
        let fleet = FleetOnFirstCall::new(options(&data));
        let _transport = fleet.transport();
        assert!(!data.exists(), "opened before any call");
        // No authorization header: the transport adds the fleet's token.
        assert_eq!(orgs(&fleet).await.unwrap(), 1);
        assert!(data.join("fleet.db").exists());
        assert_eq!(fleet.failed_open(), None);
        fleet.stop().await.unwrap();
    }

    #[tokio::test]
    async fn the_fleets_token_is_issued_again_before_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = options(dir.path());
        // Renewed a second before it expires (auth::renew_at).
        opts.token_ttl = Duration::from_secs(2);
        let fleet = FleetOnFirstCall::new(opts);
        assert_eq!(orgs(&fleet).await.unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(
            orgs(&fleet).await.unwrap(),
            1,
            "the first token has expired"
        );
        fleet.stop().await.unwrap();
    }

    #[tokio::test]
    async fn a_fleet_that_cannot_open_refuses_every_call_with_the_starts_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "").unwrap();
        let fleet = FleetOnFirstCall::new(options(&file));
        for _ in 0..2 {
            let err = orgs(&fleet).await.unwrap_err();
            assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
            assert!(
                err.message().contains("cannot create data directory"),
                "{err:?}"
            );
        }
        let why = fleet.failed_open().unwrap();
        assert!(why.starts_with("cannot create data directory"), "{why}");
        fleet.stop().await.unwrap();
    }
}
