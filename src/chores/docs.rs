//! One description of every `cloud` function — name, area, parameters with their types and
//! defaults, returns and one line of meaning — read by both `fleetsh types` (LuaLS definitions)
//! and the REPL's `help`. Built from `cloud._specs` (the spec lines the functions themselves are
//! built from, hand-written ones included, each describing itself), the descriptor pool (types;
//! the RPCs' leading comments in proto/ as their meaning), and the shapes of the functions made
//! from the descriptors for the RPCs that no spec names.

use std::collections::{BTreeSet, HashMap};

use mlua::{Table, Value as Lv};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use super::secret::is_secret_field;
use crate::lua::generated::{self, Shape};
use crate::proto::{APP_SERVICE, DOCS_POOL, LUA_SERVICES, POOL};

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
    AREAS
        .iter()
        .find(|(words, _)| words.iter().any(|w| rpc.contains(w)))
        .map_or(GENERAL, |(_, area)| area)
}

/// RPC name words -> the area of help they belong to.
const AREAS: &[(&[&str], &str)] = &[
    (&["Logs"], "logs"),
    (&["Key"], "API keys"),
    (&["Fragment"], "fragments"),
    (&["Module", "Registry"], "modules and registry"),
    (
        &[
            "OAuth",
            "AuthService",
            "Billing",
            "SupportEmail",
            "Logo",
            "AppContent",
            "AppBranding",
            "DevicePushToken",
            "Firebase",
        ],
        "apps and branding",
    ),
    (&["Organization", "UserID"], "organizations"),
    (&["Location"], "locations"),
    (
        &["Robot", "Part", "Rover", "Machine", "ConfigProperty"],
        "machines and parts",
    ),
    (&["Role", "Authorization", "Permission"], "access"),
    // RobotService: what a part itself calls (the words above took the other Log/Config names).
    (
        &["Config", "Log", "Certificate", "NeedsRestart"],
        "part reports",
    ),
];

/// The help area of the functions in a `cloud.NAME` table (`cloud` itself: by RPC name).
fn table_area(table: &str) -> Option<&'static str> {
    TABLES.iter().find(|(t, _)| *t == table).map(|(_, a)| *a)
}

const TABLES: &[(&str, &str)] = &[
    ("robot", "part reports"),
    ("data", "data and datasets"),
    ("billing", "billing"),
    ("ml_training", "ML training"),
    ("packages", "packages"),
    ("admin", "local fleet admin"),
];

/// The area of helpers that belong to no API area.
const GENERAL: &str = "general";

/// A spec's own `area`, one of the known names (else general).
fn known_area(a: &str) -> &'static str {
    // The areas of the cloud.NAME tables too (issue 12: cloud.data's hand-written functions).
    AREAS
        .iter()
        .map(|(_, name)| *name)
        .chain(TABLES.iter().map(|(_, name)| *name))
        .find(|n| *n == a)
        .unwrap_or(GENERAL)
}

/// RPC -> its leading comment in proto/, on one line, keyed by the bare name for AppService
/// (as spec lines name them) and by `pkg.Service/Method` for every service. Section headers
/// (`// --- X ---`) sit right above the first RPC of a section and merge into its comment:
/// they are dropped.
fn rpc_comments() -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (service, _) in LUA_SERVICES {
        let Some(svc) = DOCS_POOL.get_service_by_name(service) else {
            continue;
        };
        let file = svc.parent_file();
        let Some(info) = &file.file_descriptor_proto().source_code_info else {
            continue;
        };
        let by_path: HashMap<&[i32], &str> = info
            .location
            .iter()
            .filter_map(|l| Some((l.path.as_slice(), l.leading_comments.as_deref()?)))
            .collect();
        for m in svc.methods() {
            let Some(text) = by_path.get(m.path()) else {
                continue;
            };
            let line = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("---"))
                .collect::<Vec<_>>()
                .join(" ");
            if line.is_empty() {
                continue;
            }
            if *service == APP_SERVICE {
                out.insert(m.name().to_string(), line.clone());
            }
            out.insert(format!("{service}/{}", m.name()), line);
        }
    }
    out
}

/// One RPC spec line of prelude.lua.
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

fn strings(spec: &Table, key: &str) -> mlua::Result<Vec<String>> {
    Ok(match spec.get::<Lv>(key)? {
        Lv::String(s) => vec![s.to_str()?.to_string()],
        Lv::Table(t) => t.sequence_values::<String>().collect::<Result<_, _>>()?,
        _ => Vec::new(),
    })
}

