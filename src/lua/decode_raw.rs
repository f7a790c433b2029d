//! A fast path of decode.rs for "simple" messages (`MsgPlan::simple`: singular fields of
//! scalar, string, bytes, enum, Timestamp or simple-message type, no oneofs, lists or maps),
//! such as a get_robot's reply: the whole message is built in one raw session on the Lua stack
//! (`Lua::exec_raw`) instead of one mlua call per table and per field, whose bookkeeping
//! (locking, a checked stack, a reference per table, pushing each handle) was ~240
//! instructions per field and ~900 per table.
//!
//! A message the fast path does not take as it comes (a field seen twice, which protobuf merges;
//! anything malformed; nesting too deep) makes it give up, and the caller decodes the bytes
//! again through the full walk, which has every rule and every error message.
//!
//! Safety: in the session only the C API's raw operations run (`lua_createtable`,
//! `lua_pushlstring`, `lua_rawset`, `lua_rawgeti`, ...); their only error is running out of
//! memory, which mlua's allocator turns into an abort (no memory limit is set), so nothing
//! unwinds over the Rust frames. The stack is grown (`lua_checkstack`) before each message's
//! pushes.

use std::ffi::c_int;

use mlua::{Lua, Value as Lv, ffi};
use prost::encoding::{self, DecodeContext, WireType, decode_key, skip_field};

use super::{MAX_DEPTH, MsgPlan, PlanSet, Shape, Ty, Unset, delimited, scalar, utf8};

/// Where the session finds the plan set's field names and defaults (its arguments).
const KEYS: c_int = 1;
const DEFAULTS: c_int = 2;

/// Message `idx` of `plans` from `buf`, or None when the fast path gave up on it.
pub(super) fn decode(
    lua: &Lua,
    plans: &PlanSet,
    idx: usize,
    buf: &[u8],
    depth: u32,
) -> mlua::Result<Option<Lv>> {
    let mut done = false;
    // SAFETY: see the module's comment; the closure leaves exactly one value on the stack.
    let v: Lv = unsafe {
        lua.exec_raw((&plans.keys, &plans.defaults), |st| {
            done = message(st, plans, idx, buf, depth).is_some();
            if !done {
                ffi::lua_pushnil(st);
            }
            ffi::lua_replace(st, 1);
            ffi::lua_settop(st, 1);
        })?
    };
    Ok(done.then_some(v))
}

/// Whether message `idx` (and every message it holds) can take the fast path: worked out once,
/// when the plans are made. A message that holds itself cannot (its depth is unbounded).
pub(super) fn simple(msgs: &[MsgPlan], idx: usize, visiting: &mut Vec<usize>) -> bool {
    let m = &msgs[idx];
    if m.shape != Shape::Plain || m.fields.len() > 64 || visiting.contains(&idx) {
        return false;
    }
    visiting.push(idx);
    let ok = m.fields.iter().all(|f| {
        f.oneof.is_none()
            && matches!(f.card, super::Card::Single)
            && match f.ty {
                Ty::Scalar(_) | Ty::String | Ty::Bytes | Ty::Enum(_) => true,
                Ty::Message(sub) => {
                    msgs[sub].shape == Shape::Timestamp || simple(msgs, sub, visiting)
                }
            }
    });
    visiting.pop();
    ok
}

unsafe fn push_bytes(st: *mut ffi::lua_State, b: &[u8]) {
    unsafe { ffi::lua_pushlstring(st, b.as_ptr().cast(), b.len()) };
}

/// Pushes message `idx`'s table; None (the stack left as it is) when the fast path gives up.
unsafe fn message(
    st: *mut ffi::lua_State,
    plans: &PlanSet,
    idx: usize,
    mut buf: &[u8],
    depth: u32,
) -> Option<()> {
    let m = &plans.msgs[idx];
    // A table, a key and a value, plus a nested message's table.
    if depth > MAX_DEPTH || unsafe { ffi::lua_checkstack(st, 4) } == 0 {
        return None;
    }
    unsafe { ffi::lua_createtable(st, 0, m.fields.len() as c_int) };
    let t = unsafe { ffi::lua_gettop(st) };
    let mut seen = 0u64;
    while !buf.is_empty() {
        let (number, wire) = decode_key(&mut buf).ok()?;
        let Some(i) = m.field(number) else {
            skip_field(wire, number, &mut buf, DecodeContext::default()).ok()?;
            continue;
        };
        // Seen twice: protobuf merges a message field, which the full walk does.
        if seen & (1 << i) != 0 {
            return None;
        }
        seen |= 1 << i;
        unsafe {
            ffi::lua_rawgeti(st, KEYS, m.key_base + i as ffi::lua_Integer);
            value(st, plans, m.fields[i].ty, wire, &mut buf, depth)?;
            ffi::lua_rawset(st, t);
        }
    }
    for (i, f) in m.fields.iter().enumerate() {
        if seen & (1 << i) == 0 && matches!(f.default, Unset::Value(_)) {
            let at = m.key_base + i as ffi::lua_Integer;
            unsafe {
                ffi::lua_rawgeti(st, KEYS, at);
                ffi::lua_rawgeti(st, DEFAULTS, at);
                ffi::lua_rawset(st, t);
            }
        }
    }
    Some(())
}

/// Pushes one value of type `ty`.
unsafe fn value(
    st: *mut ffi::lua_State,
    plans: &PlanSet,
    ty: Ty,
    wire: WireType,
    buf: &mut &[u8],
    depth: u32,
) -> Option<()> {
    match ty {
        Ty::Scalar(s) => {
            let v = scalar(s, wire, buf).ok()?;
            unsafe {
                match v {
                    Lv::Integer(i) => ffi::lua_pushinteger(st, i),
                    Lv::Number(n) => ffi::lua_pushnumber(st, n),
                    Lv::Boolean(b) => ffi::lua_pushboolean(st, c_int::from(b)),
                    _ => unreachable!("scalars are numbers and booleans"),
                }
            }
        }
        Ty::String => {
            let s = utf8(delimited(wire, buf).ok()?).ok()?;
            unsafe { push_bytes(st, s.as_bytes()) };
        }
        Ty::Bytes => {
            let b = delimited(wire, buf).ok()?;
            unsafe { push_bytes(st, b) };
        }
        Ty::Enum(e) => {
            let mut n = 0i32;
            encoding::int32::merge(wire, &mut n, buf, DecodeContext::default()).ok()?;
            let names = &plans.enums[e];
            match names.0.binary_search_by_key(&n, |(k, _)| *k) {
                Ok(j) => unsafe { push_bytes(st, names.1[j].as_bytes()) },
                Err(_) => unsafe { ffi::lua_pushinteger(st, i64::from(n)) },
            }
        }
        Ty::Message(sub) => {
            let bytes = delimited(wire, buf).ok()?;
            if plans.msgs[sub].shape == Shape::Timestamp {
                let ts = super::timestamp_of(bytes).ok()?;
                let short = super::super::rfc3339::format(&ts);
                if short.is_full() {
                    unsafe { push_bytes(st, ts.to_string().as_bytes()) };
                } else {
                    unsafe { push_bytes(st, short.as_bytes()) };
                }
            } else {
                unsafe { message(st, plans, sub, bytes, depth + 1)? };
            }
        }
    }
    Some(())
}
