//! One description of every `cloud` function — name, area, parameters with their types and
//! defaults, returns and one line of meaning — read by both `fleetsh types` (LuaLS definitions)
//! and the REPL's `help`. Built from the prelude's spec table (the source the functions
//! themselves are built from), the descriptor pool (types; the RPCs' leading comments in
//! app.proto as their meaning), and `EXTRA` for the functions written by hand.

use std::collections::{BTreeSet, HashMap};

use mlua::{Lua, Table, Value as Lv};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use super::secret::is_secret_field;
use crate::proto::{APP_SERVICE, DOCS_POOL, POOL};

const PRELUDE: &str = include_str!("../lua/prelude.lua");

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    /// A LuaLS type (`string`, `cloud.Robot[]`, ...).
    pub ty: String,
    pub optional: bool,
    /// False for parameters passed by name only (`org_id`, in the one-table form).
    pub positional: bool,
}

#[derive(Debug, Clone)]
pub struct FunctionDoc {
    pub name: String,
    pub area: &'static str,
    pub params: Vec<Param>,
    /// `(parameter, value)`, the value as Lua source or a short phrase.
    pub defaults: Vec<(String, String)>,
    /// `(LuaLS type, name)`.
    pub returns: Vec<(String, String)>,
    /// One line of meaning.
    pub doc: String,
    /// Also callable with one table of named arguments.
    pub named: bool,
}

