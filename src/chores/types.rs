//! `fleetsh types`: LuaLS definitions (`---@meta`) for `cloud` and the helpers, generated from
//! the prelude's spec table (names, positional parameters, return fields — the same source the
//! functions themselves are built from) and the descriptor pool (field types, message classes).
//! Functions written by hand in the prelude or in Rust are described in `EXTRA` below; a test
//! checks that every function of a live `cloud` table appears here.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

use mlua::{Lua, Table, Value as Lv};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use super::secret::is_secret_field;
use crate::proto::{APP_SERVICE, POOL};

const PRELUDE: &str = include_str!("../lua/prelude.lua");

/// One spec of prelude.lua's table.
struct Spec {
    name: String,
    rpc: String,
    args: Vec<String>,
    org: bool,
    optional_first: bool,
    map: Vec<(String, String)>,
    ret: Vec<String>,
}

/// Loads prelude.lua into a bare state (no connection) to read `cloud._specs`.
fn specs() -> mlua::Result<Vec<Spec>> {
    let lua = Lua::new();
    let cloud = lua.create_table()?;
    cloud.set("_pending", Lv::LightUserData(Lua::poll_pending()))?;
    cloud.set("_defaults", lua.create_table()?)?;
    // The prelude may capture helpers (log, sleep) when it loads.
    crate::lua::helpers::register(&lua, &cloud)?;
    lua.load(PRELUDE)
        .set_name("@prelude.lua")
        .call::<()>(cloud.clone())?;
    let mut out = Vec::new();
    for spec in cloud.get::<Table>("_specs")?.sequence_values::<Table>() {
        let spec = spec?;
        let strings = |key: &str| -> mlua::Result<Vec<String>> {
            Ok(match spec.get::<Lv>(key)? {
                Lv::String(s) => vec![s.to_str()?.to_string()],
                Lv::Table(t) => t.sequence_values::<String>().collect::<Result<_, _>>()?,
                _ => Vec::new(),
            })
        };
        let map = match spec.get::<Option<Table>>("map")? {
            Some(t) => t.pairs::<String, String>().collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let args = strings("args")?;
        let defaults: Option<Table> = spec.get("defaults")?;
        let first_defaulted = match (args.first(), &defaults) {
            (Some(a), Some(d)) => d.contains_key(a.as_str())?,
            _ => false,
        };
        out.push(Spec {
            name: spec.get(1)?,
            rpc: spec.get(2)?,
            org: !matches!(spec.get::<Lv>("org")?, Lv::Nil | Lv::Boolean(false)),
            optional_first: first_defaulted
                || (spec.get::<Option<bool>>("loc")?.unwrap_or(false)
                    && args.first().is_some_and(|a| a == "location_id")),
            args,
            map,
            ret: strings("ret")?,
        });
    }
    Ok(out)
}

/// Hand-written functions: (name, params as `name type`, returns as `type name`, summary).
const EXTRA: &[(&str, &[&str], &[&str], &str)] = &[
    (
        "call",
        &["method string", "args table?", "name string?"],
        &["table|any result"],
        "Any AppService method by its RPC name, e.g. cloud.call(\"GetRobot\", {id = id}).",
    ),
    (
        "default_org_id",
        &[],
        &["string org_id"],
        "The organization that `org_id` defaults to.",
    ),
    (
        "get_robot_part",
        &["robot_part_id string", "dest string?", "indent integer?"],
        &["cloud.RobotPart part"],
        "A part; `dest` receives its config as JSON.",
    ),
    (
        "get_robot_part_logs",
        &[
            "robot_part_id string",
            "filter string?",
            "dest string?",
            "log_levels string[]?",
            "num_log_entries integer?",
            "start string?",
            "end string?",
            "order string?",
            "range table?",
        ],
        &["cloud.LogEntry[] logs"],
        "Pages until num_log_entries (default 100, 0 = all).",
    ),
    (
        "tail_robot_part_logs",
        &[
            "robot_part_id string",
            "errors_only boolean?",
            "filter string?",
        ],
        &["fun():cloud.LogEntry? iterator"],
        "for e in cloud.tail_robot_part_logs{...} do; `break` cancels.",
    ),
    (
        "parallel",
        &[
            "list any[]",
            "fn fun(item:any, index:integer):any",
            "opts {concurrency:integer}?",
        ],
        &[
            "any[] results",
            "{index:integer, item:any, error:any}[] errors",
        ],
        "Runs fn(item, i) for every item concurrently (default 16 at a time).",
    ),
    (
        "reveal",
        &["s cloud.Secret|string"],
        &["string value"],
        "The real value of a secret (API key, part or location secret).",
    ),
    (
        "is_planned",
        &["v any"],
        &["boolean planned"],
        "Whether v came from a call planned by --dry-run.",
    ),
    (
        "check_key",
        &["id string", "key cloud.Secret|string"],
        &["boolean ok", "string? why"],
        "Whether an API key authenticates against the current endpoint.",
    ),
];

struct Gen {
    out: String,
    classes: BTreeSet<String>,
}

fn short(m: &MessageDescriptor) -> String {
    format!("cloud.{}", m.name())
}

impl Gen {
    fn message_type(&mut self, m: &MessageDescriptor) -> String {
        match m.full_name() {
            "google.protobuf.Timestamp" | "google.protobuf.Duration" => "string".into(),
            "google.protobuf.Struct" => "table<string, any>".into(),
            "google.protobuf.Value" => "any".into(),
            "google.protobuf.ListValue" => "any[]".into(),
            _ => {
                self.classes.insert(m.full_name().to_string());
                short(m)
            }
        }
    }

    fn scalar_type(&mut self, f: &FieldDescriptor, kind: Kind) -> String {
        match kind {
            Kind::String if is_secret_field(f.parent_message().full_name(), f.name()) => {
                "cloud.Secret".into()
            }
            Kind::String | Kind::Bytes => "string".into(),
            Kind::Bool => "boolean".into(),
            Kind::Double | Kind::Float => "number".into(),
            Kind::Enum(e) => {
                let names: Vec<String> = e.values().map(|v| format!("\"{}\"", v.name())).collect();
                names.join("|")
            }
            Kind::Message(m) => self.message_type(&m),
            _ => "integer".into(),
        }
    }

    fn field_type(&mut self, f: &FieldDescriptor) -> String {
        if f.is_map() {
            let Kind::Message(entry) = f.kind() else {
                return "table".into();
            };
            let k = entry.map_entry_key_field();
            let v = entry.map_entry_value_field();
            let kt = self.scalar_type(&k, k.kind());
            let vt = self.scalar_type(&v, v.kind());
            return format!("table<{kt}, {vt}>");
        }
        let t = self.scalar_type(f, f.kind());
        if f.is_list() {
            if t.contains('|') {
                format!("({t})[]")
            } else {
                format!("{t}[]")
            }
        } else {
            t
        }
    }

    fn spec(&mut self, s: &Spec) {
        let Some(method) = POOL
            .get_service_by_name(APP_SERVICE)
            .and_then(|svc| svc.methods().find(|m| m.name() == s.rpc))
        else {
            return;
        };
        let input = method.input();
        let output = method.output();
        let doc = format!("`{}` ({} of the app API).", s.name, s.rpc);
        let mut params = Vec::new();
        for (i, a) in s.args.iter().enumerate() {
            let field = s
                .map
                .iter()
                .find(|(k, _)| k == a)
                .map_or(a.as_str(), |(_, v)| v.as_str());
            let t = match input.get_field_by_name(field) {
                Some(f) => self.field_type(&f),
                None if a.ends_with("_id")
                    || ["role", "resource_type", "name"].contains(&a.as_str()) =>
                {
                    "string".into()
                }
                None if a == "authorizations" => {
                    "{role:string, resource_type:string, resource_id:string}[]".into()
                }
                None => "any".into(),
            };
            let optional = i > 0 || s.optional_first;
            params.push((a.clone(), t, optional));
        }
        if s.org {
            params.push(("org_id".into(), "string".into(), true));
        }
        let mut rets = Vec::new();
        for r in &s.ret {
            let t = output
                .get_field_by_name(r)
                .map_or_else(|| "any".into(), |f| self.field_type(&f));
            rets.push((t, r.clone()));
        }
        self.function(&s.name, &doc, &params, &rets, true);
    }

    /// One `function cloud.NAME(...) end` with its annotations; `named`: also callable with one
    /// table of named arguments.
    fn function(
        &mut self,
        name: &str,
        doc: &str,
        params: &[(String, String, bool)],
        rets: &[(String, String)],
        named: bool,
    ) {
        let o = &mut self.out;
        let _ = writeln!(o, "\n--- {doc}");
        for (p, t, opt) in params {
            let opt = if *opt { "?" } else { "" };
            let _ = writeln!(o, "---@param {}{opt} {t}", lua_name(p));
        }
        if rets.is_empty() {
            let _ = writeln!(o, "---@return nil");
        }
        for (t, r) in rets {
            let _ = writeln!(o, "---@return {t} {r}");
        }
        let ret_list = if rets.is_empty() {
            "nil".to_string()
        } else {
            rets.iter()
                .map(|(t, _)| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if named && !params.is_empty() {
            let fields: Vec<String> = params
                .iter()
                .map(|(p, t, opt)| format!("{p}{}: {t}", if *opt { "?" } else { "" }))
                .collect();
            let _ = writeln!(
                o,
                "---@overload fun(args: {{{}}}): {ret_list}",
                fields.join(", ")
            );
        }
        let names: Vec<&str> = params.iter().map(|(p, _, _)| lua_name(p)).collect();
        let _ = writeln!(o, "function cloud.{name}({}) end", names.join(", "));
    }

    fn classes(&mut self) {
        let mut done = BTreeSet::new();
        while let Some(next) = self.classes.difference(&done).next().cloned() {
            done.insert(next.clone());
            let Some(m) = POOL.get_message_by_name(&next) else {
                continue;
            };
            let mut body = format!("\n---@class {}\n", short(&m));
            for f in m.fields() {
                let t = self.field_type(&f);
                let _ = writeln!(body, "---@field {} {t}", f.name());
            }
            self.out.push_str(&body);
        }
    }
}

/// `end` is a Lua keyword: as a parameter it is spelled `end_`.
fn lua_name(p: &str) -> &str {
    if p == "end" { "end_" } else { p }
}

pub fn generate() -> mlua::Result<String> {
    let mut g = Gen {
        out: String::from(HEADER),
        classes: BTreeSet::new(),
    };
    for s in specs()? {
        g.spec(&s);
    }
    for (name, params, rets, doc) in EXTRA {
        let params: Vec<(String, String, bool)> = params
            .iter()
            .map(|p| {
                let (n, t) = p.split_once(' ').unwrap_or((p, "any"));
                let opt = t.ends_with('?');
                (n.to_string(), t.trim_end_matches('?').to_string(), opt)
            })
            .collect();
        let rets: Vec<(String, String)> = rets
            .iter()
            .map(|r| {
                let (t, n) = r.rsplit_once(' ').unwrap_or((r, "value"));
                (t.to_string(), n.to_string())
            })
            .collect();
        let named = !matches!(
            *name,
            "call" | "parallel" | "reveal" | "is_planned" | "check_key"
        );
        g.function(name, doc, &params, &rets, named);
    }
    // Classes referenced by the hand-written signatures.
    for m in ["viam.app.v1.RobotPart", "viam.app.v1.LogEntry"] {
        if let Some(d) = POOL.get_message_by_name(m) {
            g.message_type(&d);
        }
    }
    g.classes();
    g.out.push_str(HELPERS);
    Ok(g.out)
}

const HEADER: &str = "---@meta fleetsh
-- LuaLS definitions for fleetsh scripts, generated by `fleetsh types`; regenerate after an
-- upgrade. Point .luarc.json's \"workspace.library\" at this file.

---A secret (API key, part or location secret): prints as ****; `s:reveal()` gives the value.
---@class cloud.Secret
local Secret = {}
---@return string
function Secret:reveal() end

---@class cloud
cloud = {}
";

const HELPERS: &str = "
---@class json
---@field null any the JSON null
json = {}
---@param v any
---@param opts {indent:boolean}?
---@return string
function json.encode(v, opts) end
---@param s string
---@return any
function json.decode(s) end

---Logs to stderr through the runner (--log-format, --quiet).
---@class log
log = {}
---@param ... any
function log.info(...) end
---@param ... any
function log.warn(...) end
---@param ... any
function log.error(...) end
---@param ... any
function log.debug(...) end

---@param seconds number
function sleep(seconds) end

---@param name string
---@return string?
function env(name) end

---Writes a file readable by its owner only (0600), atomically; for revealed secrets.
---@param path string
---@param text string
function write_private(path, text) end
";

/// `fleetsh types [-o FILE]`: returns the exit code.
pub fn main(output: Option<&Path>) -> u8 {
    let text = match generate() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("fleetsh types: cannot read the prelude's specs: {e}");
            return 1;
        }
    };
    let written = match output {
        Some(p) => std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display())),
        None => {
            use std::io::Write as _;
            std::io::stdout()
                .write_all(text.as_bytes())
                .map_err(|e| e.to_string())
        }
    };
    match written {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("fleetsh types: cannot write {e}");
            1
        }
    }
}
