//! Lazy lists behave as the arrays an eager decode makes: `#`, indexing, `ipairs`, `pairs`,
//! writes, the raw accessors, json and requests; short lists are not lazy at all.

use mlua::{Function, Lua, Table, Value as Lv};
use prost::Message;
use prost_reflect::DynamicMessage;

use super::*;
use crate::lua::convert::tests::{deep_eq, desc};
use crate::lua::convert::{from_message, to_message};
use crate::lua::decode::from_bytes;
use crate::proto::viam::app::v1::{ListRobotsResponse, Robot};

const LIST: &str = "viam.app.v1.ListRobotsResponse";

fn robots(n: usize) -> Vec<u8> {
    ListRobotsResponse {
        robots: (0..n)
            .map(|i| Robot {
                id: format!("id-{i}"),
                name: format!("m{i}"),
                location: "loc".into(),
                last_access: None,
                created_on: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000 + i as i64,
                    nanos: 5,
                }),
                online_state: 1,
                seconds_since_online: i as i64,
            })
            .collect(),
    }
    .encode_to_vec()
}

/// A state with the prelude (its raw accessors force lazy lists) and no fleet.
fn state() -> Lua {
    crate::lua::new_state(None, &[]).unwrap()
}

fn decoded(lua: &Lua, bytes: &[u8]) -> Table {
    lua.unpack(from_bytes(lua, &desc(LIST), bytes).unwrap())
        .unwrap()
}

fn eager(lua: &Lua, bytes: &[u8]) -> Lv {
    from_message(lua, &DynamicMessage::decode(desc(LIST), bytes).unwrap()).unwrap()
}