impl FunctionDoc {
    /// `get_robot(robot_id: string) -> robot: cloud.Robot`; parameters passed by name only
    /// follow a `;`: `list_keys(; org_id?: string)`.
    pub fn signature(&self) -> String {
        let show = |positional: bool| {
            self.params
                .iter()
                .filter(|p| p.positional == positional)
                .map(|p| {
                    let opt = if p.optional { "?" } else { "" };
                    format!("{}{opt}: {}", p.name, p.ty)
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (positional, named) = (show(true), show(false));
        let params = match (positional.is_empty(), named.is_empty()) {
            (_, true) => positional,
            (true, false) => format!("; {named}"),
            (false, false) => format!("{positional}; {named}"),
        };
        let mut s = format!("{}({params})", self.name);
        if !self.returns.is_empty() {
            let rets: Vec<String> = self
                .returns
                .iter()
                .map(|(t, n)| format!("{n}: {t}"))
                .collect();
            s.push_str(" -> ");
            s.push_str(&rets.join(", "));
        }
        s
    }

    /// `num_log_entries = 100, start = nil`, or `None` when nothing has a default.
    pub fn defaults_text(&self) -> Option<String> {
        (!self.defaults.is_empty()).then(|| {
            self.defaults
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

/// The area `help()` groups a function under, from its RPC name. Order matters: the more
/// specific words first (`GetRobotPartLogs` is about logs, `CreateKeyFrom...Authorizations`
/// about keys).
pub fn area_of(rpc: &str) -> &'static str {
    const AREAS: &[(&[&str], &str)] = &[
        (&["Logs"], "logs"),
        (&["Key"], "API keys"),
        (&["Fragment"], "fragments"),
        (&["Module"], "modules"),
        (&["Organization"], "organizations"),
        (&["Location"], "locations"),
        (&["Robot", "Part", "Rover"], "machines and parts"),
        (&["Role", "Authorization", "Permission"], "access"),
    ];
    AREAS
        .iter()
        .find(|(words, _)| words.iter().any(|w| rpc.contains(w)))
        .map_or(GENERAL, |(_, area)| area)
}

/// The area of helpers that belong to no API area.
const GENERAL: &str = "general";

/// RPC name -> its leading comment in app.proto, on one line. Section headers (`// --- X ---`)
/// sit right above the first RPC of a section and merge into its comment: they are dropped.
fn rpc_comments() -> HashMap<String, String> {
    let Some(svc) = DOCS_POOL.get_service_by_name(APP_SERVICE) else {
        return HashMap::new();
    };
    let file = svc.parent_file();
    let Some(info) = &file.file_descriptor_proto().source_code_info else {
        return HashMap::new();
    };
    let by_path: HashMap<&[i32], &str> = info
        .location
        .iter()
        .filter_map(|l| Some((l.path.as_slice(), l.leading_comments.as_deref()?)))
        .collect();
    svc.methods()
        .filter_map(|m| {
            let text = by_path.get(m.path())?;
            let line = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("---"))
                .collect::<Vec<_>>()
                .join(" ");
            (!line.is_empty()).then(|| (m.name().to_string(), line))
        })
        .collect()
}

/// One spec of prelude.lua's table.
struct Spec {
    name: String,
    rpc: String,
    args: Vec<String>,
    org: bool,
    loc: bool,
    map: Vec<(String, String)>,
    defaults: Vec<(String, String)>,
    ret: Vec<String>,
}

/// A default value as Lua source.
fn lua_literal(v: &Lv) -> String {
    match v {
        Lv::String(s) => format!("{:?}", s.to_string_lossy()),
        other => other
            .to_string()
            .unwrap_or_else(|_| other.type_name().into()),
    }
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
        let defaults = match spec.get::<Option<Table>>("defaults")? {
            // In parameter order, as help shows them.
            Some(t) => args
                .iter()
                .filter_map(|a| match t.get::<Lv>(a.as_str()) {
                    Ok(Lv::Nil) => None,
                    Ok(v) => Some(Ok((a.clone(), lua_literal(&v)))),
                    Err(e) => Some(Err(e)),
                })
                .collect::<mlua::Result<_>>()?,
            None => Vec::new(),
        };
        out.push(Spec {
            name: spec.get(1)?,
            rpc: spec.get(2)?,
            org: !matches!(spec.get::<Lv>("org")?, Lv::Nil | Lv::Boolean(false)),
            loc: spec.get::<Option<bool>>("loc")?.unwrap_or(false),
            args,
            map,
            defaults,
            ret: strings("ret")?,
        });
    }
    Ok(out)
}

/// A function written by hand (in the prelude or in Rust).
struct Extra {
    name: &'static str,
    /// The RPC it wraps, for its area.
    rpc: Option<&'static str>,
    /// `name type`, a trailing `?` marks an optional parameter.
    params: &'static [&'static str],
    /// `type name`.
    returns: &'static [&'static str],
    defaults: &'static [(&'static str, &'static str)],
    doc: &'static str,
    named: bool,
}

const EXTRA: &[Extra] = &[
    Extra {
        name: "call",
        rpc: None,
        params: &["method string", "args table?", "name string?"],
        returns: &["table|any result"],
        defaults: &[("args", "{}")],
        doc: "Any AppService method by its RPC name, e.g. cloud.call(\"GetRobot\", {id = id}).",
        named: false,
    },
    Extra {
        name: "default_org_id",
        rpc: Some("ListOrganizations"),
        params: &[],
        returns: &["string org_id"],
        defaults: &[],
        doc: "The organization that `org_id` defaults to.",
        named: true,
    },
    Extra {
        name: "get_robot_part",
        rpc: Some("GetRobotPart"),
        params: &["robot_part_id string", "dest string?", "indent integer?"],
        returns: &["cloud.RobotPart part"],
        defaults: &[],
        doc: "A machine part; `dest` receives its config as JSON.",
        named: true,
    },
    Extra {
        name: "get_robot_part_logs",
        rpc: Some("GetRobotPartLogs"),
        params: &[
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
        returns: &["cloud.LogEntry[] logs"],
        defaults: &[("num_log_entries", "100 (0 = all)")],
        doc: "Logs of a machine part, paged until num_log_entries; `dest` receives them as text.",
        named: true,
    },
    Extra {
        name: "tail_robot_part_logs",
        rpc: Some("TailRobotPartLogs"),
        params: &[
            "robot_part_id string",
            "errors_only boolean?",
            "filter string?",
        ],
        returns: &["fun():cloud.LogEntry? iterator"],
        defaults: &[("errors_only", "true")],
        doc: "Live logs: for e in cloud.tail_robot_part_logs{...} do; `break` cancels.",
        named: true,
    },
    Extra {
        name: "parallel",
        rpc: None,
        params: &[
            "list any[]",
            "fn fun(item:any, index:integer):any",
            "opts {concurrency:integer}?",
        ],
        returns: &[
            "any[] results",
            "{index:integer, item:any, error:any}[] errors",
        ],
        defaults: &[("opts.concurrency", "16")],
        doc: "Runs fn(item, i) for every item concurrently.",
        named: false,
    },
    Extra {
        name: "reveal",
        rpc: None,
        params: &["s cloud.Secret|string"],
        returns: &["string value"],
        defaults: &[],
        doc: "The real value of a secret (API key, part or location secret).",
        named: false,
    },
    Extra {
        name: "is_planned",
        rpc: None,
        params: &["v any"],
        returns: &["boolean planned"],
        defaults: &[],
        doc: "Whether v came from a call planned by --dry-run.",
        named: false,
    },
    Extra {
        name: "check_key",
        rpc: Some("CreateKey"),
        params: &["id string", "key cloud.Secret|string"],
        returns: &["boolean ok", "string? why"],
        defaults: &[],
        doc: "Whether an API key authenticates against the current endpoint.",
        named: false,
    },
];

/// Names LuaLS types of fields, and remembers the message classes they refer to.
#[derive(Default)]
pub struct Types {
    pub classes: BTreeSet<String>,
}

fn short(m: &MessageDescriptor) -> String {
    format!("cloud.{}", m.name())
}

impl Types {
    pub fn message_type(&mut self, m: &MessageDescriptor) -> String {
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

    pub fn field_type(&mut self, f: &FieldDescriptor) -> String {
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

    fn spec(&mut self, s: &Spec, comments: &HashMap<String, String>) -> Option<FunctionDoc> {
        let method = POOL
            .get_service_by_name(APP_SERVICE)?
            .methods()
            .find(|m| m.name() == s.rpc)?;
        let input = method.input();
        let output = method.output();
        let mut params = Vec::new();
        let mut defaults = Vec::new();
        for (i, a) in s.args.iter().enumerate() {
            let field = s
                .map
                .iter()
                .find(|(k, _)| k == a)
                .map_or(a.as_str(), |(_, v)| v.as_str());
            let ty = match input.get_field_by_name(field) {
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
            let implied = (s.loc && a == "location_id") || (s.org && a == "org_id");
            if let Some(d) = s.defaults.iter().find(|(k, _)| k == a) {
                defaults.push(d.clone());
            } else if s.loc && a == "location_id" {
                defaults.push((a.clone(), "the default location".into()));
            }
            let optional = i > 0 || implied || defaults.iter().any(|(k, _)| k == a);
            params.push(Param {
                name: a.clone(),
                ty,
                optional,
                positional: true,
            });
        }
        if s.org {
            if !s.args.iter().any(|a| a == "org_id") {
                params.push(Param {
                    name: "org_id".into(),
                    ty: "string".into(),
                    optional: true,
                    positional: false,
                });
            }
            defaults.push(("org_id".into(), "cloud.default_org_id()".into()));
        }
        let returns = s
            .ret
            .iter()
            .map(|r| {
                let t = output
                    .get_field_by_name(r)
                    .map_or_else(|| "any".into(), |f| self.field_type(&f));
                (t, r.clone())
            })
            .collect();
        let doc = comments
            .get(&s.rpc)
            .cloned()
            .unwrap_or_else(|| format!("The {} call of the app API.", s.rpc));
        Some(FunctionDoc {
            name: s.name.clone(),
            area: area_of(&s.rpc),
            params,
            defaults,
            returns,
            doc,
            named: true,
        })
    }
}

fn extra(e: &Extra) -> FunctionDoc {
    let params = e
        .params
        .iter()
        .map(|p| {
            let (n, t) = p.split_once(' ').unwrap_or((p, "any"));
            Param {
                name: n.to_string(),
                ty: t.trim_end_matches('?').to_string(),
                optional: t.ends_with('?'),
                positional: true,
            }
        })
        .collect();
    let returns = e
        .returns
        .iter()
        .map(|r| {
            let (t, n) = r.rsplit_once(' ').unwrap_or((r, "value"));
            (t.to_string(), n.to_string())
        })
        .collect();
    FunctionDoc {
        name: e.name.to_string(),
        area: e.rpc.map_or(GENERAL, area_of),
        params,
        defaults: e
            .defaults
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        returns,
        doc: e.doc.to_string(),
        named: e.named,
    }
}

/// Every `cloud` function's description; `types` collects the classes their types refer to.
pub fn collect(types: &mut Types) -> mlua::Result<Vec<FunctionDoc>> {
    let comments = rpc_comments();
    let mut docs: Vec<FunctionDoc> = specs()?
        .iter()
        .filter_map(|s| types.spec(s, &comments))
        .collect();
    docs.extend(EXTRA.iter().map(extra));
    Ok(docs)
}

/// Every `cloud` function's description, for `help`.
pub fn function_docs() -> mlua::Result<Vec<FunctionDoc>> {
    collect(&mut Types::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_from_rpc_names() {
        for (rpc, area) in [
            ("GetRobotPartLogs", "logs"),
            ("CreateKeyFromExistingKeyAuthorizations", "API keys"),
            ("UpdateOrganizationInviteAuthorizations", "organizations"),
            ("LocationAuth", "locations"),
            ("MarkPartForRestart", "machines and parts"),
            ("GetRoverRentalRobots", "machines and parts"),
            ("CheckPermissions", "access"),
            ("AddRole", "access"),
            ("ListModules", "modules"),
            ("DeleteFragment", "fragments"),
        ] {
            assert_eq!(area_of(rpc), area, "{rpc}");
        }
        // Every RPC has a named area.
        let svc = POOL.get_service_by_name(APP_SERVICE).unwrap();
        for m in svc.methods() {
            assert_ne!(area_of(m.name()), GENERAL, "{}", m.name());
        }
    }

    #[test]
    fn meanings_come_from_app_proto_comments() {
        let c = rpc_comments();
        assert_eq!(c.len(), 56, "every AppService RPC has a comment");
        assert_eq!(c["GetRobot"], "Get a machine by machine ID.");
        // The section header above the first RPC of a section is not part of its meaning.
        assert_eq!(c["CreateLocation"], "Create and name a location.");
    }

    #[test]
    fn docs_carry_signatures_and_defaults() {
        let docs = function_docs().unwrap();
        let by = |n: &str| docs.iter().find(|d| d.name == n).unwrap();
        let robot = by("get_robot");
        assert_eq!(
            robot.signature(),
            "get_robot(robot_id: string) -> robot: cloud.Robot"
        );
        assert_eq!(robot.area, "machines and parts");
        assert_eq!(robot.doc, "Get a machine by machine ID.");
        let invite = by("create_organization_invite");
        assert_eq!(
            invite.defaults_text().as_deref(),
            Some("send_email_invite = true, org_id = cloud.default_org_id()")
        );
        assert!(
            invite
                .signature()
                .contains("send_email_invite?: boolean; org_id?: string)"),
            "{}",
            invite.signature()
        );
        let logs = by("get_robot_part_logs");
        assert!(
            logs.defaults_text()
                .unwrap()
                .contains("num_log_entries = 100")
        );
        assert_eq!(logs.area, "logs");
        // `org_id` as a positional argument is not listed twice.
        let org = by("get_organization");
        assert_eq!(
            org.params.iter().filter(|p| p.name == "org_id").count(),
            1,
            "{}",
            org.signature()
        );
        assert!(org.params[0].optional);
        let names: BTreeSet<&str> = docs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names.len(), docs.len(), "one description per function");
    }
}
