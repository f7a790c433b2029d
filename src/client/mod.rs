//! The client side of the app API: connect (TLS or h2c), API key -> token, deadlines, retries,
//! and ONE generic call path for every method of the descriptor pool (unary, server- and
//! client-streaming): requests are bytes already encoded (from Lua tables) or
//! `prost_reflect::DynamicMessage`s (`codec::Wire`), replies stay encoded (`codec::Reply`) until
//! the caller decodes them.

pub mod auth;
pub mod codec;
pub mod failure;
pub mod file_source;
pub mod retry;
pub mod target;
pub mod throttle;
pub mod viam_cli;

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http::uri::PathAndQuery;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use tonic::client::Grpc;
use tonic::metadata::{AsciiMetadataKey, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status, Streaming};

pub use auth::ApiKey;
pub use codec::Reply;
use codec::{DynCodec, Wire};
pub use failure::ConnectError;
use retry::{Failed, Next, after_failure};
use throttle::{Rate, Throttle, Verdict};

pub const DEFAULT_URL: &str = "https://app.viam.com:443";
/// Module files travel whole in one message; match the server's limit.
const MAX_MESSAGE_BYTES: usize = crate::server::MAX_MESSAGE_BYTES;

/// An access token and when to renew it before it expires.
#[derive(Clone)]
struct Token {
    /// `Bearer <token>`, checked as a header value once rather than on every call.
    header: Result<MetadataValue<tonic::metadata::Ascii>, ()>,
    renew_at: Option<std::time::SystemTime>,
}

impl Token {
    fn new(value: String) -> Self {
        let renew_at = auth::renew_at(&value);
        let header = MetadataValue::try_from(format!("Bearer {value}")).map_err(drop);
        Self { header, renew_at }
    }
}

/// How calls reach the server: a channel (h2c or TLS) or, for the embedded fleet, the server's
/// own service in this process (`server::in_process`).
pub type Transport = tower::util::BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    Box<dyn std::error::Error + Send + Sync>,
>;

pub struct Client {
    channel: Transport,
    /// Transports ready for another call, given back after each (`give_back`): a clone per call
    /// (for a channel, a buffer sender whose poll state is boxed; in-process, every service's
    /// handle) cost ~1,000 instructions.
    idle: Mutex<Vec<Grpc<Transport>>>,
    /// The last grpc-timeout sent, as a header: whole seconds repeat call after call.
    last_timeout: Mutex<Option<(Duration, MetadataValue<tonic::metadata::Ascii>)>>,
    key: Option<ApiKey>,
    token: Mutex<Option<Token>>,
    timeout: Duration,
    throttle: Throttle,
    /// Request paths by method (`path`): a script calls a few, found by comparing descriptors
    /// (a pool pointer and an index) instead of hashing the method's full name.
    paths: Mutex<Vec<(MethodDescriptor, PathAndQuery)>>,
    /// Where the key came from and what to do, said when the server refuses it mid-run.
    refusal_remedy: Option<String>,
}

/// `http://` is plaintext HTTP/2 (a `fleetsh serve`); `https://` or a bare host is TLS.
pub fn endpoint(url: &str) -> anyhow::Result<Endpoint> {
    let url = if url.contains("://") {
        url.to_string()
    } else {
        format!("https://{url}")
    };
    let ep = Endpoint::from_shared(url.clone()).with_context(|| format!("invalid url {url:?}"))?;
    let ep = ep
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true);
    if url.starts_with("https://") {
        return ep
            .tls_config(ClientTlsConfig::new().with_native_roots())
            .with_context(|| format!("TLS setup for {url}"));
    }
    anyhow::ensure!(
        url.starts_with("http://"),
        "unsupported url scheme in {url:?} (use http:// or https://)"
    );
    Ok(ep)
}

async fn channel(url: &str) -> Result<Transport, ConnectError> {
    use tower::ServiceExt;
    let ep = endpoint(url).map_err(|e| ConnectError::Unreachable(format!("{e:#}")))?;
    let channel: Channel = ep
        .connect()
        .await
        .map_err(|e| failure::unreachable(url, &e))?;
    Ok(Transport::new(channel.map_err(Into::into)))
}

