//! Browsers and the TypeScript SDK on the gRPC port: gRPC-web (tonic-web) and CORS
//! (tower-http). The CORS layer sits outside authentication, so a preflight is answered
//! without a token, and only origins allowed here get `Access-Control-Allow-Origin`.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::Either;
use http::{HeaderName, HeaderValue, Method, Request, Response, header::ORIGIN};
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Which page origins may call the fleet. Loopback origins always may.
#[derive(Debug, Clone, Default)]
pub struct CorsOptions {
    /// Further origins (`--cors-origin`), as `scheme://host[:port]`.
    pub origins: Vec<String>,
    /// Any origin (`--cors-allow-any-origin`): for a fleet that pages on other hosts use.
    pub any_origin: bool,
}

/// Request headers a gRPC-web page sends: connect-web's (content-type, x-grpc-web,
/// x-user-agent, grpc-timeout, compression), the bearer token, and the Viam SDK's client tag.
const ALLOWED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "grpc-encoding",
    "grpc-accept-encoding",
    "viam_client",
];

/// Response headers a page must be able to read: a trailers-only answer carries its status in
/// headers.
const EXPOSED_HEADERS: &[&str] = &[
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
];

impl CorsOptions {
    /// Refuses origins a browser never sends, so a typo fails at start instead of as a
    /// page's CORS error.
    pub fn validate(&self) -> anyhow::Result<()> {
        for o in &self.origins {
            if o == "*" {
                anyhow::bail!(
                    "--cors-origin '*' is refused: pass --cors-allow-any-origin to let pages of any origin call the fleet"
                );
            }
            if split_origin(o).is_none() {
                anyhow::bail!(
                    "--cors-origin {o:?} is not an origin: write scheme://host[:port], e.g. https://app.example.com:8443, with no path"
                );
            }
        }
        Ok(())
    }

    pub fn layer(&self) -> CorsLayer {
        let origin = if self.any_origin {
            AllowOrigin::any()
        } else {
            let extra: Vec<String> = self.origins.clone();
            AllowOrigin::predicate(move |o: &HeaderValue, _| {
                o.to_str()
                    .is_ok_and(|o| is_loopback_origin(o) || extra.iter().any(|e| e == o))
            })
        };
        let names = |l: &'static [&'static str]| -> Vec<HeaderName> {
            l.iter().map(|h| HeaderName::from_static(h)).collect()
        };
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::POST, Method::OPTIONS])
            .allow_headers(names(ALLOWED_HEADERS))
            .expose_headers(names(EXPOSED_HEADERS))
            // Browsers cap this (Chromium: 2 h); it saves a preflight per call.
            .max_age(Duration::from_secs(3600))
    }
}

/// CORS only for requests with an `Origin` header, which browsers send on every cross-origin
/// call and every POST (a preflight is an OPTIONS with one): gRPC clients send none and get no
/// CORS headers. tower-http's layer built `Vary` and its other headers on every call and the
/// server's layer stack is cloned per call (~2,500 instructions of a get_robot).
#[derive(Clone)]
pub struct BrowserCorsLayer(Arc<CorsLayer>);

impl BrowserCorsLayer {
    pub fn new(cors: CorsLayer) -> Self {
        Self(Arc::new(cors))
    }
}

impl<S> Layer<S> for BrowserCorsLayer {
    type Service = BrowserCors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BrowserCors {
            cors: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct BrowserCors<S> {
    cors: Arc<CorsLayer>,
    inner: S,
}

impl<S, B, ResB> Service<Request<B>> for BrowserCors<S>
where
    S: Service<Request<B>, Response = Response<ResB>> + Clone,
    ResB: Default,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = Either<tower_http::cors::ResponseFuture<S::Future>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if !req.headers().contains_key(ORIGIN) {
            return Either::Right(self.inner.call(req));
        }
        // The service polled ready goes into the CORS service; a clone stays for the next call.
        let next = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, next);
        Either::Left(self.cors.layer(ready).call(req))
    }
}

