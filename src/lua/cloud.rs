//! The `cloud` table's Rust core: `cloud._call(method, args, name, labels, opts)` reaches ANY
//! method of the descriptor pool through the one generic client path (`opts.metadata`: extra
//! request headers of a server stream; `opts.stream_file`: a file that a client stream sends
//! after its messages, read in chunks; `opts.reply_bytes`: a unary reply as its encoded bytes,
//! for Rust code that reads it, as `_bson_reply_rows` does), so adding an RPC to proto/ needs no Rust. The
//! ergonomic names live in prelude.lua on top of it.

use std::rc::Rc;

use bytes::Bytes;

use mlua::{Lua, LuaString, MetaMethod, MultiValue, Table, UserData, UserDataMethods, Value as Lv};
use prost_reflect::MethodDescriptor;
use tonic::Streaming;

use super::convert::{self, Labels, closest};
use super::decode::{self, MalformedReply};
use super::error::CallError;
use super::generated::{self, snake_case};
use super::hooks::{self, Call};
use crate::client::file_source::{FileSource, ReadError};
use crate::client::{Client, Reply, normalize};
use crate::proto::method as find_method;

/// What `org_id`/`location_id` default to when a script does not pass them.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub org_id: Option<String>,
    pub location_id: Option<String>,
}

pub struct Cloud {
    pub client: Client,
    pub defaults: Defaults,
}

/// Result of `_call`: `true, value` or `false, CallError` (prelude.lua raises the error, so the
/// raised value stays a userdata with fields instead of being flattened to a string).
fn ok(_lua: &Lua, v: Lv) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![Lv::Boolean(true), v]))
}

fn fail(lua: &Lua, e: CallError) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![
        Lv::Boolean(false),
        Lv::UserData(lua.create_userdata(e)?),
    ]))
}

/// A reply as a Lua value. A malformed one fails the call as INTERNAL, like any other reply the
/// client cannot read.
fn reply(lua: &Lua, r: &Reply, display: &str) -> mlua::Result<Result<Lv, CallError>> {
    match decode::from_reply(lua, &r.desc, &r.bytes) {
        Ok(v) => Ok(Ok(v)),
        Err(e) => match e.downcast_ref::<MalformedReply>() {
            Some(m) => Ok(Err(CallError::new(display, "INTERNAL", m.to_string()))),
            None => Err(e),
        },
    }
}

/// The request, encoded straight from the Lua table (encode.rs); every attempt of the call
/// sends these bytes.
fn request(
    method: &MethodDescriptor,
    args: Option<Table>,
    labels: &Labels,
) -> Result<Bytes, String> {
    match args {
        Some(t) => super::encode::encode(&method.input(), &t, Some(labels)).map(Bytes::from),
        None => Ok(Bytes::new()),
    }
}

/// The request argument must be a table (or nil for an empty request): say so by method name
/// rather than letting mlua report a bare "error converting Lua string to table".
fn request_table(method: &MethodDescriptor, args: Lv) -> Result<Option<Table>, String> {
    match args {
        Lv::Nil => Ok(None),
        Lv::Table(t) => Ok(Some(t)),
        other => {
            let what = if method.is_client_streaming() {
                "array of request messages"
            } else {
                "table of request fields"
            };
            Err(format!(
                "{} request: expected {what}, got {}",
                method.name(),
                convert::type_name(&other)
            ))
        }
    }
}

