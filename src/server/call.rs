//! The plumbing every call goes through, in one place: the caller's grants loaded from its
//! token's claims, the size limits, the handler, one log line, the error mapped to a status.
//! Unary, server-streaming and client-streaming RPCs each have one entry point here, and
//! `rpc_table!` pairs each RPC of a service with its handler (app_service.rs, robot_service.rs)
//! so that adding an RPC is one line in a table plus its handler.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use futures::Stream;
use rusqlite::OptionalExtension;
use tonic::{Request, Response, Status, Streaming};

use super::Api;
use super::auth::{API_KEY, Claims, ROBOT_SECRET, USER, grants_of};
use super::authz::{Identity, Principal};
use super::error::{ApiError, ApiResult};
use super::limits;
use super::store::row;

/// The reply of a server-streaming RPC.
pub type ServerStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// A server-streaming handler that reads the request's metadata and answers with its own.
pub type MetadataStreamHandler<Req, T> = fn(
    &Arc<Api>,
    &Principal,
    &tonic::metadata::MetadataMap,
    Req,
) -> ApiResult<Response<ServerStream<T>>>;

/// Callers' principals as the store had them at a grants generation (store.rs): a call whose
/// caller's grants were loaded since the last commit that changed any reuses them instead of
/// two queries.
#[derive(Default)]
pub struct Principals(Mutex<HashMap<String, KeptPrincipal>>);