/// `scheme://host[:port]` split into host and port text; None when it is not an origin.
fn split_origin(o: &str) -> Option<(&str, &str)> {
    let rest = o
        .strip_prefix("http://")
        .or_else(|| o.strip_prefix("https://"))?;
    let (host, port) = if rest.starts_with('[') {
        let end = rest.find(']')? + 1;
        (&rest[..end], &rest[end..])
    } else {
        rest.find(':').map_or((rest, ""), |i| rest.split_at(i))
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.parse::<u16>().is_ok());
    let host_ok = !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']);
    (port_ok && host_ok).then_some((host, port))
}

/// A page served from this machine: http(s)://localhost, 127.0.0.1 or [::1], any port.
fn is_loopback_origin(o: &str) -> bool {
    split_origin(o).is_some_and(|(host, _)| matches!(host, "localhost" | "127.0.0.1" | "[::1]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_requests_with_an_origin_get_cors_headers() {
        use tower::ServiceExt;
        let svc = BrowserCorsLayer::new(CorsOptions::default().layer()).layer(tower::service_fn(
            |_: Request<()>| async {
                Ok::<_, std::convert::Infallible>(Response::new(String::from("reply")))
            },
        ));
        let call = |method: Method, origin: Option<&str>| {
            let mut req = Request::builder().method(method).uri("/s/M");
            if let Some(o) = origin {
                req = req
                    .header(ORIGIN, o)
                    .header("access-control-request-method", "POST");
            }
            svc.clone().oneshot(req.body(()).unwrap())
        };
        let grpc = call(Method::POST, None).await.unwrap();
        assert!(
            grpc.headers().is_empty(),
            "a call without Origin got CORS headers: {:?}",
            grpc.headers()
        );
        assert_eq!(grpc.body(), "reply");

        let page = "http://localhost:5173";
        let browser = call(Method::POST, Some(page)).await.unwrap();
        assert_eq!(browser.headers()["access-control-allow-origin"], page);
        assert!(browser.headers().contains_key("vary"));
        assert_eq!(browser.body(), "reply");

        let preflight = call(Method::OPTIONS, Some(page)).await.unwrap();
        assert_eq!(preflight.headers()["access-control-allow-origin"], page);
        assert!(
            preflight
                .headers()
                .contains_key("access-control-allow-methods")
        );
        assert_eq!(
            preflight.body(),
            "",
            "a preflight is answered, not passed on"
        );

        let elsewhere = call(Method::POST, Some("https://elsewhere.example"))
            .await
            .unwrap();
        assert!(
            !elsewhere
                .headers()
                .contains_key("access-control-allow-origin")
        );
    }

    #[test]
    fn loopback_origins_on_any_port_are_loopback() {
        for o in [
            "http://localhost:5173",
            "https://localhost",
            "http://127.0.0.1:8080",
            "http://[::1]:3000",
        ] {
            assert!(is_loopback_origin(o), "{o}");
        }
        for o in [
            "http://localhost.evil.com",
            "http://127.0.0.1.evil.com:80",
            "http://evil.com",
            "file://localhost",
            "null",
            "http://localhost:99999",
            "http://localhost/path",
        ] {
            assert!(!is_loopback_origin(o), "{o}");
        }
    }

    #[test]
    fn a_star_or_a_path_is_refused_as_an_origin() {
        let opts = |o: &str| CorsOptions {
            origins: vec![o.into()],
            any_origin: false,
        };
        let e = opts("*").validate().unwrap_err().to_string();
        assert!(e.contains("--cors-allow-any-origin"), "{e}");
        let e = opts("https://app.example.com/x").validate().unwrap_err();
        assert!(e.to_string().contains("no path"), "{e}");
        opts("https://app.example.com:8443").validate().unwrap();
    }
}