async fn call(
    lua: &Lua,
    cloud: &Cloud,
    method: &MethodDescriptor,
    args: Option<Table>,
    labels: &Labels,
    display: &str,
    opts: &CallOptions,
) -> mlua::Result<Result<Lv, CallError>> {
    let (metadata, file) = (&opts.metadata, opts.file.as_ref());
    let invalid = |m: String| CallError::new(display, "INVALID_ARGUMENT", m);
    if file.is_some() && !method.is_client_streaming() {
        return Ok(Err(invalid(format!(
            "stream_file: {} is not a client stream",
            method.name()
        ))));
    }
    if method.is_client_streaming() {
        let Some(items) = args else {
            return Ok(Err(invalid("expected an array of request messages".into())));
        };
        let mut msgs = Vec::new();
        super::lazy::force(&items)?;
        for (i, t) in items.sequence_values::<Table>().enumerate() {
            match t
                .map_err(|e| e.to_string())
                .and_then(|t| convert::to_message_labeled(&method.input(), &t, labels))
            {
                Ok(m) => msgs.push(m),
                Err(e) => return Ok(Err(invalid(format!("message {}: {e}", i + 1)))),
            }
        }
        let sent = match file {
            None => cloud.client.client_streaming(method, msgs).await,
            Some(source) => {
                if let Err(e) = source.check(&method.input()) {
                    return Ok(Err(invalid(format!("stream_file: {e}"))));
                }
                let read_error = ReadError::default();
                let input = method.input();
                let sent = cloud
                    .client
                    .client_streaming_from(method, || {
                        use futures::StreamExt;
                        tokio_stream::iter(msgs.clone())
                            .chain(source.stream(input.clone(), read_error.clone()))
                    })
                    .await;
                let failed = read_error.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some(e) = failed {
                    return Ok(Err(CallError::new(
                        display,
                        "ABORTED",
                        format!(
                            "reading {} failed while it was sent: {e}; the upload is incomplete, upload it again",
                            source.path.display()
                        ),
                    )));
                }
                sent
            }
        };
        return match sent {
            Ok(resp) => reply(lua, &resp, display),
            Err(s) => Ok(Err(CallError::from_status(display, &s))),
        };
    }
    let msg = match request(method, args, labels) {
        Ok(m) => m,
        Err(e) => return Ok(Err(invalid(e))),
    };
    if method.is_server_streaming() {
        return Ok(
            match cloud.client.server_streaming(method, msg, metadata).await {
                Ok((headers, s)) => Ok(Lv::UserData(
                    lua.create_userdata(CallStream::new(s, headers, display))?,
                )),
                Err(s) => Err(CallError::from_status(display, &s)),
            },
        );
    }
    match cloud.client.unary(method, msg).await {
        Ok(resp) if opts.reply_bytes => Ok(Ok(Lv::String(lua.create_string(&resp.bytes)?))),
        Ok(resp) => reply(lua, &resp, display),
        Err(s) => Ok(Err(CallError::from_status(display, &s))),
    }
}

/// A server stream: `s:next()` returns the next response table or nil at the end;
/// `s:header(name)` a header of the reply (or nil); `s:close()` (or leaving a `for` loop,
/// through `__close`) cancels it.
pub struct CallStream {
    inner: Rc<tokio::sync::Mutex<Option<Streaming<Reply>>>>,
    headers: tonic::metadata::MetadataMap,
    method: String,
}

impl CallStream {
    fn new(s: Streaming<Reply>, headers: tonic::metadata::MetadataMap, method: &str) -> Self {
        Self {
            inner: Rc::new(tokio::sync::Mutex::new(Some(s))),
            headers,
            method: method.to_string(),
        }
    }
}

impl UserData for CallStream {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_async_method("next", |lua, this, ()| {
            let inner = this.inner.clone();
            let method = this.method.clone();
            async move {
                let mut guard = inner.lock().await;
                let Some(stream) = guard.as_mut() else {
                    return ok(&lua, Lv::Nil);
                };
                match stream.message().await {
                    Ok(Some(r)) => match reply(&lua, &r, &method)? {
                        Ok(v) => ok(&lua, v),
                        Err(e) => {
                            *guard = None;
                            fail(&lua, e)
                        }
                    },
                    Ok(None) => {
                        *guard = None;
                        ok(&lua, Lv::Nil)
                    }
                    Err(s) => {
                        *guard = None;
                        fail(&lua, CallError::from_status(&method, &normalize(s)))
                    }
                }
            }
        });
        methods.add_method("header", |_, this, name: String| {
            Ok(this
                .headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(str::to_string))
        });
        // Dropping the Streaming resets the HTTP/2 stream: the server sees the cancel.
        let close = |_: &Lua, this: &CallStream, _: MultiValue| {
            if let Ok(mut g) = this.inner.try_lock() {
                g.take();
            }
            Ok(())
        };
        methods.add_method("close", close);
        methods.add_meta_method(MetaMethod::Close, close);
    }
}