/// Connects and, when a key is given, exchanges it for a token right away so that bad
/// credentials fail before any script runs.
pub async fn connect(
    url: &str,
    key: Option<ApiKey>,
    timeout: Duration,
) -> Result<Client, ConnectError> {
    let client = Client::new(channel(url).await?, key, None, timeout);
    if let Some(key) = &client.key {
        client
            .authenticate()
            .await
            .map_err(|s| failure::authentication(url, &key.id, &s))?;
    }
    Ok(client)
}

/// A client of a fleet in this process (`server::in_process`), with a token already in hand
/// (the embedded fleet issues one in-process, sparing a key exchange and its `last_used`
/// write at every script start); `key` renews it later.
pub fn in_process(transport: Transport, key: ApiKey, token: String, timeout: Duration) -> Client {
    Client::new(transport, Some(key), Some(Token::new(token)), timeout)
}

/// A client of a fleet in this process whose transport adds the fleet's token to requests
/// that carry none (the embedded fleet opened at its first call, `server::FleetOnFirstCall`);
/// `key` is exchanged for a token of its own if the fleet refuses that one.
pub fn in_process_token_from_transport(
    transport: Transport,
    key: ApiKey,
    timeout: Duration,
) -> Client {
    Client::new(transport, Some(key), None, timeout)
}

/// Verbs of read-only methods: retried on transient failures, sent even in a dry run.
const READ_VERBS: &[&str] = &[
    "Get",
    "List",
    "Check",
    "Tail",
    "Authenticate",
    "Search",
    "Read",
    "Config",
    "Certificate",
    "Needs",
    "Export",
];
/// Verbs of methods that change the fleet: never retried blindly, planned in a dry run, audited.
pub const WRITE_VERBS: &[&str] = &[
    "Create",
    "Update",
    "Delete",
    "New",
    "Mark",
    "Add",
    "Remove",
    "Rotate",
    "Upload",
    "Resend",
    "Change",
    "Enable",
    "Disable",
    "Transfer",
    "Set",
    "Share",
    "Unshare",
    "Log",
    "Rename",
    "Deprecate",
    "Undeprecate",
];

/// `GetRobotPart` -> `Get`; `OrganizationSetLogo` -> `Set` (the one noun-first family).
fn verb(method: &str) -> &str {
    let method = method
        .strip_prefix("Organization")
        .filter(|rest| rest.starts_with("Get") || rest.starts_with("Set"))
        .unwrap_or(method);
    let end = method
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_ascii_uppercase())
        .map_or(method.len(), |(i, _)| i);
    &method[..end]
}

/// Reads are safe to repeat; writes are never retried. Decided from the method name alone, here
/// only: the retry policy, `--dry-run` and `--audit` all ask this function.
pub fn is_read(method: &str) -> bool {
    method == "LocationAuth"
        || READ_VERBS.contains(&verb(method))
        || NOUN_FIRST_READS.contains(&method)
}

/// The data queries named by what they return, not by a verb (DataService): reads, so a dry run
/// sends them and a chore can count before it plans a delete.
const NOUN_FIRST_READS: &[&str] = &[
    "TabularDataByFilter",
    "TabularDataBySQL",
    "TabularDataByMQL",
    "BinaryDataByFilter",
    "BinaryDataByIDs",
    "TagsByFilter",
    "BoundingBoxLabelsByFilter",
    "SequencesByDatasetID",
];

/// Everything that is not a known read counts as a change (an unknown verb is planned, not sent).
pub fn is_mutating(method: &str) -> bool {
    !is_read(method)
}

fn path(method: &MethodDescriptor) -> PathAndQuery {
    let p = format!("/{}/{}", method.parent_service().full_name(), method.name());
    PathAndQuery::from_maybe_shared(p).expect("service and method names are valid paths")
}

/// The grpc-timeout a request carries for `left` of the call's time: above two seconds, rounded
/// down to whole seconds. An exact value differs on every call, so HPACK added a new header to
/// its table each time and sent it literally; a value repeated call after call is sent as one
/// table index (and the server decodes it as such). The server may give up up to a second before
/// the client's own deadline, never after it.
fn sent_timeout(left: Duration) -> Duration {
    if left > Duration::from_secs(2) {
        Duration::from_secs(left.as_secs())
    } else {
        left
    }
}

