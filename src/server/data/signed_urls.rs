//! Signed URLs of binary data (issue 12): CreateBinaryDataSignedURL hands out
//! `<fleet address>/signed-url/<token>`, and the fleet's own socket answers a plain HTTP GET of
//! it with the payload's bytes. The token is the only credential (no bearer token, as a signed
//! URL is for whoever holds it): 43 random alphanumerics (~256 bits), of which the fleet keeps
//! only the hash, with the expiry (15 minutes unless the request asks for 1 to 10,080). An
//! unknown, altered or expired token is 403; payload data deleted since is 403 too (its tokens
//! went with it). The file served is the one the token's row names: nothing of the request's
//! path becomes a path.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use rusqlite::{OptionalExtension, params};
use tokio::io::AsyncReadExt;

use super::{binary, binary_path, checked_id};
use crate::proto::viam::app::data::v1::{
    CreateBinaryDataSignedUrlRequest, CreateBinaryDataSignedUrlResponse,
};
use crate::server::Api;
use crate::server::authz::{Perm, Principal};
use crate::server::error::{ApiError, ApiResult, required};
use crate::server::store::{exec, hash_secret, new_secret, now, to_ts};

/// Where signed URLs live on the fleet's address; no gRPC path starts so (those are
/// `/<package>.<Service>/<Method>`).
pub const PATH_PREFIX: &str = "/signed-url/";

const TOKEN_LEN: usize = 43;
const DEFAULT_MINUTES: u32 = 15;
const MAX_MINUTES: u32 = 10_080;

/// Bytes read from the payload file per body frame.
const CHUNK: usize = 64 * 1024;

pub fn create_binary_data_signed_url(
    api: &Api,
    who: &Principal,
    req: CreateBinaryDataSignedUrlRequest,
) -> ApiResult<CreateBinaryDataSignedUrlResponse> {
    let id = checked_id(required("binary_data_id", &req.binary_data_id)?)?.to_string();
    let minutes = match req.expiration_minutes {
        None => DEFAULT_MINUTES,
        Some(m) if (1..=MAX_MINUTES).contains(&m) => m,
        Some(m) => {
            return Err(ApiError::invalid(
                "expiration_minutes",
                format!("{m}: give 1 to {MAX_MINUTES} (7 days), or leave it out for 15"),
            ));
        }
    };
    let base = api.http_base.get().ok_or_else(|| {
        ApiError::FailedPrecondition(
            "this fleet has no HTTP address to sign URLs on; use `fleetsh serve`".into(),
        )
    })?;
    let token = new_secret(TOKEN_LEN);
    let t = now();
    let expires = t + i64::from(minutes) * 60 * 1_000_000_000;
    api.store.tx(|tx| {
        binary::orgs_of(
            tx,
            who,
            Perm::ReadRobotDataManagement,
            std::slice::from_ref(&id),
        )?;
        // Expired tokens are useless: drop them as new ones are made.
        exec(tx, "DELETE FROM signed_urls WHERE expires_at <= ?1", [t])?;
        exec(
            tx,
            "INSERT INTO signed_urls(token_hash, binary_id, expires_at) VALUES (?1, ?2, ?3)",
            params![hash_secret(&token), id, expires],
        )?;
        Ok(())
    })?;
    Ok(CreateBinaryDataSignedUrlResponse {
        signed_url: format!("{base}{PATH_PREFIX}{token}"),
        expires_at: Some(to_ts(expires)),
    })
}

/// The layer that answers signed URLs in front of the gRPC(-web) services.
#[derive(Clone)]
pub struct SignedUrlLayer(Arc<Api>);

pub fn layer(api: &Arc<Api>) -> SignedUrlLayer {
    SignedUrlLayer(api.clone())
}

