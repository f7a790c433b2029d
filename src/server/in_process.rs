//! The local fleet as a tower service for a client in the same process (the
//! embedded fleet, the default target). The same services, token checks, codec and messages as
//! over a socket (`fleetsh serve` serves this same dispatch under its layers), by the service
//! name of the path instead of through tonic's axum router: its matching, URL-parameter map and
//! per-call route clone were ~8% of an in-process get_robot (callgrind).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{Either, Ready, ready};
use tonic::body::Body;
use tonic::server::NamedService;
use tower::util::{BoxCloneSyncService, Oneshot};
use tower::{Service, ServiceExt};

type Svc = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// A service the dispatch can hold: a tonic server (maybe intercepted), its bounds said once.
pub trait FleetService<B>:
    Service<http::Request<Body>, Response = http::Response<B>, Error = Infallible, Future: Send>
    + NamedService
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S, B> FleetService<B> for S where
    S: Service<http::Request<Body>, Response = http::Response<B>, Error = Infallible, Future: Send>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// A reply body the dispatch can send.
pub trait ReplyBody:
    http_body::Body<Data = bytes::Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
    + Send
    + 'static
{
}

impl<B> ReplyBody for B where
    B: http_body::Body<Data = bytes::Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static
{
}

/// The services by name; a path naming none is answered UNIMPLEMENTED, as the router does
/// (`call::NamedUnimplemented` then names the method).
#[derive(Clone, Default)]
pub struct Dispatch(Arc<Vec<(&'static str, Svc)>>);

impl Dispatch {
    /// `svc` added under its service name (`services` in server/mod.rs lists them all).
    pub fn add<S: FleetService<B>, B: ReplyBody>(mut self, svc: S) -> Self {
        let svc = svc.map_response(|r: http::Response<B>| r.map(Body::new));
        Arc::make_mut(&mut self.0).push((S::NAME, BoxCloneSyncService::new(svc)));
        self
    }

    /// The service a request's path (`/package.Service/Method`) names.
    fn service(&self, path: &str) -> Option<&Svc> {
        let name = path.strip_prefix('/')?.split_once('/')?.0;
        self.0.iter().find(|(n, _)| *n == name).map(|(_, s)| s)
    }
}

impl Service<http::Request<Body>> for Dispatch {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future =
        Either<Oneshot<Svc, http::Request<Body>>, Ready<Result<http::Response<Body>, Infallible>>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Each call readies its own service (Oneshot).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match self.service(req.uri().path()) {
            Some(svc) => Either::Left(svc.clone().oneshot(req)),
            None => Either::Right(ready(Ok(tonic::Status::unimplemented("").into_http()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tonic::Code;

    use crate::proto::viam::app::v1::ListOrganizationsRequest;
    use crate::proto::viam::app::v1::app_service_client::AppServiceClient;
    use crate::server::{Api, auth::API_KEY, in_process};

    fn fleet() -> (tempfile::TempDir, std::sync::Arc<Api>, String) {
        let dir = tempfile::tempdir().unwrap();
        let (api, boot) = Api::open(dir.path(), Duration::from_secs(3600), None).unwrap();
        let token = api.tokens.issue(&boot.api_key_id, API_KEY).unwrap();
        (dir, api, token)
    }

    fn list_orgs(token: Option<&str>) -> tonic::Request<ListOrganizationsRequest> {
        let mut req = tonic::Request::new(ListOrganizationsRequest {});
        if let Some(t) = token {
            let value = format!("Bearer {t}").parse().unwrap();
            req.metadata_mut().insert("authorization", value);
        }
        req
    }

    #[tokio::test]
    async fn in_process_calls_pass_the_same_token_check() {
        let (_dir, api, token) = fleet();
        let mut client = AppServiceClient::new(in_process(&api));
        let orgs = client.list_organizations(list_orgs(Some(&token))).await;
        assert_eq!(orgs.unwrap().into_inner().organizations.len(), 1);
        let refused = client
            .list_organizations(list_orgs(None))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
        let forged = client
            .list_organizations(list_orgs(Some("not.a.token")))
            .await
            .unwrap_err();
        assert_eq!(forged.code(), Code::Unauthenticated, "{forged:?}");
    }

    #[tokio::test]
    async fn an_unknown_service_is_unimplemented_by_name() {
        let (_dir, api, token) = fleet();
        let mut grpc = tonic::client::Grpc::new(in_process(&api));
        grpc.ready().await.unwrap();
        let path = http::uri::PathAndQuery::from_static("/viam.app.v1.NoSuchService/Foo");
        let codec = tonic_prost::ProstCodec::<ListOrganizationsRequest, ()>::default();
        let err = grpc
            .unary(list_orgs(Some(&token)), path, codec)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented, "{err:?}");
        assert_eq!(
            err.message(),
            "method viam.app.v1.NoSuchService/Foo is not implemented by the local fleet"
        );
    }
}