/// tonic reports its client-side deadline as CANCELLED "Timeout expired" and a connection
/// that broke under a call as UNKNOWN (with the transport error as source); name them as gRPC
/// does, so retries and scripts see DEADLINE_EXCEEDED and UNAVAILABLE.
pub fn normalize(s: Status) -> Status {
    if s.code() == Code::Cancelled && s.message() == "Timeout expired" {
        return Status::deadline_exceeded("no reply within the call timeout (--call-timeout)");
    }
    if s.code() == Code::Unknown && std::error::Error::source(&s).is_some() {
        return Status::unavailable(format!("connection lost: {}", s.message()));
    }
    s
}

/// The two headers every call sets, as keys made once: a `&str` key is parsed and checked on
/// every insert.
static GRPC_TIMEOUT: std::sync::LazyLock<AsciiMetadataKey> =
    std::sync::LazyLock::new(|| AsciiMetadataKey::from_static("grpc-timeout"));
static AUTHORIZATION: std::sync::LazyLock<AsciiMetadataKey> =
    std::sync::LazyLock::new(|| AsciiMetadataKey::from_static("authorization"));

/// How many ready transports a client keeps between calls (as many as calls ran at once, up
/// to this).
const MAX_IDLE: usize = 256;

/// The grpc-timeout header for `d`, as tonic's `Request::set_timeout` writes it: the most
/// precise unit whose value has at most 8 digits.
fn grpc_timeout(d: Duration) -> MetadataValue<tonic::metadata::Ascii> {
    const MAX: u128 = 99_999_999;
    let secs = u128::from(d.as_secs());
    let (value, unit) = [
        (d.as_nanos(), 'n'),
        (d.as_micros(), 'u'),
        (d.as_millis(), 'm'),
        (secs, 'S'),
        (secs / 60, 'M'),
        (secs / 3600, 'H'),
    ]
    .into_iter()
    .find(|(v, _)| *v <= MAX)
    .unwrap_or((MAX, 'H'));
    MetadataValue::try_from(format!("{value}{unit}")).expect("digits and a unit letter")
}

impl Client {
    fn new(
        channel: Transport,
        key: Option<ApiKey>,
        token: Option<Token>,
        timeout: Duration,
    ) -> Self {
        Client {
            channel,
            idle: Mutex::default(),
            last_timeout: Mutex::default(),
            key,
            token: Mutex::new(token),
            timeout,
            throttle: Throttle::default(),
            paths: Mutex::default(),
            refusal_remedy: None,
        }
    }

    /// What a refusal of the key mid-run adds: where the key came from and what to do.
    pub fn set_refusal_remedy(&mut self, remedy: String) {
        self.refusal_remedy = Some(remedy);
    }

    /// A hard ceiling on this client's send rate (`--max-rate`), shared by all its calls.
    pub fn set_max_rate(&mut self, rate: Option<Rate>) {
        self.throttle = Throttle::with_ceiling(rate);
    }

    /// How this client meets a rate-limiting server (`cloud.parallel` reads its refusals).
    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    fn grpc(&self) -> Grpc<Transport> {
        Grpc::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    async fn authenticate(&self) -> Result<(), Status> {
        let Some(key) = &self.key else { return Ok(()) };
        let token = Token::new(self.exchange(key).await?);
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(token);
        Ok(())
    }

    /// Renews the token when it is about to expire, so long scripts are not refused first.
    async fn renew_if_due(&self) -> Result<(), Status> {
        let due = self
            .token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|t| t.renew_at)
            .is_some_and(|at| at <= std::time::SystemTime::now());
        if !due {
            return Ok(());
        }
        tracing::debug!("access token about to expire; renewing it");
        self.authenticate_again().await
    }

    /// `authenticate` mid-run: a refused key says so as at connect, and what to do.
    async fn authenticate_again(&self) -> Result<(), Status> {
        self.authenticate().await.map_err(|s| match &self.key {
            Some(key) => failure::refused_again(&key.id, s, self.refusal_remedy.as_deref()),
            None => s,
        })
    }

    /// API key -> access token, on this connection.
    async fn exchange(&self, key: &ApiKey) -> Result<String, Status> {
        let method = crate::proto::method(&format!("{}/Authenticate", auth::AUTH_SERVICE))
            .expect("auth.proto is compiled in");
        let deadline = Instant::now() + self.timeout;
        let req = self.bare_request(auth::request(key, method.input()), Some(deadline))?;
        let resp = self
            .raw_unary(&method, req, deadline)
            .await
            .map_err(Failed::into_status)?;
        auth::token(&resp.decode()?)
    }