impl<S> tower::Layer<S> for SignedUrlLayer {
    type Service = SignedUrls<S>;
    fn layer(&self, inner: S) -> Self::Service {
        SignedUrls {
            api: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct SignedUrls<S> {
    api: Arc<Api>,
    inner: S,
}

type Reply = http::Response<tonic::body::Body>;

impl<S, B> tower::Service<http::Request<B>> for SignedUrls<S>
where
    S: tower::Service<http::Request<B>, Response = Reply>,
    S::Future: Send + 'static,
{
    type Response = Reply;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Reply, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let Some(token) = req.uri().path().strip_prefix(PATH_PREFIX) else {
            return Box::pin(self.inner.call(req));
        };
        let api = self.api.clone();
        let token = token.to_string();
        let method = req.method().clone();
        let start = Instant::now();
        Box::pin(async move {
            let reply = answer(&api, &method, &token).await;
            log_fetch(&method, reply.status(), start);
            Ok(reply)
        })
    }
}

/// One log line per fetch, as call.rs writes one per call (successes at debug, refusals at
/// info); never the token, which is the credential.
fn log_fetch(method: &Method, status: StatusCode, start: Instant) {
    let micros = start.elapsed().as_micros() as u64;
    let status = status.as_u16();
    let method = format!("HTTP {method} {PATH_PREFIX}…");
    match status {
        200..=299 => tracing::debug!(method, status, micros, "request"),
        500.. => tracing::error!(method, status, micros, "request"),
        _ => tracing::info!(method, status, micros, "request"),
    }
}

fn plain(status: StatusCode, text: &str) -> Reply {
    let mut r = http::Response::new(tonic::body::Body::new(http_body_util::Full::new(
        Bytes::from(format!("{text}\n")),
    )));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The payload a valid, unexpired token names: (binary id, mime type, size).
fn lookup(api: &Api, token: &str) -> ApiResult<Option<(String, String, i64)>> {
    api.store.read(|c| {
        Ok(c.prepare_cached(
            "SELECT b.id, b.mime_type, b.size FROM signed_urls s
             JOIN data_binary b ON b.id = s.binary_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2",
        )?
        .query_row(params![hash_secret(token), now()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?)
    })
}

async fn answer(api: &Api, method: &Method, token: &str) -> Reply {
    if method != Method::GET && method != Method::HEAD {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "a signed URL answers GET and HEAD only",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let refused = || {
        plain(
            StatusCode::FORBIDDEN,
            "this signed URL is not valid or has expired; ask CreateBinaryDataSignedURL \
             (cloud.data.create_binary_data_signed_url) for a new one",
        )
    };
    if token.len() != TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return refused();
    }
    let (id, mime, size) = match lookup(api, token) {
        Ok(Some(found)) => found,
        Ok(None) => return refused(),
        Err(e) => {
            tracing::warn!(error = %e, "signed URL lookup failed");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the local fleet could not read its database; retry",
            );
        }
    };
    let file = match binary_path(api, &id) {
        Ok(p) => tokio::fs::File::open(p).await,
        Err(_) => return plain(StatusCode::NOT_FOUND, "binary data not found"),
    };
    let Ok(file) = file else {
        return plain(StatusCode::NOT_FOUND, "the binary data's payload is gone");
    };
    let body = if method == Method::HEAD {
        tonic::body::Body::empty()
    } else {
        tonic::body::Body::new(http_body_util::StreamBody::new(chunks(file)))
    };
    let mut r = http::Response::new(body);
    let h = r.headers_mut();
    // The type the uploader gave, when it is a valid header value.
    let mime = HeaderValue::from_str(&mime)
        .ok()
        .filter(|_| !mime.is_empty())
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, mime);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size.max(0)));
    // An uploaded HTML or SVG must not run scripts on the fleet's origin.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The file as body frames, read as the client takes them (any size, little memory).
fn chunks(
    file: tokio::fs::File,
) -> impl futures::Stream<Item = Result<http_body::Frame<Bytes>, std::io::Error>> + Send {
    futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(http_body::Frame::data(Bytes::from(buf))), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}
