//! Secrets returned by the API (API keys, part and location secrets) travel in Lua as a
//! `Secret` userdata: `tostring`, `print`, `..`, `json.encode`, logs, plans and audit lines all
//! see `****`; `s:reveal()` (or `cloud.reveal(s)`) returns the real string, so writing a key to a
//! file is a deliberate act. The rules for which fields are secret live here, once, so the REPL
//! printer can share them.

use std::cell::RefCell;
use std::collections::HashMap;

use mlua::{Lua, MetaMethod, Table, UserData, UserDataMethods, Value as Lv};
use prost_reflect::{Kind, MessageDescriptor};

pub const MASK: &str = "****";

/// Field names that hold secrets wherever they appear (requests, JSON, configs).
const SECRET_NAMES: &[&str] = &[
    "secret",
    "payload",
    "api_key_secret",
    "password",
    // A part's TLS key (RobotService/Certificate) and a user's tokens (CreateOAuthAppUser).
    "tls_private_key",
    "auth_token",
    "refresh_token",
    "access_token",
    // An OAuth app's client secret (CreateOAuthApp returns it once).
    "client_secret",
];

/// Whether `field` of message `message` (full name) holds a secret: any `secret` field, and the
/// `key` of the API-key messages (CreateKeyResponse, RotateKeyResponse, APIKey, ...).
pub fn is_secret_field(message: &str, field: &str) -> bool {
    let short = message.rsplit('.').next().unwrap_or(message);
    SECRET_NAMES.contains(&field) || (field == "key" && short.contains("Key"))
}

/// Whether a free-form key (a JSON object key) names a secret.
pub fn is_secret_name(name: &str) -> bool {
    SECRET_NAMES.contains(&name)
}

/// A secret string. Equality compares the real values, so `new ~= old` works.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(MASK)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(MASK)
    }
}

impl UserData for Secret {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("reveal", |_, s, ()| Ok(s.0.clone()));
        m.add_meta_method(MetaMethod::ToString, |_, _, ()| Ok(MASK));
        m.add_meta_method(MetaMethod::Len, |_, s, ()| Ok(s.0.len()));
        m.add_meta_method(MetaMethod::Eq, |_, s, o: mlua::AnyUserData| {
            Ok(o.borrow::<Secret>().map(|o| o.0 == s.0).unwrap_or(false))
        });
        // `"key: " .. s` must not leak either.
        m.add_meta_function(MetaMethod::Concat, |lua, (a, b): (Lv, Lv)| {
            let text = |v: &Lv| -> mlua::Result<String> {
                match v {
                    Lv::UserData(u) if u.is::<Secret>() => Ok(MASK.to_string()),
                    other => lua.coerce_string(other.clone())?.map_or_else(
                        || {
                            Err(mlua::Error::runtime(
                                "attempt to concatenate a secret with a non-string",
                            ))
                        },
                        |s| Ok(s.to_string_lossy()),
                    ),
                }
            };
            Ok(format!("{}{}", text(&a)?, text(&b)?))
        });
    }
}

/// `cloud.reveal(x)`: the real string of a Secret; strings and nil pass through unchanged.
pub fn reveal(v: &Lv) -> mlua::Result<Option<String>> {
    match v {
        Lv::UserData(u) if u.is::<Secret>() => Ok(Some(u.borrow::<Secret>()?.0.clone())),
        Lv::String(s) => Ok(Some(s.to_str()?.to_string())),
        Lv::Nil => Ok(None),
        _ => Err(mlua::Error::runtime(
            "cloud.reveal: expected a secret or a string",
        )),
    }
}

pub fn new_secret(lua: &Lua, s: String) -> mlua::Result<Lv> {
    Ok(Lv::UserData(lua.create_ser_userdata(Secret(s))?))
}

thread_local! {
    static HAS_SECRET: RefCell<HashMap<String, bool>> = RefCell::new(HashMap::new());
}

