//! The one interception point of every `cloud` call (called from `cloud._call`): secrets in
//! responses become `Secret`s; with a runner `Session` installed, mutating calls are planned
//! instead of sent (`--dry-run`) and appended to the audit file (`--audit`).

use std::rc::Rc;

use futures::future::LocalBoxFuture;
use mlua::{Lua, Table, Value as Lv};
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, MethodDescriptor, Value as Pv};

use super::secret;
use super::session::Session;
use crate::client::is_mutating;
use crate::lua::convert;
use crate::lua::hooks::{Call, Outcome};

/// The value id fields of a planned call's response carry.
pub const PLANNED: &str = "(planned)";

/// What `around` asks of every call's method, worked out at its first call.
#[derive(Clone, Copy)]
struct Facts {
    mutating: bool,
    /// The reply has secret fields to wrap.
    secret: bool,
    /// The reply has a `next_page_token` (a page of a longer list).
    paged: bool,
}

thread_local! {
    /// By method (a script calls a few): classifying the name, the secret walk's lookup by type
    /// name and reading a `next_page_token` the reply cannot have were ~1,500 instructions a call.
    static FACTS: std::cell::RefCell<Vec<(MethodDescriptor, Facts)>> = const {
        std::cell::RefCell::new(Vec::new())
    };
}

fn facts(method: &MethodDescriptor) -> Facts {
    let known = FACTS.with_borrow(|fs| fs.iter().find(|(m, _)| m == method).map(|(_, f)| *f));
    if let Some(f) = known {
        return f;
    }
    let output = method.output();
    let f = Facts {
        mutating: is_mutating(method.name()),
        secret: secret::has_secret(&output),
        paged: output.get_field_by_name("next_page_token").is_some(),
    };
    FACTS.with_borrow_mut(|fs| fs.push((method.clone(), f)));
    f
}

pub async fn around(lua: &Lua, call: Call<'_>, send: LocalBoxFuture<'_, Outcome>) -> Outcome {
    let Call {
        method,
        display,
        args,
    } = call;
    let facts = facts(method);
    let mutating = facts.mutating;
    // Clone the Rc so no app-data borrow is held across the await.
    let session = lua.app_data_ref::<Rc<Session>>().map(|s| Rc::clone(&s));
    // A dry run's plan names what it touches: it learns names from what reads return.
    let learner = session.clone().filter(|s| s.dry_run && !mutating);
    // Without --dry-run or --audit a change is not recorded: skip rendering its arguments.
    let session = session.filter(|s| mutating && s.records_changes());
    let request = session
        .as_ref()
        .map(|_| to_json(args.map(Lv::Table).as_ref(), 0));
    if let (Some(s), Some(req)) = (&session, &request) {
        if s.dry_run {
            s.plan(display, method.name(), req.clone());
            s.audit(display, method.name(), targets(req, None), Ok("planned"));
            return Ok(Ok(planned(lua, &method.output())?));
        }
    }
    let out = send.await?;
    if let (Some(s), Ok(Lv::Table(t))) = (&learner, &out) {
        s.learn_names(t)?;
    }
    if let Ok(Lv::Table(t)) = &out {
        if facts.secret {
            secret::wrap(lua, &method.output(), t)?;
        }
        if facts.paged
            && let Some(token) = t.raw_get::<Option<mlua::LuaString>>("next_page_token")?
        {
            super::progress::page(display, !token.as_bytes().is_empty());
        }
    }
    if let (Some(s), Some(req)) = (&session, &request) {
        match &out {
            Ok(v) => {
                let resp = to_json(Some(v), 0);
                s.audit(display, method.name(), targets(req, Some(&resp)), Ok("ok"));
            }
            Err(e) => s.audit(display, method.name(), targets(req, None), Err(e.code)),
        }
    }
    Ok(out)
}

/// What a planned call returns: the response message with defaults, nested messages present
/// (so `.id` works on them), id fields set to "(planned)" and `_planned = true` on the top.
fn planned(lua: &Lua, desc: &MessageDescriptor) -> mlua::Result<Lv> {
    let msg = filled(desc, 0);
    let v = convert::from_message(lua, &msg)?;
    if let Lv::Table(t) = &v {
        secret::wrap(lua, desc, t)?;
        mark_planned(t, 0)?;
    }
    Ok(v)
}

/// `_planned = true` on every message table, since the prelude returns nested fields.
fn mark_planned(t: &Table, depth: usize) -> mlua::Result<()> {
    if t.metatable().is_none() {
        t.raw_set("_planned", true)?;
    }
    for pair in t.pairs::<Lv, Lv>() {
        if let (_, Lv::Table(sub)) = pair? {
            if depth < 8 {
                mark_planned(&sub, depth + 1)?;
            }
        }
    }
    Ok(())
}

fn is_id(name: &str) -> bool {
    name == "id" || name.ends_with("_id")
}