fn run<R: mlua::FromLuaMulti>(lua: &Lua, src: &str, list: &Table) -> R {
    let f: Function = lua.load(src).into_function().unwrap();
    f.call(list.clone())
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

#[test]
fn a_long_list_is_lazy_and_reads_as_the_eager_array() {
    let lua = state();
    let bytes = robots(200);
    let out = decoded(&lua, &bytes);
    let list: Table = out.raw_get("robots").unwrap();
    assert!(is_lazy(&list), "200 robots should make a lazy list");
    assert_eq!(list.raw_len(), 0, "nothing decoded before a read");
    let checks: String = run(
        &lua,
        r##"local r = ...
        assert(#r == 200, "#r = " .. #r)
        assert(r[1].name == "m0" and r[200].id == "id-199", "first and last elements")
        assert(r[1] == r[1], "an element read twice is the same table")
        assert(r[0] == nil and r[201] == nil and r.x == nil and r[1.5] == nil, "out of range")
        assert(r[7].created_on == "2023-11-14T22:13:26.000000005Z", r[7].created_on)
        local n = 0
        for i, m in ipairs(r) do
          n = n + 1
          assert(m.name == "m" .. (i - 1), "ipairs order at " .. i)
        end
        assert(n == 200, "ipairs saw " .. n)
        n = 0
        for k, m in pairs(r) do
          n = n + 1
          assert(k == n and m.id == "id-" .. (k - 1), "pairs order at " .. n)
        end
        assert(n == 200, "pairs saw " .. n)
        return "ok""##,
        &list,
    );
    assert_eq!(checks, "ok");
    force(&list).unwrap();
    assert!(!is_lazy(&list));
    assert_eq!(list.raw_len(), 200, "forced: a plain array");
    let (same, why): (bool, Option<String>) = deep_eq(&lua, true)
        .call((Lv::Table(out), eager(&lua, &bytes), LIST))
        .unwrap();
    assert!(same, "forced list differs from the eager decode: {why:?}");
}

#[test]
fn a_short_list_is_decoded_at_once() {
    let lua = state();
    let list: Table = decoded(&lua, &robots(LAZY_MIN - 1))
        .raw_get("robots")
        .unwrap();
    assert!(!is_lazy(&list));
    assert_eq!(list.raw_len(), LAZY_MIN - 1);
}

#[test]
fn writes_and_raw_accessors_see_the_array() {
    let lua = state();
    let bytes = robots(100);
    let fresh = || -> Table { decoded(&lua, &bytes).raw_get("robots").unwrap() };
    let n: i64 = run(
        &lua,
        "local r = ... table.insert(r, {name = 'x'}) return #r",
        &fresh(),
    );
    assert_eq!(n, 101);
    let (n, last): (i64, String) = run(
        &lua,
        "local r = ... local m = table.remove(r) return #r, m.name",
        &fresh(),
    );
    assert_eq!((n, last.as_str()), (99, "m99"));
    let (n, name): (i64, String) = run(
        &lua,
        "local r = ... r[3] = {name = 'y'} return #r, r[3].name",
        &fresh(),
    );
    assert_eq!((n, name.as_str()), (100, "y"));
    let ok: bool = run(
        &lua,
        "local r = ... return next(r) ~= nil and rawlen(r) == 100 and rawget(r, 2).name == 'm1'",
        &fresh(),
    );
    assert!(ok, "next, rawlen and rawget see the elements");
    let (n, first): (i64, String) = run(
        &lua,
        "local r = ... rawset(r, 1, 'a') return #r, r[1]",
        &fresh(),
    );
    assert_eq!((n, first.as_str()), (100, "a"));
    let sorted: String = run(
        &lua,
        "local r = ... table.sort(r, function(a, b) return a.name > b.name end) return r[1].name",
        &fresh(),
    );
    assert_eq!(sorted, "m99");
}

/// The same reply's `robots` list decoded lazily and eagerly, named for assertion messages.
fn lazy_and_eager(lua: &Lua, bytes: &[u8]) -> [(Table, &'static str); 2] {
    let lazy: Table = decoded(lua, bytes).raw_get("robots").unwrap();
    let Lv::Table(eager) = eager(lua, bytes) else {
        panic!("a message decodes to a table")
    };
    [(lazy, "lazy"), (eager.raw_get("robots").unwrap(), "eager")]
}

#[test]
fn setmetatable_refuses_a_lazy_list_as_an_eager_one_and_keeps_its_elements() {
    let lua = state();
    let bytes = robots(100);
    for (list, what) in lazy_and_eager(&lua, &bytes) {
        let (ok, err, n, first): (bool, String, i64, String) = run(
            &lua,
            r#"local r = ...
            local ok, err = pcall(setmetatable, r, { __index = function() return "x" end })
            return ok, tostring(err), #r, r[1].name"#,
            &list,
        );
        assert!(!ok, "{what}: setmetatable on a reply's list is refused");
        assert!(
            err.contains("protected metatable") && err.contains("set yours on a copy"),
            "{what}: says why and what to do: {err}"
        );
        assert_eq!(
            (n, first.as_str()),
            (100, "m0"),
            "{what}: the elements stay"
        );
    }
}

#[test]
fn json_and_requests_see_every_element() {
    let lua = state();
    let bytes = robots(150);
    let encode: Function = lua.load("return json.encode").eval().unwrap();
    let lazy_json: String = encode.call(decoded(&lua, &bytes)).unwrap();
    let eager_json: String = encode.call(eager(&lua, &bytes)).unwrap();
    assert_eq!(lazy_json, eager_json);
    // Sent back as a request: the same message as the reply (compared as from_message shows
    // them: a message built from a table sets its zero fields explicitly).
    let back = to_message(&desc(LIST), &decoded(&lua, &bytes)).unwrap();
    let (same, why): (bool, Option<String>) = deep_eq(&lua, true)
        .call((
            from_message(&lua, &back).unwrap(),
            eager(&lua, &bytes),
            LIST,
        ))
        .unwrap();
    assert!(same, "the request differs from the reply: {why:?}");
    assert_eq!(
        back.get_field_by_name("robots")
            .unwrap()
            .as_list()
            .unwrap()
            .len(),
        150
    );
}

#[test]
fn an_element_that_does_not_decode_fails_when_read() {
    let lua = state();
    let mut bytes = robots(100);
    let at = bytes.windows(3).position(|w| w == b"m50").unwrap();
    bytes[at..at + 3].copy_from_slice(&[0xff, 0xfe, 0xfd]);
    let list: Table = decoded(&lua, &bytes).raw_get("robots").unwrap();
    let f: Function = lua
        .load("local r = ... return r[1].name, pcall(function() return r[51] end)")
        .into_function()
        .unwrap();
    let (first, ok, err): (String, bool, Lv) = f.call(list).unwrap();
    assert_eq!(first, "m0", "the other elements still read");
    assert!(!ok);
    let err = err.to_string().unwrap();
    assert!(
        err.contains("viam.app.v1.Robot") && err.contains("UTF-8"),
        "{err}"
    );
}

#[test]
fn getmetatable_answers_false_for_a_lazy_list_as_for_an_eager_one() {
    let lua = state();
    let bytes = robots(100);
    for (list, what) in lazy_and_eager(&lua, &bytes) {
        let (before, n, after): (Lv, i64, Lv) = run(
            &lua,
            "local r = ... local before = getmetatable(r) local n = rawlen(r) \
             return before, n, getmetatable(r)",
            &list,
        );
        assert!(
            matches!(
                (&before, n, &after),
                (Lv::Boolean(false), 100, Lv::Boolean(false))
            ),
            "{what}: getmetatable before and after forcing, and rawlen: {before:?} {n} {after:?}"
        );
    }
}

/// The prelude's raw accessors (which force lazy lists) refuse bad arguments in Lua's own
/// words, naming the function and the caller's line, as the built-ins do.
#[test]
fn the_raw_accessors_name_themselves_in_bad_argument_errors_as_lua_does() {
    let prelude = state();
    let plain = Lua::new();
    for call in [
        "next()",
        "next(nil)",
        "next(5)",
        "rawlen()",
        "rawlen(5)",
        "rawget(nil, 1)",
        "rawget({})",
        "rawset(1, 1, 1)",
        "rawset({}, 1)",
    ] {
        let chunk =
            format!("local ok, err = pcall(function() local x = {call} return x end) return err");
        let said = |lua: &Lua| -> String {
            lua.load(chunk.as_str())
                .set_name("=check")
                .eval()
                .unwrap_or_else(|e| panic!("{call}: {e}"))
        };
        let (ours, lua_s) = (said(&prelude), said(&plain));
        assert_eq!(
            ours, lua_s,
            "{call}: the wrapper's error differs from Lua's"
        );
        assert!(!ours.contains("'?'"), "{call}: {ours}");
    }
}

#[test]
fn a_list_in_several_runs_keeps_every_element_in_order_and_a_cut_run_is_an_error() {
    // decode.rs reads a run of one list's elements under its key in one loop: a run broken by
    // another field (here an unknown varint field 99) must continue the same list.
    let lua = state();
    let mut bytes = robots(120);
    bytes.extend([0x98, 0x06, 0x01]);
    bytes.extend(robots(80));
    let list: Table = decoded(&lua, &bytes).raw_get("robots").unwrap();
    let (n, names): (i64, String) = run(
        &lua,
        "local r = ... return #r, r[1].name .. ',' .. r[120].name .. ',' .. r[121].name .. ',' .. r[200].name",
        &list,
    );
    assert_eq!((n, names.as_str()), (200, "m0,m119,m0,m79"));
    // The second element's length runs past the end of the reply.
    let second = robots(1).len();
    let mut cut = robots(2);
    assert_eq!(cut[second], 0x0a, "the second element's key");
    cut[second + 1] = 0x7f;
    cut.truncate(second + 10);
    assert!(from_bytes(&lua, &desc(LIST), &cut).is_err());
}