/// A caller's principal, by its token's subject: the credential type, the grants generation it
/// was loaded at, and the principal.
type KeptPrincipal = (&'static str, u64, Arc<Principal>);

/// More callers than this at one generation is not a script's loop: start over.
const PRINCIPALS_KEPT: usize = 1024;

impl Api {
    /// The principal behind a verified token, with its grants as they are now (so a deleted
    /// key stops working at once, even while its token is still fresh: deleting it commits,
    /// and a commit invalidates every kept principal).
    pub fn principal(&self, claims: Option<&Claims>) -> ApiResult<Arc<Principal>> {
        let claims =
            claims.ok_or_else(|| ApiError::Unauthenticated("authentication required".into()))?;
        // Read before loading: a commit in between leaves the entry at a stale generation.
        let generation = self.store.grants_generation();
        let kept = self.principals.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((t, g, p)) = kept.get(&claims.sub)
            && *g == generation
            && *t == claims.rpc_creds_type
        {
            return Ok(p.clone());
        }
        drop(kept);
        let p = Arc::new(self.load_principal(claims)?);
        let mut kept = self.principals.0.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= PRINCIPALS_KEPT {
            kept.clear();
        }
        kept.insert(
            claims.sub.clone(),
            (claims.rpc_creds_type, generation, p.clone()),
        );
        Ok(p)
    }

    fn load_principal(&self, claims: &Claims) -> ApiResult<Principal> {
        self.store.read(|c| match claims.rpc_creds_type {
            API_KEY => {
                let org_id: Option<String> = row(
                    c,
                    "SELECT org_id FROM api_keys WHERE id = ?1",
                    [&claims.sub],
                    |r| r.get(0),
                )
                .optional()?;
                let org_id = org_id.ok_or_else(|| {
                    ApiError::Unauthenticated("unauthenticated: this API key was deleted".into())
                })?;
                Ok(Principal {
                    identity: Identity::ApiKey {
                        id: claims.sub.clone(),
                        org_id,
                    },
                    grants: grants_of(c, &claims.sub)?,
                })
            }
            ROBOT_SECRET => Ok(Principal {
                identity: Identity::Part {
                    id: claims.sub.clone(),
                },
                grants: vec![],
            }),
            USER => {
                let known = row(
                    c,
                    "SELECT 1 FROM users WHERE id = ?1",
                    [&claims.sub],
                    |_| Ok(()),
                )
                .optional()?;
                if known.is_none() {
                    return Err(ApiError::Unauthenticated(
                        "unauthenticated: this user was deleted".into(),
                    ));
                }
                Ok(Principal {
                    identity: Identity::User {
                        id: claims.sub.clone(),
                    },
                    grants: grants_of(c, &claims.sub)?,
                })
            }
            other => Err(ApiError::Unauthenticated(format!(
                "unauthenticated: unknown credential type {other:?}"
            ))),
        })
    }

    /// Before anything else runs: the caller's rate limit (rate_limit.rs), then a fault a
    /// test injected for this call (faults.rs).
    pub async fn admit<Req: prost::Message>(
        &self,
        method: &'static str,
        request: &Request<Req>,
    ) -> Result<(), Status> {
        let claims = request.extensions().get::<Arc<Claims>>().map(|c| &**c);
        if let Some(limit) = &self.rate_limit {
            limit.admit(principal_of(claims)).inspect_err(|s| {
                log_call(method, principal_of(claims), Some(s.code()), Instant::now())
            })?;
        }
        self.faults
            .apply(method, principal_of(claims), request.get_ref())
            .await
    }

    /// Runs one unary handler for the caller named by the request's token claims.
    pub fn unary<Req: prost::Message, Resp>(
        &self,
        method: &'static str,
        mut request: Request<Req>,
        handler: fn(&Api, &Principal, Req) -> ApiResult<Resp>,
    ) -> Result<Response<Resp>, Status> {
        let start = Instant::now();
        let claims = request.extensions_mut().remove::<Arc<Claims>>();
        let result = self.principal(claims.as_deref()).and_then(|who| {
            let req = request.into_inner();
            limits::check(method, &req)?;
            handler(self, &who, req)
        });
        log_call(
            method,
            principal_of(claims.as_deref()),
            code_of(&result),
            start,
        );
        result.map(Response::new).map_err(Status::from)
    }

    /// Opens one server stream: the checks run and the line is logged when it opens; the
    /// handler's stream then carries its own errors.
    pub fn server_stream<Req: prost::Message, T>(
        self: &Arc<Self>,
        method: &'static str,
        mut request: Request<Req>,
        handler: fn(&Arc<Api>, &Principal, Req) -> ApiResult<ServerStream<T>>,
    ) -> Result<Response<ServerStream<T>>, Status> {
        let start = Instant::now();
        let claims = request.extensions_mut().remove::<Arc<Claims>>();
        let result = self.principal(claims.as_deref()).and_then(|who| {
            let req = request.into_inner();
            limits::check(method, &req)?;
            handler(self, &who, req)
        });
        log_call(
            method,
            principal_of(claims.as_deref()),
            code_of(&result),
            start,
        );
        result.map(Response::new).map_err(Status::from)
    }

    /// Opens one server stream whose handler reads the request's metadata and may set the
    /// reply's (the log tail's resume cursor, logs.rs); otherwise as `server_stream`.
    pub fn server_stream_with_metadata<Req: prost::Message, T>(
        self: &Arc<Self>,
        method: &'static str,
        mut request: Request<Req>,
        handler: MetadataStreamHandler<Req, T>,
    ) -> Result<Response<ServerStream<T>>, Status> {
        let start = Instant::now();
        let claims = request.extensions_mut().remove::<Arc<Claims>>();
        let result = self.principal(claims.as_deref()).and_then(|who| {
            let (md, _, req) = request.into_parts();
            limits::check(method, &req)?;
            handler(self, &who, &md, req)
        });
        log_call(
            method,
            principal_of(claims.as_deref()),
            code_of(&result),
            start,
        );
        result.map_err(Status::from)
    }

    /// Runs one client-streaming handler to its reply. The stream's messages are the
    /// handler's to check: they arrive after the caller is known.
    pub async fn client_stream<Req, Resp, F, Fut>(
        self: &Arc<Self>,
        method: &'static str,
        mut request: Request<Streaming<Req>>,
        handler: F,
    ) -> Result<Response<Resp>, Status>
    where
        F: FnOnce(Arc<Api>, Principal, Streaming<Req>) -> Fut,
        Fut: Future<Output = ApiResult<Resp>>,
    {
        let start = Instant::now();
        let claims = request.extensions_mut().remove::<Arc<Claims>>();
        let result = match self.principal(claims.as_deref()) {
            Ok(who) => handler(self.clone(), (*who).clone(), request.into_inner()).await,
            Err(e) => Err(e),
        };
        log_call(
            method,
            principal_of(claims.as_deref()),
            code_of(&result),
            start,
        );
        result.map(Response::new).map_err(Status::from)
    }
}

fn principal_of(claims: Option<&Claims>) -> &str {
    claims.map_or("-", |c| c.sub.as_str())
}

fn code_of<T>(result: &ApiResult<T>) -> Option<tonic::Code> {
    result.as_ref().err().map(ApiError::code)
}

/// One line per request: method, principal, status and latency. Never a request body, so
/// never a secret.
pub fn log_call(method: &str, principal: &str, err: Option<tonic::Code>, start: Instant) {
    let status = err.unwrap_or(tonic::Code::Ok);
    let micros = start.elapsed().as_micros() as u64;
    // Successes at debug: formatting and writing a line per call cost ~8% of a read's server
    // CPU. Refusals stay visible at info, server faults at error.
    match status {
        tonic::Code::Ok => tracing::debug!(method, principal, micros, "request"),
        tonic::Code::Internal | tonic::Code::Unknown => {
            tracing::error!(method, principal, ?status, micros, "request")
        }
        _ => tracing::info!(method, principal, ?status, micros, "request"),
    }
}

/// The `impl` of a tonic service trait from a table of its RPCs, each paired with its handler:
///
/// ```text
/// rpc_table! {
///     impl AppService for AppSvc;
///     unary {
///         get_robot(GetRobotRequest) -> GetRobotResponse = robots::get_robot;
///     }
///     server_streaming {
///         tail_robot_part_logs(TailRobotPartLogsRequest)
///             -> stream TailRobotPartLogsResponse = logs::tail_robot_part_logs;
///     }
///     client_streaming {
///         upload_module_file(UploadModuleFileRequest) -> UploadModuleFileResponse = modules::upload_module_file;
///     }
/// }
/// ```
///
/// A unary handler is `fn(&Api, &Principal, Req) -> ApiResult<Resp>`, a server-streaming one `fn(&Arc<Api>, &Principal, Req) ->
/// ApiResult<ServerStream<Item>>`, a client-streaming one an `async fn(Arc<Api>, Principal,
/// Streaming<Req>) -> ApiResult<Resp>`. An optional last section, `server_streaming_with_metadata
/// { ... }`, takes server-streaming handlers of type `MetadataStreamHandler`. async_trait must
/// see every method of the trait at once, hence one macro for the whole impl.
macro_rules! rpc_table {
    (
        impl $service:ident for $svc:ident;
        unary { $($method:ident($req:ty) -> $resp:ty = $handler:path;)* }
        server_streaming {
            $($s_method:ident($s_req:ty) -> stream $s_item:ty = $s_handler:path;)*
        }
        client_streaming { $($c_method:ident($c_req:ty) -> $c_resp:ty = $c_handler:path;)* }
        $(server_streaming_with_metadata {
            $($m_method:ident($m_req:ty) -> stream $m_item:ty = $m_handler:path;)*
        })?
    ) => {
        pub struct $svc(pub std::sync::Arc<$crate::server::Api>);

        #[tonic::async_trait]
        impl $service for $svc {
            $(
                async fn $method(
                    &self,
                    request: tonic::Request<$req>,
                ) -> Result<tonic::Response<$resp>, tonic::Status> {
                    self.0.admit(stringify!($method), &request).await?;
                    self.0.unary(stringify!($method), request, $handler)
                }
            )*
            $(
                // The stub-generating build names every stream type tonic's BoxStream, which
                // ServerStream is.
                async fn $s_method(
                    &self,
                    request: tonic::Request<$s_req>,
                ) -> Result<
                    tonic::Response<$crate::server::call::ServerStream<$s_item>>,
                    tonic::Status,
                > {
                    self.0.admit(stringify!($s_method), &request).await?;
                    self.0.server_stream(stringify!($s_method), request, $s_handler)
                }
            )*
            $($(
                async fn $m_method(
                    &self,
                    request: tonic::Request<$m_req>,
                ) -> Result<
                    tonic::Response<$crate::server::call::ServerStream<$m_item>>,
                    tonic::Status,
                > {
                    self.0.admit(stringify!($m_method), &request).await?;
                    self.0
                        .server_stream_with_metadata(stringify!($m_method), request, $m_handler)
                }
            )*)?
            $(
                async fn $c_method(
                    &self,
                    request: tonic::Request<tonic::Streaming<$c_req>>,
                ) -> Result<tonic::Response<$c_resp>, tonic::Status> {
                    self.0.client_stream(stringify!($c_method), request, $c_handler).await
                }
            )*
        }
    };
}
pub(crate) use rpc_table;

/// The message of an UNIMPLEMENTED answer, naming the method (`path` as on the wire:
/// "/viam.app.v1.AppService/Foo").
pub fn unimplemented_message(path: &str) -> String {
    format!(
        "method {} is not implemented by the local fleet",
        path.trim_start_matches('/')
    )
}

/// What the RPCs of proto/ without a handler answer (tonic-build's default stubs, build.rs).
const TONIC_STUB_MESSAGE: &str = "Not yet implemented";

/// Names the method in every UNIMPLEMENTED answer that came without a message: tonic's own
/// (a path no service serves, a method a served service lacks, an RPC without a handler) and
/// a handler's `ApiError::Unimplemented`.
/// Errors are headers-only gRPC replies, so the status is read from the reply's headers.
#[derive(Clone, Copy, Default)]
pub struct NamedUnimplementedLayer;

impl<S> tower::Layer<S> for NamedUnimplementedLayer {
    type Service = NamedUnimplemented<S>;
    fn layer(&self, inner: S) -> Self::Service {
        NamedUnimplemented(inner)
    }
}

#[derive(Clone)]
pub struct NamedUnimplemented<S>(S);

impl<S, B, RB> tower::Service<http::Request<B>> for NamedUnimplemented<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    RB: Default,
{
    type Response = http::Response<RB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // A Uri clone shares its bytes: no copy of the path on the hot path.
        let uri = req.uri().clone();
        let reply = self.0.call(req);
        Box::pin(async move {
            let reply = reply.await?;
            // Only error replies carry a status in their headers: successes pass untouched.
            let unnamed = Status::from_header_map(reply.headers()).is_some_and(|s| {
                s.code() == tonic::Code::Unimplemented
                    && (s.message().is_empty() || s.message() == TONIC_STUB_MESSAGE)
            });
            if unnamed {
                return Ok(Status::unimplemented(unimplemented_message(uri.path())).into_http());
            }
            Ok(reply)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every request with the reply `status` would be on the wire.
    #[derive(Clone)]
    struct Answer(Status);

    impl tower::Service<http::Request<()>> for Answer {
        type Response = http::Response<()>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<http::Response<()>, Self::Error>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            std::future::ready(Ok(self.0.clone().into_http()))
        }
    }

    async fn status_through_layer(answer: Status, path: &str) -> Status {
        use tower::{Layer, Service};
        let mut svc = NamedUnimplementedLayer.layer(Answer(answer));
        let req = http::Request::builder().uri(path).body(()).unwrap();
        let reply = svc.call(req).await.unwrap();
        Status::from_header_map(reply.headers()).expect("a status in the headers")
    }

    #[tokio::test]
    async fn an_unnamed_unimplemented_reply_gets_the_method_name() {
        let unnamed: Status = ApiError::Unimplemented.into();
        assert_eq!(unnamed.message(), "");
        let s = status_through_layer(unnamed, "/viam.app.v1.AppService/Foo").await;
        assert_eq!(s.code(), tonic::Code::Unimplemented);
        assert_eq!(
            s.message(),
            "method viam.app.v1.AppService/Foo is not implemented by the local fleet"
        );
    }

    #[tokio::test]
    async fn a_default_stub_names_its_method() {
        let stub = Status::unimplemented("Not yet implemented");
        let s = status_through_layer(stub, "/viam.app.v1.AppService/ListMachineSummaries").await;
        assert_eq!(
            s.message(),
            "method viam.app.v1.AppService/ListMachineSummaries is not implemented by the local fleet"
        );
    }

    #[tokio::test]
    async fn other_replies_pass_unchanged() {
        let named = Status::unimplemented("already says why");
        let s = status_through_layer(named, "/a.B/C").await;
        assert_eq!(s.message(), "already says why");
        let s = status_through_layer(Status::not_found("robot \"x\" not found"), "/a.B/C").await;
        assert_eq!(
            (s.code(), s.message()),
            (tonic::Code::NotFound, "robot \"x\" not found")
        );
    }
}