fn rpc_spec(spec: &Table) -> mlua::Result<Spec> {
    let map = match spec.get::<Option<Table>>("map")? {
        Some(t) => t.pairs::<String, String>().collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let args = strings(spec, "args")?;
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
    Ok(Spec {
        name: spec.get(1)?,
        rpc: spec.get(2)?,
        org: !matches!(spec.get::<Lv>("org")?, Lv::Nil | Lv::Boolean(false)),
        loc: spec.get::<Option<bool>>("loc")?.unwrap_or(false),
        args,
        map,
        defaults,
        ret: strings(spec, "ret")?,
    })
}

/// A hand-written function's own description (`params`, `returns`, `doc`, `defaults_doc`).
fn hand_written(spec: &Table) -> mlua::Result<FunctionDoc> {
    let params = strings(spec, "params")?
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
    let returns = strings(spec, "returns")?
        .iter()
        .map(|r| {
            let (t, n) = r.rsplit_once(' ').unwrap_or((r, "value"));
            (t.to_string(), n.to_string())
        })
        .collect();
    let mut defaults = Vec::new();
    if let Some(t) = spec.get::<Option<Table>>("defaults_doc")? {
        for pair in t.sequence_values::<Vec<String>>() {
            if let [k, v] = pair?.as_slice() {
                defaults.push((k.clone(), v.clone()));
            }
        }
    }
    let area = match (
        spec.get::<Option<String>>("area")?,
        spec.get::<Option<String>>(2)?,
    ) {
        (Some(a), _) => known_area(&a),
        (None, Some(rpc)) => area_of(&rpc),
        (None, None) => GENERAL,
    };
    Ok(FunctionDoc {
        name: spec.get(1)?,
        area,
        params,
        defaults,
        returns,
        doc: spec.get::<Option<String>>("doc")?.unwrap_or_default(),
        named: spec.get::<Option<bool>>("named")?.unwrap_or(true),
    })
}

/// Every spec line of a state that has all the setups installed (but no connection), with
/// the state that holds them.
fn specs() -> mlua::Result<(mlua::Lua, Vec<Table>)> {
    let lua = crate::lua::new_state(None, super::SETUP)?;
    let cloud: Table = lua.globals().get("cloud")?;
    let specs = cloud
        .get::<Table>("_specs")?
        .sequence_values::<Table>()
        .collect::<mlua::Result<_>>()?;
    Ok((lua, specs))
}

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
    /// A function made from the descriptors: the request's fields, the reply's single field.
    fn generated(
        &mut self,
        area: &str,
        s: &Shape,
        comments: &HashMap<String, String>,
    ) -> FunctionDoc {
        let input = s.method.input();
        let mut params: Vec<Param> = s
            .params
            .iter()
            .filter_map(|p| input.get_field_by_name(p))
            .map(|f| Param {
                name: f.name().to_string(),
                ty: self.field_type(&f),
                optional: true,
                positional: true,
            })
            .collect();
        let mut defaults = Vec::new();
        if s.org.is_some() {
            params.push(Param {
                name: "org_id".into(),
                ty: "string".into(),
                optional: true,
                positional: false,
            });
            defaults.push(("org_id".into(), "cloud.default_org_id()".into()));
        }
        if s.paged {
            params.push(Param {
                name: "limit".into(),
                ty: "integer".into(),
                optional: true,
                positional: false,
            });
            defaults.push(("limit".into(), "nil (every page)".into()));
        }
        let output = s.method.output();
        let returns = match &s.ret {
            Some(r) => {
                let t = output
                    .get_field_by_name(r)
                    .map_or_else(|| "any".into(), |f| self.field_type(&f));
                vec![(t, r.clone())]
            }
            None if s.method.is_server_streaming() => {
                let t = self.message_type(&output);
                vec![(format!("fun():{t}?"), "iterator".into())]
            }
            None => vec![(self.message_type(&output), "reply".into())],
        };
        let name = if area.is_empty() {
            s.name.clone()
        } else {
            format!("{area}.{}", s.name)
        };
        FunctionDoc {
            name,
            area: table_area(area).unwrap_or_else(|| area_of(s.method.name())),
            params,
            defaults,
            returns,
            doc: comments
                .get(&s.rpc)
                .cloned()
                .unwrap_or_else(|| format!("The {} call.", s.rpc)),
            named: !s.method.is_client_streaming(),
        }
    }
}

/// Every `cloud` function's description; `types` collects the classes their types refer to.
pub fn collect(types: &mut Types) -> mlua::Result<Vec<FunctionDoc>> {
    let comments = rpc_comments();
    let mut docs = Vec::new();
    let mut covered = BTreeSet::new();
    let (_lua, specs) = specs()?;
    for spec in specs {
        if let Some(rpc) = spec.get::<Option<String>>(2)? {
            covered.insert(rpc);
        }
        if spec.contains_key("params")? {
            docs.push(hand_written(&spec)?);
        } else if let Some(d) = types.spec(&rpc_spec(&spec)?, &comments) {
            docs.push(d);
        }
    }
    let mut areas: Vec<&str> = LUA_SERVICES.iter().map(|(_, a)| *a).collect();
    areas.dedup();
    for area in areas {
        for shape in generated::shapes(area) {
            let app = shape.method.parent_service().full_name() == APP_SERVICE;
            let bare = app && covered.contains(shape.method.name());
            if !bare && !covered.contains(&shape.rpc) {
                docs.push(types.generated(area, &shape, &comments));
            }
        }
    }
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
            ("ListModules", "modules and registry"),
            ("GetRegistryItem", "modules and registry"),
            ("OrganizationSetLogo", "apps and branding"),
            ("ListMachineSummaries", "machines and parts"),
            ("ListMachineFragments", "fragments"),
            ("GetUserIDByEmail", "organizations"),
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
        let app = POOL.get_service_by_name(APP_SERVICE).unwrap();
        for m in app.methods() {
            assert!(c.contains_key(m.name()), "{} has no comment", m.name());
        }
        assert!(c.contains_key("viam.app.v1.RobotService/Log"));
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