fn filled(desc: &MessageDescriptor, depth: usize) -> DynamicMessage {
    let mut msg = DynamicMessage::new(desc.clone());
    for f in desc.fields() {
        if f.is_list() || f.is_map() {
            continue;
        }
        match f.kind() {
            Kind::String if is_id(f.name()) => msg.set_field(&f, Pv::String(PLANNED.into())),
            Kind::Message(m) if depth < 4 && !m.full_name().starts_with("google.protobuf.") => {
                msg.set_field(&f, Pv::Message(filled(&m, depth + 1)))
            }
            _ => {}
        }
    }
    msg
}

/// A Lua value as JSON for plans and audit lines: secrets masked, long or binary strings
/// summarised (a module upload is not copied into the plan), functions named by type.
pub fn to_json(v: Option<&Lv>, depth: usize) -> serde_json::Value {
    use serde_json::Value as J;
    let Some(v) = v else { return J::Null };
    match v {
        Lv::Nil => J::Null,
        Lv::Boolean(b) => J::Bool(*b),
        Lv::Integer(i) => J::from(*i),
        Lv::Number(n) => serde_json::Number::from_f64(*n).map_or(J::Null, J::Number),
        Lv::String(s) => match s.to_str() {
            Ok(t) if t.len() <= 512 => J::String(t.to_string()),
            _ => J::String(format!("<{} bytes>", s.as_bytes().len())),
        },
        Lv::UserData(u) if u.is::<secret::Secret>() => J::String(secret::MASK.into()),
        Lv::Table(t) if depth < 16 => {
            // An audit line shows the whole reply; a lazy list that fails to decode shows empty.
            let _ = crate::lua::lazy::force(t);
            let len = t.raw_len();
            let pairs: Vec<(Lv, Lv)> = t.pairs::<Lv, Lv>().filter_map(Result::ok).collect();
            let mut out = if len > 0 && pairs.len() == len {
                J::Array(
                    (1..=len)
                        .map(|i| to_json(t.raw_get::<Lv>(i).ok().as_ref(), depth + 1))
                        .collect(),
                )
            } else {
                let mut m = serde_json::Map::new();
                let mut pairs = pairs;
                pairs.sort_by_key(|(k, _)| k.to_string().unwrap_or_default());
                for (k, x) in pairs {
                    let key = k.to_string().unwrap_or_else(|_| k.type_name().to_string());
                    if !key.starts_with('_') {
                        m.insert(key, to_json(Some(&x), depth + 1));
                    }
                }
                J::Object(m)
            };
            secret::mask_json(&mut out);
            out
        }
        other => J::String(format!("<{}>", other.type_name())),
    }
}

/// The ids a call touched: id-like fields of the request (and of the response, one level down,
/// e.g. the id of a created location), as `field -> id`.
pub fn targets(req: &serde_json::Value, resp: Option<&serde_json::Value>) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    let mut collect = |v: &serde_json::Value, prefix: &str| {
        let Some(obj) = v.as_object() else { return };
        for (k, x) in obj {
            let name = format!("{prefix}{k}");
            match x {
                serde_json::Value::String(s)
                    if (is_id(k) || k == "location") && !s.is_empty() && s != secret::MASK =>
                {
                    out.entry(name).or_insert_with(|| x.clone());
                }
                serde_json::Value::Array(a)
                    if k.ends_with("_ids") && a.iter().all(|i| i.is_string()) =>
                {
                    out.entry(name).or_insert_with(|| x.clone());
                }
                serde_json::Value::Object(inner) => {
                    for (ik, ix) in inner {
                        if is_id(ik) && ix.as_str().is_some_and(|s| !s.is_empty()) {
                            out.entry(format!("{name}.{ik}"))
                                .or_insert_with(|| ix.clone());
                        }
                    }
                }
                _ => {}
            }
        }
    };
    collect(req, "");
    if let Some(r) = resp {
        collect(r, "result.");
    }
    serde_json::Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::POOL;

    #[test]
    fn planned_values_have_ids_and_nested_messages() {
        let lua = Lua::new();
        let desc = POOL
            .get_message_by_name("viam.app.v1.CreateLocationResponse")
            .unwrap();
        let Lv::Table(t) = planned(&lua, &desc).unwrap() else {
            panic!("a table")
        };
        let loc: Table = t.get("location").unwrap();
        assert_eq!(loc.get::<String>("id").unwrap(), PLANNED);
        assert!(t.get::<bool>("_planned").unwrap());
    }

    #[test]
    fn targets_take_ids_not_secrets() {
        let req =
            serde_json::json!({"id": "k1", "name": "n", "authorization": {"resource_id": "o1"}});
        let resp = serde_json::json!({"id": "k2", "key": "****"});
        let t = targets(&req, Some(&resp));
        assert_eq!(
            t,
            serde_json::json!({"id": "k1", "authorization.resource_id": "o1", "result.id": "k2"})
        );
    }

    #[test]
    fn json_of_lua_values_masks_and_summarises() {
        let lua = Lua::new();
        let v: Lv = lua
            .load("return {secret = 'x', list = {1, 2}, blob = string.rep('a', 600), id = 'r'}")
            .eval()
            .unwrap();
        let j = to_json(Some(&v), 0);
        assert_eq!(
            j,
            serde_json::json!({"blob": "<600 bytes>", "id": "r", "list": [1, 2], "secret": "****"})
        );
    }
}