    /// Whether `key` authenticates against this endpoint; the token is not kept (rotate_keys
    /// checks a new key before deleting the old one).
    pub async fn check_key(&self, key: &ApiKey) -> Result<(), Status> {
        self.exchange(key).await.map(|_| ())
    }

    /// A request without the token; `deadline` bounds the server's work (grpc-timeout): what
    /// is left of the call's time, so a retried attempt does not get the whole timeout again.
    fn bare_request<T>(&self, msg: T, deadline: Option<Instant>) -> Result<Request<T>, Status> {
        let mut req = Request::new(msg);
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.expired());
            }
            req.metadata_mut()
                .insert(&*GRPC_TIMEOUT, self.timeout_header(sent_timeout(left)));
        }
        Ok(req)
    }

    /// The grpc-timeout header for `d`, formatted only when it differs from the last one.
    fn timeout_header(&self, d: Duration) -> MetadataValue<tonic::metadata::Ascii> {
        let mut last = self.last_timeout.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((sent, v)) = &*last
            && *sent == d
        {
            return v.clone();
        }
        let v = grpc_timeout(d);
        *last = Some((d, v.clone()));
        v
    }

    /// DEADLINE_EXCEEDED for a call whose time is up.
    fn expired(&self) -> Status {
        Status::deadline_exceeded(format!(
            "no reply within the call timeout of {} (--call-timeout)",
            humantime::format_duration(self.timeout)
        ))
    }

    fn request<T>(&self, msg: T, deadline: Option<Instant>) -> Result<Request<T>, Status> {
        let mut req = self.bare_request(msg, deadline)?;
        let header = self
            .token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|t| t.header.clone());
        if let Some(h) = header {
            let v = h.map_err(|()| Status::internal("access token is not a valid header value"))?;
            req.metadata_mut().insert(&*AUTHORIZATION, v);
        }
        Ok(req)
    }

    /// A channel ready to send on (an idle one, else a new clone); a connection that is not
    /// ready means nothing was sent. Hand it back with `give_back` after the call.
    async fn ready(&self) -> Result<Grpc<Transport>, Failed> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut grpc = idle.unwrap_or_else(|| self.grpc());
        grpc.ready().await.map_err(|e| {
            Failed::NotSent(Status::unavailable(format!("connection not ready: {e}")))
        })?;
        Ok(grpc)
    }

    /// Keeps a channel of `ready` for the next call.
    fn give_back(&self, grpc: Grpc<Transport>) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(grpc);
        }
    }

    /// Bounds an attempt by the call's `deadline`: the grpc-timeout header bounds the server,
    /// this a silent network.
    async fn bounded<T>(
        &self,
        what: &str,
        deadline: Instant,
        fut: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<T, Failed> {
        match tokio::time::timeout_at(deadline.into(), fut).await {
            Ok(r) => Ok(r.map(|r| r.into_inner())?),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "{what} within the call timeout of {} (--call-timeout)",
                humantime::format_duration(self.timeout)
            ))
            .into()),
        }
    }

    /// The request path of `method`, made once per method rather than formatted and parsed
    /// on every call.
    fn path(&self, method: &MethodDescriptor) -> PathAndQuery {
        let mut paths = self.paths.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, p)) = paths.iter().find(|(m, _)| m == method) {
            return p.clone();
        }
        let p = path(method);
        paths.push((method.clone(), p.clone()));
        p
    }

    async fn raw_unary<T: Wire>(
        &self,
        method: &MethodDescriptor,
        req: Request<T>,
        deadline: Instant,
    ) -> Result<Reply, Failed> {
        let mut grpc = self.ready().await?;
        let fut = grpc.unary(req, self.path(method), DynCodec::new(method.output()));
        let reply = self.bounded("no reply", deadline, fut).await;
        self.give_back(grpc);
        reply
    }

    /// Runs `attempt` with the token, re-authenticating once on UNAUTHENTICATED (an expired
    /// token), retrying what `retry::after_failure` says is safe to repeat, and pacing every
    /// attempt through the client's throttle (throttle.rs). The call timeout bounds the whole
    /// call, its waits for the throttle and for the server included: `attempt` gets the
    /// call's deadline, so a retry has only what is left of it; a throttled call is retried
    /// until then, and fails saying so.
    async fn with_policy<T, F, Fut>(
        &self,
        method: &MethodDescriptor,
        mut attempt: F,
    ) -> Result<T, Status>
    where
        F: FnMut(Instant) -> Fut,
        Fut: Future<Output = Result<T, Failed>>,
    {
        self.renew_if_due().await?;
        let started = Instant::now();
        let deadline = started + self.timeout;
        let read = is_read(method.name());
        let mut reauthed = false;
        let mut spent = false;
        let mut n = 0;
        let mut refused: Option<Status> = None;
        loop {
            n += 1;
            let ticket = match self.throttle.before_send(deadline).await {
                Ok(t) => t,
                Err(slow) => return Err(self.too_slow(slow, refused, n, started)),
            };
            let (err, sent) = match attempt(deadline).await {
                Ok(v) => {
                    self.throttle.on_success(spent);
                    return Ok(v);
                }
                Err(Failed::Sent(e)) => {
                    let sent = !retry::connection_refused(&e);
                    (normalize(e), sent)
                }
                Err(Failed::NotSent(e)) => (e, false),
            };
            let can_reauth = !reauthed && self.key.is_some();
            let server_delay = retry::server_delay(&err);
            let next = after_failure(
                err.code(),
                read,
                sent,
                n,
                can_reauth,
                server_delay.is_some(),
            );
            let delay = match next {
                Next::Reauthenticate => {
                    tracing::debug!(
                        method = method.name(),
                        "access token refused; authenticating again"
                    );
                    reauthed = true;
                    n -= 1;
                    self.authenticate_again().await?;
                    continue;
                }
                Next::Throttled => {
                    let delay = self.throttle.on_throttled(ticket, server_delay, n);
                    if Instant::now() + delay > deadline {
                        return Err(self.still_refused(&err, n, started));
                    }
                    refused = Some(err.clone());
                    delay
                }
                // No time left for another attempt: the call fails as the last one did.
                Next::Transient if Instant::now() + retry::MIN_ATTEMPT >= deadline => {
                    return Err(err);
                }
                Next::Transient => match self.throttle.on_transient(n) {
                    // A retry waits at most until shortly before the deadline.
                    Verdict::RetryAfter(delay) => {
                        spent = true;
                        delay.min(
                            deadline.saturating_duration_since(Instant::now() + retry::MIN_ATTEMPT),
                        )
                    }
                    Verdict::BudgetSpent => {
                        return Err(Status::new(
                            err.code(),
                            format!(
                                "{} (not retried: this run's retry budget is spent, the server keeps failing calls; lower the load, e.g. with --max-rate)",
                                err.message()
                            ),
                        ));
                    }
                },
                Next::Fail => return Err(err),
            };
            tracing::debug!(method = method.name(), code = ?err.code(), attempt = n, ?delay, sent, "retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// A throttled call whose next attempt would start after its deadline.
    fn still_refused(&self, err: &Status, n: u32, started: Instant) -> Status {
        Status::new(
            err.code(),
            format!(
                "{} (refused as throttled {n} times in {:.1} s; not retried past the call timeout of {} (--call-timeout): the server's rate limit is below this run's load; lower it with --max-rate or allow more time with --call-timeout)",
                err.message(),
                started.elapsed().as_secs_f64(),
                humantime::format_duration(self.timeout),
            ),
        )
    }

    /// A call that the throttle could not send before its deadline. RESOURCE_EXHAUSTED like
    /// the refusals that slowed the run down: the call was not executed.
    fn too_slow(
        &self,
        slow: throttle::TooSlow,
        refused: Option<Status>,
        n: u32,
        started: Instant,
    ) -> Status {
        let why = format!(
            "not sent within the call timeout of {} (--call-timeout): the server throttled this run, which now sends at most {:.1} calls/s; lower the load with --max-rate or allow more time with --call-timeout",
            humantime::format_duration(self.timeout),
            slow.rate
        );
        let message = match refused {
            Some(err) => format!(
                "{} (refused as throttled {} times in {:.1} s, then {why})",
                err.message(),
                n - 1,
                started.elapsed().as_secs_f64()
            ),
            None => why,
        };
        Status::resource_exhausted(message)
    }

    /// One unary call of `method` with its request `msg` already encoded (each attempt sends
    /// the same bytes).
    pub async fn unary(&self, method: &MethodDescriptor, msg: Bytes) -> Result<Reply, Status> {
        let msg = &msg;
        self.with_policy(method, |deadline| async move {
            let req = self.request(msg.clone(), Some(deadline))?;
            self.raw_unary(method, req, deadline).await
        })
        .await
    }

    /// Opens a server stream with extra request `metadata` (name, value); returns the reply's
    /// headers and the stream. The deadline covers only the opening: a tail runs until dropped.
    pub async fn server_streaming(
        &self,
        method: &MethodDescriptor,
        msg: Bytes,
        metadata: &[(String, String)],
    ) -> Result<(tonic::metadata::MetadataMap, Streaming<Reply>), Status> {
        let msg = &msg;
        self.with_policy(method, |deadline| async move {
            let mut grpc = self.ready().await?;
            let mut req = self.request(msg.clone(), None)?;
            for (name, value) in metadata {
                let bad =
                    || Status::invalid_argument(format!("metadata {name:?}: not a valid header"));
                let key = tonic::metadata::AsciiMetadataKey::from_bytes(name.as_bytes())
                    .map_err(|_| bad())?;
                let value = MetadataValue::try_from(value.as_str()).map_err(|_| bad())?;
                req.metadata_mut().insert(key, value);
            }
            let fut = grpc.server_streaming(req, self.path(method), DynCodec::new(method.output()));
            let opened = tokio::time::timeout_at(deadline.into(), fut).await;
            self.give_back(grpc);
            match opened {
                Ok(r) => Ok(r.map(|r| {
                    let (headers, stream, _) = r.into_parts();
                    (headers, stream)
                })?),
                Err(_) => Err(Status::deadline_exceeded(format!(
                    "stream not opened within the call timeout of {} (--call-timeout)",
                    humantime::format_duration(self.timeout)
                ))
                .into()),
            }
        })
        .await
    }

    /// Sends `msgs` as one client stream and returns the single reply.
    pub async fn client_streaming(
        &self,
        method: &MethodDescriptor,
        msgs: Vec<DynamicMessage>,
    ) -> Result<Reply, Status> {
        self.client_streaming_from(method, || tokio_stream::iter(msgs.clone()))
            .await
    }

    /// Sends the stream `messages()` makes as one client stream and returns the single reply;
    /// `messages` is called again for each retry, so a lazy source is read anew from its start.
    pub async fn client_streaming_from<S, F>(
        &self,
        method: &MethodDescriptor,
        messages: F,
    ) -> Result<Reply, Status>
    where
        F: Fn() -> S,
        S: futures::Stream<Item = DynamicMessage> + Send + 'static,
    {
        let messages = &messages;
        self.with_policy(method, |deadline| async move {
            let mut grpc = self.ready().await?;
            let req = self.request(messages(), Some(deadline))?;
            let fut = grpc.client_streaming(req, self.path(method), DynCodec::new(method.output()));
            let reply = self.bounded("no reply", deadline, fut).await;
            self.give_back(grpc);
            reply
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sequential_calls_send_the_same_grpc_timeout() {
        type Seen = std::sync::Arc<Mutex<Vec<String>>>;
        let seen = Seen::default();
        let log = seen.clone();
        let server = tower::service_fn(move |req: http::Request<tonic::body::Body>| {
            let header = req.headers().get("grpc-timeout").cloned();
            log.lock().unwrap().push(format!("{header:?}"));
            async move {
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                    Status::not_found("no such robot").into_http(),
                )
            }
        });
        let client = Client::new(Transport::new(server), None, None, Duration::from_secs(60));
        let method = crate::proto::method("GetRobot").unwrap();
        for _ in 0..3 {
            let err = client.unary(&method, Bytes::new()).await.unwrap_err();
            assert_eq!(err.code(), Code::NotFound, "{err:?}");
        }
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3, "{seen:?}");
        // Identical values: HPACK sends a repeated one as a table index, not a new literal.
        assert!(seen.iter().all(|h| *h == seen[0]), "{seen:?}");
        assert_eq!(
            seen[0], r#"Some("59000000u")"#,
            "whole seconds, below what is left"
        );
        // Short times stay exact rather than rounding to zero.
        let short = Duration::from_millis(1500);
        assert_eq!(sent_timeout(short), short);
    }

    #[test]
    fn reads_and_writes() {
        for m in [
            "GetRobot",
            "ListLocations",
            "CheckPermissions",
            "LocationAuth",
            "TailRobotPartLogs",
        ] {
            assert!(is_read(m), "{m}");
        }
        for m in [
            "NewRobot",
            "DeleteRobot",
            "CreateLocationSecret",
            "RotateKey",
            "MarkPartForRestart",
        ] {
            assert!(!is_read(m), "{m}");
        }
    }

    #[test]
    fn every_app_method_has_a_known_verb() {
        let svc = crate::proto::POOL
            .get_service_by_name(crate::proto::APP_SERVICE)
            .unwrap();
        for m in svc.methods() {
            let v = verb(m.name());
            assert!(
                is_read(m.name()) || WRITE_VERBS.contains(&v),
                "{}: classify the verb {v:?} as a read or a write",
                m.name()
            );
        }
        assert!(is_read("TailRobotPartLogs") && !is_read("Getaway"));
    }

    #[test]
    fn data_queries_are_reads_and_data_changes_are_writes() {
        for m in [
            "TabularDataByFilter",
            "TabularDataByMQL",
            "BinaryDataByIDs",
            "ExportTabularData",
            "GetLatestTabularData",
        ] {
            assert!(is_read(m), "{m}");
        }
        for m in [
            "DeleteTabularData",
            "DeleteBinaryDataByFilter",
            "AddTagsToBinaryDataByFilter",
            "ConfigureDatabaseUser",
            "FileUpload",
            "DataCaptureUpload",
        ] {
            assert!(!is_read(m), "{m}");
        }
    }

    /// A grpc-timeout header's value ("700000u") as a duration.
    fn grpc_timeout(v: &str) -> Duration {
        let (n, unit) = v.split_at(v.len() - 1);
        let n: u64 = n.parse().unwrap();
        match unit {
            "n" => Duration::from_nanos(n),
            "u" => Duration::from_micros(n),
            "m" => Duration::from_millis(n),
            "S" => Duration::from_secs(n),
            other => panic!("unexpected grpc-timeout unit {other:?} in {v:?}"),
        }
    }

    #[tokio::test]
    async fn a_retry_gets_what_is_left_of_the_deadline_not_the_whole_timeout() {
        type Seen = std::sync::Arc<Mutex<Vec<Option<Duration>>>>;
        let seen = Seen::default();
        let log = seen.clone();
        // Attempt 1 fails as UNAVAILABLE after 300 ms (a read: retried); attempt 2 never ends.
        let server = tower::service_fn(move |req: http::Request<tonic::body::Body>| {
            let log = log.clone();
            async move {
                let timeout = req
                    .headers()
                    .get("grpc-timeout")
                    .map(|v| grpc_timeout(v.to_str().unwrap()));
                let n = {
                    let mut l = log.lock().unwrap();
                    l.push(timeout);
                    l.len()
                };
                if n == 1 {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    return Ok(Status::unavailable("restarting").into_http());
                }
                std::future::pending::<Result<_, Box<dyn std::error::Error + Send + Sync>>>().await
            }
        });
        let timeout = Duration::from_secs(1);
        let client = Client::new(Transport::new(server), None, None, timeout);
        let method = crate::proto::method("GetRobot").unwrap();
        let started = Instant::now();
        let err = client.unary(&method, Bytes::new()).await.unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "one retry: {seen:?}");
        assert!(seen[0].is_some_and(|t| t <= timeout), "{seen:?}");
        // The retry starts after 300 ms and a backoff of at least 100 ms: at most 600 ms are left.
        assert!(
            seen[1].is_some_and(|t| t <= Duration::from_millis(600)),
            "the retry's grpc-timeout must be what is left of the call's 1 s: {seen:?}"
        );
        // With the whole timeout again, the call would last 300 + 100 + 1000 ms or more.
        assert!(elapsed < Duration::from_millis(1300), "{elapsed:?}");
    }

    #[test]
    fn urls() {
        assert!(endpoint("http://127.0.0.1:1").is_ok());
        assert!(endpoint("app.viam.com").is_ok());
        assert!(endpoint("ftp://x").is_err());
    }

    #[test]
    fn transport_errors_get_grpc_codes() {
        let timeout = normalize(Status::cancelled("Timeout expired"));
        assert_eq!(timeout.code(), Code::DeadlineExceeded);
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(
            normalize(Status::from_error(Box::new(io))).code(),
            Code::Unavailable
        );
        // A server's own UNKNOWN and CANCELLED stay as they are.
        assert_eq!(normalize(Status::unknown("x")).code(), Code::Unknown);
        assert_eq!(normalize(Status::cancelled("x")).code(), Code::Cancelled);
    }
}