/// Points the state's `cloud` at `cloud`: its calls, its defaults (and forgets the defaults
/// the prelude had looked up).
pub fn connect(lua: &Lua, table: &Table, cloud: Rc<Cloud>) -> mlua::Result<()> {
    let defaults: Table = table.raw_get("_defaults")?;
    defaults.set("org_id", cloud.defaults.org_id.clone())?;
    defaults.set("location_id", cloud.defaults.location_id.clone())?;
    lua.set_app_data(cloud);
    if let Some(reset) = table.raw_get::<Option<mlua::Function>>("_forget_defaults")? {
        reset.call::<()>(())?;
    }
    Ok(())
}

/// The request metadata of `_call`'s options (`{metadata = {name = value}}`), sorted by name.
fn call_metadata(opts: Option<Table>) -> Result<Vec<(String, String)>, String> {
    let Some(opts) = opts else {
        return Ok(vec![]);
    };
    let md: Option<Table> = opts.get("metadata").map_err(|e| format!("metadata: {e}"))?;
    let mut out = Vec::new();
    if let Some(md) = md {
        for pair in md.pairs::<String, String>() {
            out.push(pair.map_err(|e| format!("metadata: names and values are strings ({e})"))?);
        }
    }
    out.sort();
    Ok(out)
}

/// What `_call`'s options table asks beyond the request.
struct CallOptions {
    metadata: Vec<(String, String)>,
    file: Option<FileSource>,
    /// A unary reply as its encoded bytes instead of a table: an SQL answer's 100,000 rows
    /// were first 100,000 Lua strings (a fifth of decoding them), which `_bson_reply_rows`
    /// reads in place instead.
    reply_bytes: bool,
}

/// The file of `_call`'s options (`{stream_file = {path = P, field = "a.b", chunk = N}}`) that a
/// client stream sends after its messages, one message per `chunk` bytes (default 1 MiB).
fn call_file_source(opts: Option<&Table>) -> Result<Option<FileSource>, String> {
    let Some(opts) = opts else {
        return Ok(None);
    };
    let t: Option<Table> = opts
        .get("stream_file")
        .map_err(|e| format!("stream_file: {e}"))?;
    let Some(t) = t else {
        return Ok(None);
    };
    let path: String = t
        .get("path")
        .map_err(|e| format!("stream_file.path: a file path ({e})"))?;
    let field: String = t
        .get("field")
        .map_err(|e| format!("stream_file.field: a dotted field path ({e})"))?;
    let chunk: Option<usize> = t
        .get("chunk")
        .map_err(|e| format!("stream_file.chunk: a byte count ({e})"))?;
    Ok(Some(FileSource {
        path: path.into(),
        field,
        chunk_bytes: chunk.unwrap_or(1024 * 1024),
    }))
}

thread_local! {
    /// Methods by the name `_call` was given: the pool's lookup walks the service's methods
    /// comparing names (~2,000 instructions a call), and a script calls the same few.
    static METHODS: std::cell::RefCell<std::collections::HashMap<String, MethodDescriptor>> =
        Default::default();
}

/// `find_method`, remembered per thread (Lua states stay on theirs; the pool is static).
fn method_named(name: &str) -> Result<MethodDescriptor, String> {
    if let Some(m) = METHODS.with_borrow(|ms| ms.get(name).cloned()) {
        return Ok(m);
    }
    let m = find_method(name)?;
    METHODS.with_borrow_mut(|ms| ms.insert(name.to_string(), m.clone()));
    Ok(m)
}