/// Whether messages of `desc` can hold a secret anywhere (memoised; a cycle counts as no).
pub(super) fn has_secret(desc: &MessageDescriptor) -> bool {
    if let Some(b) = HAS_SECRET.with(|m| m.borrow().get(desc.full_name()).copied()) {
        return b;
    }
    HAS_SECRET.with(|m| m.borrow_mut().insert(desc.full_name().to_string(), false));
    let b = desc.fields().any(|f| match f.kind() {
        Kind::String => is_secret_field(desc.full_name(), f.name()),
        Kind::Message(m) if !f.is_map() => has_secret(&m),
        _ => false,
    });
    HAS_SECRET.with(|m| m.borrow_mut().insert(desc.full_name().to_string(), b));
    b
}

/// Replaces the secret string fields of a converted response (a table shaped like `desc`) by
/// `Secret`s, in place.
pub fn wrap(lua: &Lua, desc: &MessageDescriptor, t: &Table) -> mlua::Result<()> {
    if !has_secret(desc) {
        return Ok(());
    }
    for f in desc.fields() {
        match f.kind() {
            Kind::String if is_secret_field(desc.full_name(), f.name()) => {
                // An empty value (a listed key's, never shown twice) hides nothing: keep "".
                if let Lv::String(s) = t.raw_get::<Lv>(f.name())? {
                    if !s.as_bytes().is_empty() {
                        t.raw_set(f.name(), new_secret(lua, s.to_str()?.to_string())?)?;
                    }
                }
            }
            Kind::Message(m) if !f.is_map() && has_secret(&m) => {
                let Lv::Table(sub) = t.raw_get::<Lv>(f.name())? else {
                    continue;
                };
                if f.is_list() {
                    crate::lua::lazy::force(&sub)?;
                    for item in sub.sequence_values::<Table>() {
                        wrap(lua, &m, &item?)?;
                    }
                } else {
                    wrap(lua, &m, &sub)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Masks secret-named keys of a JSON value in place (plans and audit lines are built from
/// request tables, where a secret could only come from the script itself).
pub fn mask_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if is_secret_name(k) && x.is_string() {
                    *x = serde_json::Value::String(MASK.into());
                } else {
                    mask_json(x);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(mask_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::POOL;

    #[test]
    fn rules() {
        assert!(is_secret_field("viam.app.v1.CreateKeyResponse", "key"));
        assert!(is_secret_field("viam.app.v1.APIKey", "key"));
        assert!(is_secret_field("viam.app.v1.SharedSecret", "secret"));
        assert!(!is_secret_field("viam.app.v1.Robot", "key"));
        assert!(is_secret_field(
            "viam.app.v1.CertificateResponse",
            "tls_private_key"
        ));
        assert!(!is_secret_field(
            "viam.app.v1.CertificateResponse",
            "tls_certificate"
        ));
        assert!(is_secret_field(
            "viam.app.v1.CreateOAuthAppUserResponse",
            "refresh_token"
        ));
        let part = POOL.get_message_by_name("viam.app.v1.RobotPart").unwrap();
        assert!(has_secret(&part));
        let org = POOL
            .get_message_by_name("viam.app.v1.Organization")
            .unwrap();
        assert!(!has_secret(&org));
    }

    #[test]
    fn secrets_print_masked_and_reveal() {
        let lua = Lua::new();
        lua.globals()
            .set("s", new_secret(&lua, "hunter2".into()).unwrap())
            .unwrap();
        let out: (String, String, String, bool) = lua
            .load("return tostring(s), 'k=' .. s, s:reveal(), s == s")
            .eval()
            .unwrap();
        assert_eq!(
            out,
            ("****".into(), "k=****".into(), "hunter2".into(), true)
        );
        let json = serde_json::to_string(&lua.globals().get::<Lv>("s").unwrap().to_serializable())
            .unwrap();
        assert_eq!(json, "\"****\"");
        let mut v = serde_json::json!({"a": [{"secret": "x", "id": "1"}]});
        mask_json(&mut v);
        assert_eq!(v, serde_json::json!({"a": [{"secret": "****", "id": "1"}]}));
    }
}
