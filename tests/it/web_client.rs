//! A gRPC-web client for tests: tonic-web's client layer over an HTTP/1.1-only hyper client,
//! plaintext or TLS, so that any tonic client (typed or `dynamic::call`) speaks to the fleet as
//! the TypeScript SDK's default transport does.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Uri;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tonic::body::Body;
use tonic_web::{GrpcWebCall, GrpcWebClientLayer, GrpcWebClientService};
use tower::Layer;

type Http1 = Client<HttpsConnector<HttpConnector>, GrpcWebCall<Body>>;

/// Sends every request to `origin` (tonic's clients give only the path) over gRPC-web.
#[derive(Clone)]
pub struct WebChannel {
    origin: Uri,
    inner: GrpcWebClientService<Http1>,
}

impl WebChannel {
    /// `address` as in credentials.json (`http://` or `https://`); `ca_pem` trusts a test CA.
    pub fn new(address: &str, ca_pem: Option<&[u8]>) -> Self {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca_pem.unwrap_or_default()) {
            roots.add(c.expect("a PEM certificate")).unwrap();
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        // HTTP/1.1 only, offered alone in ALPN as Node's fetch does: the server must accept it.
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Self {
            origin: address.parse().expect("an http(s) URL"),
            inner: GrpcWebClientLayer::new().layer(client),
        }
    }
}

type Inner = GrpcWebClientService<Http1>;
type Reply = <Inner as tower::Service<http::Request<Body>>>::Response;
type Failure = <Inner as tower::Service<http::Request<Body>>>::Error;

impl tower::Service<http::Request<Body>> for WebChannel {
    type Response = Reply;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Reply, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let mut parts = self.origin.clone().into_parts();
        parts.path_and_query = req.uri().path_and_query().cloned();
        *req.uri_mut() = Uri::from_parts(parts).expect("origin plus path");
        let reply = self.inner.call(req);
        Box::pin(async move {
            let reply = reply
                .await
                .map_err(|e: Failure| Box::new(e) as Self::Error)?;
            // hyper carries HTTP/1.1 trailers, browsers do not: only a gRPC-web answer (its
            // status inside the body) is one a page could read.
            let kind = reply.headers().get(http::header::CONTENT_TYPE);
            let web = kind
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/grpc-web"));
            if !web {
                return Err(format!("not a gRPC-web answer: content-type {kind:?}").into());
            }
            Ok(reply)
        })
    }
}