/// Registers the Rust core functions into `cloud`. Without a connection (`None`: a state made
/// to read the specs) every call fails with UNAVAILABLE.
pub fn register(lua: &Lua, table: &Table, cloud: Option<Rc<Cloud>>) -> mlua::Result<()> {
    let call_fn = lua.create_async_function(
        move |lua,
              (name, args, display, labels, opts): (
            LuaString,
            Lv,
            Option<String>,
            Option<Table>,
            Option<Table>,
        )| {
            // Looked up per call: `fleetsh test` gives each test a fleet of its own (`connect`).
            let cloud = lua.app_data_ref::<Rc<Cloud>>().map(|c| Rc::clone(&c));
            async move {
                // Read in place: the method is found by the Lua string, not a copy of it.
                let (display, method) = {
                    let name = name.to_str()?;
                    let display = display
                        .unwrap_or_else(|| snake_case(name.rsplit('/').next().unwrap_or(&name)));
                    let method = method_named(&name);
                    (display, method)
                };
                let Some(cloud) = cloud else {
                    let e =
                        CallError::new(&display, "UNAVAILABLE", "this Lua state is not connected");
                    return fail(&lua, e);
                };
                let invalid = |e| fail(&lua, CallError::new(&display, "INVALID_ARGUMENT", e));
                let method = match method {
                    Ok(m) => m,
                    Err(e) => return invalid(e),
                };
                let args = match request_table(&method, args) {
                    Ok(a) => a,
                    Err(e) => return invalid(e),
                };
                let labels = Labels(labels);
                let file = match call_file_source(opts.as_ref()) {
                    Ok(f) => f,
                    Err(e) => return invalid(e),
                };
                let reply_bytes = match opts.as_ref().map(|o| o.get::<Option<bool>>("reply_bytes"))
                {
                    Some(Err(e)) => return invalid(format!("reply_bytes: a boolean ({e})")),
                    Some(Ok(b)) => b.unwrap_or(false),
                    None => false,
                };
                let metadata = match call_metadata(opts) {
                    Ok(m) => m,
                    Err(e) => return invalid(e),
                };
                let call_opts = CallOptions {
                    metadata,
                    file,
                    reply_bytes,
                };
                let sent = Box::pin(call(
                    &lua,
                    &cloud,
                    &method,
                    args.clone(),
                    &labels,
                    &display,
                    &call_opts,
                ));
                // The one interception point (the runner's: secrets, dry-run plans, audit lines).
                let info = Call {
                    method: &method,
                    display: &display,
                    args,
                };
                match hooks::get(&lua).around(&lua, info, sent).await? {
                    Ok(v) => ok(&lua, v),
                    Err(e) => fail(&lua, e),
                }
            }
        },
    )?;
    table.set("_call", call_fn)?;

    table.set("_defaults", lua.create_table()?)?;
    if let Some(cloud) = cloud {
        connect(lua, table, cloud)?;
    }

    table.set(
        "_closest",
        lua.create_function(|_, (name, candidates): (String, Vec<String>)| {
            Ok(closest(&name, candidates.iter().map(String::as_str)).map(str::to_string))
        })?,
    )?;
    table.set(
        "_error",
        lua.create_function(|_, (method, code, message): (String, String, String)| {
            let code = ["INVALID_ARGUMENT", "FAILED_PRECONDITION", "NOT_FOUND"]
                .into_iter()
                .find(|c| *c == code)
                .unwrap_or("UNKNOWN");
            Ok(CallError::new(&method, code, message))
        })?,
    )?;
    // The generated functions' shapes and names, read on demand: the descriptor pool they need
    // (~1.3 ms to build) is otherwise met at a script's first call, not at its start.
    table.set(
        "_shape",
        lua.create_function(|lua, (area, name): (String, String)| {
            generated::shape(&area, &name)
                .map(|s| s.to_lua(lua))
                .transpose()
        })?,
    )?;
    table.set(
        "_generated",
        lua.create_function(|_, area: String| {
            Ok(generated::shapes(&area)
                .into_iter()
                .map(|s| s.name)
                .collect::<Vec<_>>())
        })?,
    )?;
    table.set(
        "_areas",
        lua.create_function(|_, ()| {
            Ok(crate::proto::LUA_SERVICES
                .iter()
                .map(|(_, t)| *t)
                .filter(|t| !t.is_empty())
                .fold(Vec::new(), |mut v, t| {
                    if !v.contains(&t) {
                        v.push(t);
                    }
                    v
                }))
        })?,
    )?;
    // The value an async call yields while waiting (see the coroutine wrappers in prelude.lua).
    table.set("_pending", Lv::LightUserData(Lua::poll_pending()))?;
    Ok(())
}
