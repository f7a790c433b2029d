//! Signed URLs (issue 12): `<fleet address>/signed-url/<token>`, which the fleet's own socket
//! answers to a plain HTTP GET with the bytes of what the token names: binary data
//! (CreateBinaryDataSignedURL), a sequence dataset export's archive (GetSequenceDatasetExport)
//! or a package version (GetPackage and ListPackages with `include_url`). The token is the only
//! credential (no bearer token, as a signed URL is for whoever holds it): 43 random
//! alphanumerics (~256 bits), of which the fleet keeps only the hash, with the expiry on the
//! fleet's clock (15 minutes unless CreateBinaryDataSignedURL asks for 1 to 10,080). An unknown,
//! altered or expired token is 403; what it named being deleted since is 403 too (its tokens
//! went with it). The file served is the one the token's row names: nothing of the request's
//! path becomes a path.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use rusqlite::{Connection, OptionalExtension, params};
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
/// How long a signed URL lasts unless CreateBinaryDataSignedURL asks otherwise.
pub(in crate::server) const DEFAULT_MINUTES: u32 = 15;
const MAX_MINUTES: u32 = 10_080;

/// Bytes read from the payload file per body frame.
const CHUNK: usize = 64 * 1024;

/// What a signed URL names (by a server-made id).
pub(in crate::server) enum Signed<'a> {
    Binary(&'a str),
    Export(&'a str),
    /// A package version, by its file id.
    Package(&'a str),
}

/// What a valid token serves.
pub(in crate::server) struct Served {
    pub path: PathBuf,
    pub mime: String,
    pub size: i64,
    /// The file name a download saves as (Content-Disposition), when there is one to give.
    pub file_name: Option<String>,
}

/// A new signed URL of `what`, valid for `minutes`, recorded in `tx`: the URL and its expiry
/// (Unix ns). The caller has checked that its caller may read `what`.
pub(in crate::server) fn sign(
    api: &Api,
    tx: &Connection,
    what: Signed<'_>,
    minutes: u32,
) -> ApiResult<(String, i64)> {
    let reached = REACHED_AT.try_with(Clone::clone).ok().flatten();
    let base = reached
        .as_deref()
        .or(api.http_base.get().map(String::as_str))
        .ok_or_else(|| {
            ApiError::FailedPrecondition(
                "this fleet has no HTTP address to sign URLs on; use `fleetsh serve`".into(),
            )
        })?;
    let token = new_secret(TOKEN_LEN);
    let t = now();
    let expires = t + i64::from(minutes) * 60 * 1_000_000_000;
    let (binary, export, package) = match what {
        Signed::Binary(id) => (Some(id), None, None),
        Signed::Export(id) => (None, Some(id), None),
        Signed::Package(id) => (None, None, Some(id)),
    };
    // Expired tokens are useless: drop them as new ones are made.
    exec(tx, "DELETE FROM signed_urls WHERE expires_at <= ?1", [t])?;
    exec(
        tx,
        "INSERT INTO signed_urls(token_hash, binary_id, export_id, package_file_id, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![hash_secret(&token), binary, export, package, expires],
    )?;
    Ok((format!("{base}{PATH_PREFIX}{token}"), expires))
}

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
    let (signed_url, expires) = api.store.tx(|tx| {
        binary::orgs_of(
            tx,
            who,
            Perm::ReadRobotDataManagement,
            std::slice::from_ref(&id),
        )?;
        sign(api, tx, Signed::Binary(&id), minutes)
    })?;
    Ok(CreateBinaryDataSignedUrlResponse {
        signed_url,
        expires_at: Some(to_ts(expires)),
    })
}

tokio::task_local! {
    /// `scheme://host:port` the request being answered reached the fleet at, when the fleet
    /// listens on every address (0.0.0.0, ::): its own address names no host a client can
    /// reach, the one the client used does.
    static REACHED_AT: Option<String>;
}

/// `scheme://authority` of the address `req` was sent to (HTTP/2's `:authority`, HTTP/1.1's
/// Host), when it is a well-formed host and port; userinfo is dropped.
fn reached_at<B>(req: &http::Request<B>, scheme: &str) -> Option<String> {
    let authority = match req.uri().authority() {
        Some(a) => a.clone(),
        None => {
            let host = req.headers().get(header::HOST)?.as_bytes();
            http::uri::Authority::try_from(host).ok()?
        }
    };
    let host = authority.host();
    if host.is_empty() {
        return None;
    }
    Some(match authority.port_u16() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// The layer that answers signed URLs in front of the gRPC(-web) services.
#[derive(Clone)]
pub struct SignedUrlLayer {
    api: Arc<Api>,
    /// URLs name the address each request reached (the fleet listens on every address).
    by_request: bool,
}

/// `listen` is the address the fleet is bound to.
pub fn layer(api: &Arc<Api>, listen: std::net::SocketAddr) -> SignedUrlLayer {
    SignedUrlLayer {
        api: api.clone(),
        by_request: listen.ip().is_unspecified(),
    }
}

impl<S> tower::Layer<S> for SignedUrlLayer {
    type Service = SignedUrls<S>;
    fn layer(&self, inner: S) -> Self::Service {
        SignedUrls {
            api: self.api.clone(),
            by_request: self.by_request,
            inner,
        }
    }
}

#[derive(Clone)]
pub struct SignedUrls<S> {
    api: Arc<Api>,
    by_request: bool,
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
            if !self.by_request {
                return Box::pin(self.inner.call(req));
            }
            let scheme = match self.api.http_base.get() {
                Some(b) if b.starts_with("https:") => "https",
                _ => "http",
            };
            let reached = reached_at(&req, scheme);
            return Box::pin(REACHED_AT.scope(reached, self.inner.call(req)));
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

/// What a valid, unexpired token serves.
fn lookup(api: &Api, token: &str) -> ApiResult<Option<Served>> {
    api.store.read(|c| {
        let found = c
            .prepare_cached(
                "SELECT binary_id, export_id, package_file_id FROM signed_urls
                 WHERE token_hash = ?1 AND expires_at > ?2",
            )?
            .query_row(params![hash_secret(token), now()], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .optional()?;
        match found {
            Some((Some(id), _, _)) => binary_served(api, c, &id),
            Some((_, Some(id), _)) => super::sequence_exports::served(api, c, &id),
            Some((_, _, Some(file_id))) => crate::server::packages::served(api, c, &file_id),
            _ => Ok(None),
        }
    })
}

fn binary_served(api: &Api, c: &Connection, id: &str) -> ApiResult<Option<Served>> {
    let row = c
        .prepare_cached("SELECT mime_type, size FROM data_binary WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .optional()?;
    let Some((mime, size)) = row else {
        return Ok(None);
    };
    Ok(Some(Served {
        path: binary_path(api, id)?,
        mime,
        size,
        file_name: None,
    }))
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
            "this signed URL is not valid or has expired; ask for a new one \
             (cloud.data.create_binary_data_signed_url, cloud.data.get_sequence_dataset_export, \
             or cloud.packages.get_package with include_url)",
        )
    };
    if token.len() != TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return refused();
    }
    let served = match lookup(api, token) {
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
    let Ok(file) = tokio::fs::File::open(&served.path).await else {
        return plain(StatusCode::NOT_FOUND, "the signed URL's file is gone");
    };
    let body = if method == Method::HEAD {
        tonic::body::Body::empty()
    } else {
        tonic::body::Body::new(http_body_util::StreamBody::new(chunks(file)))
    };
    let mut r = http::Response::new(body);
    let h = r.headers_mut();
    // The type the uploader gave, when it is a valid header value.
    let mime = HeaderValue::from_str(&served.mime)
        .ok()
        .filter(|_| !served.mime.is_empty())
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, mime);
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(served.size.max(0)),
    );
    // Server-made names only (ids), so the header needs no quoting beyond its quotes.
    if let Some(name) = served.file_name
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
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
