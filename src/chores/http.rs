//! `http`: so a chore that runs in cron can tell someone (a webhook, a chat hook). A maintained
//! client (reqwest on rustls with the system's roots) does the work; this file only maps Lua
//! tables to requests and keeps secrets out of messages: a `cloud.Secret` header or body is
//! sent revealed, but errors name only the URL's scheme and host (webhook URLs often carry a
//! token in their path) and never a header or body.
//!
//! `http.request{method = "GET", url =, headers = {}, body = "", timeout = 30}` ->
//! `{status =, ok =, headers = {name = value}, body =}`; transport failures raise.
//! `http.post_json(url, value, opts)` sends `value` as JSON (opts: headers, timeout).

use std::sync::OnceLock;
use std::time::Duration;

use mlua::{Lua, Table, Value as Lv};

use super::secret;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // tonic brings rustls with ring; reqwest is built without a provider of its own.
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .user_agent(concat!("fleetsh/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("cannot set up the HTTP client: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// `https://hooks.example.com/…`: what a message may show of a URL.
pub fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let rest = if u.path().len() > 1 || u.query().is_some() {
                "/…"
            } else {
                "/"
            };
            format!("{}://{host}{port}{rest}", u.scheme())
        }
        Err(_) => "(an invalid url)".into(),
    }
}

fn text(v: Lv, what: &str) -> mlua::Result<Vec<u8>> {
    match &v {
        Lv::String(s) => Ok(s.as_bytes().to_vec()),
        Lv::UserData(_) => Ok(secret::reveal(&v)?.unwrap_or_default().into_bytes()),
        Lv::Integer(_) | Lv::Number(_) => Ok(v.to_string()?.into_bytes()),
        other => Err(mlua::Error::runtime(format!(
            "{what}: expected a string, got {}",
            other.type_name()
        ))),
    }
}

struct Spec {
    method: reqwest::Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
    timeout: Duration,
}

fn spec(t: &Table) -> mlua::Result<Spec> {
    let bad = |m: String| mlua::Error::runtime(format!("http.request: {m}"));
    for pair in t.pairs::<Lv, Lv>() {
        let (k, _) = pair?;
        let k = k.to_string()?;
        if !["method", "url", "headers", "body", "timeout"].contains(&k.as_str()) {
            return Err(bad(format!(
                "unknown field '{k}' (method, url, headers, body, timeout)"
            )));
        }
    }
    let url: String = t
        .get::<Option<String>>("url")?
        .ok_or_else(|| bad("url is required".into()))?;
    let method = t
        .get::<Option<String>>("method")?
        .unwrap_or_else(|| "GET".into())
        .to_ascii_uppercase();
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| bad(format!("'{method}' is not an HTTP method")))?;
    let mut headers = Vec::new();
    if let Some(h) = t.get::<Option<Table>>("headers")? {
        for pair in h.pairs::<String, Lv>() {
            let (k, v) = pair?;
            let v = text(v, &format!("http.request: header {k}"))?;
            headers.push((k, v));
        }
    }
    let body = match t.get::<Lv>("body")? {
        Lv::Nil => None,
        v => Some(text(v, "http.request: body")?),
    };
    let timeout = match t.get::<Option<f64>>("timeout")? {
        Some(s) if s.is_finite() && s > 0.0 => Duration::from_secs_f64(s),
        Some(s) => return Err(bad(format!("timeout must be positive seconds, got {s}"))),
        None => DEFAULT_TIMEOUT,
    };
    Ok(Spec {
        method,
        url,
        headers,
        body,
        timeout,
    })
}

async fn send(lua: &Lua, s: Spec) -> mlua::Result<Table> {
    let shown = format!("http.request {} {}", s.method, redacted(&s.url));
    let fail = |m: String| mlua::Error::runtime(format!("{shown}: {m}"));
    let url = reqwest::Url::parse(&s.url).map_err(|e| fail(format!("invalid url: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(fail("only http:// and https:// urls are supported".into()));
    }
    let mut req = client()
        .map_err(fail)?
        .request(s.method, url)
        .timeout(s.timeout);
    for (k, v) in s.headers {
        let value = reqwest::header::HeaderValue::from_bytes(&v)
            .map_err(|_| fail(format!("header {k} has a value HTTP cannot carry")))?;
        let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| fail(format!("'{k}' is not a header name")))?;
        req = req.header(name, value);
    }
    if let Some(b) = s.body {
        req = req.body(b);
    }
    // without_url: reqwest's messages name the URL, which may hold a token.
    let resp = req.send().await.map_err(|e| fail(cause(e)))?;
    let status = resp.status();
    let out = lua.create_table()?;
    out.set("status", status.as_u16())?;
    out.set("ok", status.is_success())?;
    let headers = lua.create_table()?;
    for (k, v) in resp.headers() {
        headers.set(k.as_str(), lua.create_string(v.as_bytes())?)?;
    }
    out.set("headers", headers)?;
    let body = resp.bytes().await.map_err(|e| fail(cause(e)))?;
    out.set("body", lua.create_string(&body)?)?;
    Ok(out)
}

/// The error and its sources, once each, without the URL.
fn cause(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut parts = vec![e.to_string()];
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}

pub fn register(lua: &Lua) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.set(
        "request",
        lua.create_async_function(|lua, req: Table| async move {
            let s = spec(&req)?;
            send(&lua, s).await
        })?,
    )?;
    t.set(
        "post_json",
        lua.create_async_function(
            |lua, (url, value, opts): (String, Lv, Option<Table>)| async move {
                let ser = value
                    .to_serializable()
                    .sort_keys(true)
                    .detect_mixed_tables(true);
                let body = serde_json::to_vec(&ser).map_err(|e| {
                    mlua::Error::runtime(format!("http.post_json: cannot encode the value: {e}"))
                })?;
                let req = lua.create_table()?;
                req.set("method", "POST")?;
                req.set("url", url)?;
                req.set("body", lua.create_string(&body)?)?;
                let headers = lua.create_table()?;
                if let Some(o) = &opts {
                    if let Some(h) = o.get::<Option<Table>>("headers")? {
                        for pair in h.pairs::<Lv, Lv>() {
                            let (k, v) = pair?;
                            headers.set(k, v)?;
                        }
                    }
                    req.set("timeout", o.get::<Lv>("timeout")?)?;
                }
                headers.set("content-type", "application/json")?;
                req.set("headers", headers)?;
                let resp = send(&lua, spec(&req)?).await?;
                Ok(resp)
            },
        )?,
    )?;
    lua.globals().set("http", t)
}
