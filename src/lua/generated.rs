//! Functions made from the descriptors for RPCs that no spec line of prelude.lua names: the
//! RPC's snake_case name, the request's fields by name or positionally in field order, the
//! organization implicit, every page fetched, and the reply's single field returned (the whole
//! reply when it has several). The prelude builds them on first use from these shapes.

use mlua::{Lua, Table};
use prost_reflect::{Kind, MethodDescriptor};

use crate::proto::{LUA_SERVICES, POOL};

/// Request fields that the organization default fills.
pub const ORG_FIELDS: &[&str] = &["organization_id", "org_id"];
const PAGE_TOKEN: &str = "page_token";
const NEXT_PAGE_TOKEN: &str = "next_page_token";

#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub name: String,
    /// `pkg.Service/Method`, as `cloud._call` takes it.
    pub rpc: String,
    /// Request fields in field order, less the organization and the page token.
    pub params: Vec<String>,
    /// The request field the default organization fills.
    pub org: Option<String>,
    /// The reply field returned, or None for the whole reply.
    pub ret: Option<String>,
    /// Paged: `page_token` in, `next_page_token` out; `ret` is the list the pages add up to.
    pub paged: bool,
    pub method: MethodDescriptor,
}

/// `GetRobotAPIKeys` -> `get_robot_api_keys`; `ListOAuthApps` -> `list_oauth_apps` (OAuth is
/// one word, as the SDKs spell it; heck alone would make it `o_auth`).
pub fn snake_case(rpc: &str) -> String {
    heck::ToSnakeCase::to_snake_case(rpc.replace("OAuth", "Oauth").as_str())
}

fn services_of(area: &str) -> impl Iterator<Item = &'static str> {
    LUA_SERVICES
        .iter()
        .filter(move |(_, t)| *t == area)
        .map(|(s, _)| *s)
}

fn shape_of(method: MethodDescriptor) -> Shape {
    let input = method.input();
    let output = method.output();
    let org = input
        .fields()
        .find(|f| ORG_FIELDS.contains(&f.name()) && f.kind() == Kind::String && !f.is_list())
        .map(|f| f.name().to_string());
    let paged = input.get_field_by_name(PAGE_TOKEN).is_some()
        && output.get_field_by_name(NEXT_PAGE_TOKEN).is_some();
    let params = input
        .fields()
        .map(|f| f.name().to_string())
        .filter(|n| Some(n) != org.as_ref() && !(paged && n == PAGE_TOKEN))
        .collect();
    let outs: Vec<_> = output
        .fields()
        .filter(|f| f.name() != NEXT_PAGE_TOKEN)
        .collect();
    let ret = match outs.as_slice() {
        [one] if !paged || one.is_list() => Some(one.name().to_string()),
        _ => None,
    };
    Shape {
        name: snake_case(method.name()),
        rpc: format!("{}/{}", method.parent_service().full_name(), method.name()),
        params,
        org,
        paged: paged && ret.is_some(),
        ret,
        method,
    }
}

/// Every RPC's shape of one area (`""` = `cloud` itself), in the services' order.
pub fn shapes(area: &str) -> Vec<Shape> {
    services_of(area)
        .filter_map(|s| POOL.get_service_by_name(s))
        .flat_map(|svc| svc.methods().map(shape_of).collect::<Vec<_>>())
        .collect()
}

/// The shape of the function `name` of an area, if an RPC has that snake_case name, from that
/// RPC's own small pool: building `POOL` for it was most of a script's first call of a
/// generated function (21 M instructions, ~3 ms).
pub fn shape(area: &str, name: &str) -> Option<Shape> {
    services_of(area).find_map(|svc| {
        let m = crate::proto::method_names(svc).find(|m| snake_case(m) == name)?;
        crate::proto::method(&format!("{svc}/{m}"))
            .ok()
            .map(shape_of)
    })
}

impl Shape {
    pub fn to_lua(&self, lua: &Lua) -> mlua::Result<Table> {
        let t = lua.create_table()?;
        t.set("name", self.name.as_str())?;
        t.set("rpc", self.rpc.as_str())?;
        t.set("method", self.method.name())?;
        t.set("params", self.params.clone())?;
        t.set("org", self.org.clone())?;
        t.set("ret", self.ret.clone())?;
        t.set("paged", self.paged)?;
        t.set("client_streaming", self.method.is_client_streaming())?;
        t.set("server_streaming", self.method.is_server_streaming())?;
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rpc() {
        assert_eq!(snake_case("GetRobotAPIKeys"), "get_robot_api_keys");
        assert_eq!(snake_case("GetRobotPartLogs"), "get_robot_part_logs");
        assert_eq!(snake_case("NeedsRestart"), "needs_restart");
        assert_eq!(snake_case("CreateOAuthAppUser"), "create_oauth_app_user");
    }

    #[test]
    fn shapes_come_from_the_descriptors() {
        let all = shapes("");
        let svc = POOL.get_service_by_name(crate::proto::APP_SERVICE).unwrap();
        assert_eq!(all.len(), svc.methods().count());
        let list = shape("", "list_locations").unwrap();
        assert_eq!(list.org.as_deref(), Some("organization_id"));
        assert!(list.params.is_empty(), "{:?}", list.params);
        assert_eq!(list.ret.as_deref(), Some("locations"));
        let logs = shape("", "get_robot_part_logs").unwrap();
        assert!(logs.paged);
        assert_eq!(logs.ret.as_deref(), Some("logs"));
        assert!(!logs.params.iter().any(|p| p == "page_token"));
        assert_eq!(logs.params[0], "id");
        // Several reply fields: the whole reply.
        let module = shape("", "create_module").unwrap();
        assert_eq!(module.ret, None);
        let log = shape("robot", "log").unwrap();
        assert_eq!(log.rpc, "viam.app.v1.RobotService/Log");
        assert!(shape("robot", "list_robots").is_none());
    }

    /// `shape` finds an RPC without `POOL`: the same shape as `shapes` makes from it, for every
    /// function of every area.
    #[test]
    fn a_shape_by_name_is_the_pools_shape() {
        for (_, area) in LUA_SERVICES {
            for want in shapes(area) {
                let got = shape(area, &want.name).unwrap();
                let fields = |s: &Shape| {
                    (
                        s.name.clone(),
                        s.rpc.clone(),
                        s.params.clone(),
                        s.org.clone(),
                        s.ret.clone(),
                        s.paged,
                        s.method.is_server_streaming(),
                        s.method.is_client_streaming(),
                    )
                };
                assert_eq!(fields(&got), fields(&want), "{area}.{}", want.name);
                assert_ne!(got.method, want.method, "{} came from POOL", want.name);
            }
        }
    }
}
