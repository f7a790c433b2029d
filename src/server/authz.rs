//! Who may do what. A principal (an API key, or a part authenticated by its secret) holds
//! grants: a role (owner / operator) on a resource (organization / location / robot). A grant
//! on a location covers its sub-locations and their machines; a grant on an organization
//! covers everything in it. Nothing ever crosses organizations.

use std::fmt;

use rusqlite::{Connection, OptionalExtension};

use super::error::{ApiError, ApiResult};
use super::store::row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Operator,
}

impl Role {
    pub fn parse(s: &str) -> ApiResult<Self> {
        match s {
            "owner" => Ok(Self::Owner),
            "operator" => Ok(Self::Operator),
            _ => Err(ApiError::invalid(
                "role",
                format!("{s:?} is not \"owner\" or \"operator\""),
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Operator => "operator",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    Organization,
    Location,
    Robot,
}

impl ResourceType {
    pub fn parse(s: &str) -> ApiResult<Self> {
        match s {
            "organization" => Ok(Self::Organization),
            "location" => Ok(Self::Location),
            "robot" => Ok(Self::Robot),
            _ => Err(ApiError::invalid(
                "resource_type",
                format!("{s:?} is not \"organization\", \"location\" or \"robot\""),
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organization => "organization",
            Self::Location => "location",
            Self::Robot => "robot",
        }
    }
}

/// The permission strings of the API (reference section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    ReadOrganization,
    WriteOrganization,
    ReadFragment,
    WriteFragment,
    ReadLocation,
    WriteLocation,
    ReadRobot,
    ReadRobotConfig,
    WriteRobot,
    ControlRobot,
    ReadRobotLogs,
    ReadOrganizationDataManagement,
    ReadLocationDataManagement,
    ReadRobotDataManagement,
    WriteDataManagement,
    ReadLocationSecret,
    ReadRobotSecret,
}

impl Perm {
    pub const ALL: [Perm; 17] = [
        Perm::ReadOrganization,
        Perm::WriteOrganization,
        Perm::ReadFragment,
        Perm::WriteFragment,
        Perm::ReadLocation,
        Perm::WriteLocation,
        Perm::ReadRobot,
        Perm::ReadRobotConfig,
        Perm::WriteRobot,
        Perm::ControlRobot,
        Perm::ReadRobotLogs,
        Perm::ReadOrganizationDataManagement,
        Perm::ReadLocationDataManagement,
        Perm::ReadRobotDataManagement,
        Perm::WriteDataManagement,
        Perm::ReadLocationSecret,
        Perm::ReadRobotSecret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Perm::ReadOrganization => "read_organization",
            Perm::WriteOrganization => "write_organization",
            Perm::ReadFragment => "read_fragment",
            Perm::WriteFragment => "write_fragment",
            Perm::ReadLocation => "read_location",
            Perm::WriteLocation => "write_location",
            Perm::ReadRobot => "read_robot",
            Perm::ReadRobotConfig => "read_robot_config",
            Perm::WriteRobot => "write_robot",
            Perm::ControlRobot => "control_robot",
            Perm::ReadRobotLogs => "read_robot_logs",
            Perm::ReadOrganizationDataManagement => "read_organization_data_management",
            Perm::ReadLocationDataManagement => "read_location_data_management",
            Perm::ReadRobotDataManagement => "read_robot_data_management",
            Perm::WriteDataManagement => "write_data_management",
            Perm::ReadLocationSecret => "read_location_secret",
            Perm::ReadRobotSecret => "read_robot_secret",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Operators read, restart and read logs; only owners write, see secrets or manage access.
    pub fn granted_to(self, role: Role) -> bool {
        match role {
            Role::Owner => true,
            Role::Operator => matches!(
                self,
                Perm::ReadOrganization
                    | Perm::ReadFragment
                    | Perm::ReadLocation
                    | Perm::ReadRobot
                    | Perm::ReadRobotConfig
                    | Perm::ControlRobot
                    | Perm::ReadRobotLogs
                    | Perm::ReadOrganizationDataManagement
                    | Perm::ReadLocationDataManagement
                    | Perm::ReadRobotDataManagement
            ),
        }
    }
}

impl fmt::Display for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub org_id: String,
    pub role: Role,
    pub resource_type: ResourceType,
    pub resource_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    ApiKey {
        id: String,
        org_id: String,
    },
    Part {
        id: String,
    },
    /// A user signed up through an OAuth app, holding the grants given to it.
    User {
        id: String,
    },
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub identity: Identity,
    pub grants: Vec<Grant>,
}

/// Where a resource sits: its organization, the chain of locations from its own (or its
/// machine's) up to the top level, and its machine if it is one.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub org_id: String,
    pub locations: Vec<String>,
    pub robot_id: Option<String>,
    /// For messages: "robot \"id\"", "location \"id\"", "organization \"id\"".
    pub what: String,
}

/// `kind "id"`, as `format!("{kind} {id:?}")` writes it. Every scope gets one, even when no
/// message is made: formatting was ~1,250 instructions of a get_robot, so ids that need no
/// escaping (all the fleet makes) are copied instead.
fn named(kind: &str, id: &str) -> String {
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return format!("{kind} {id:?}");
    }
    let mut s = String::with_capacity(kind.len() + id.len() + 3);
    s.push_str(kind);
    s.push_str(" \"");
    s.push_str(id);
    s.push('"');
    s
}

/// A location (`?1`: a parent) and its ancestors, in one statement: one recursive query costs
/// less than a query per step.
const ANCESTORS_SQL: &str = "WITH RECURSIVE up(id, parent_id) AS (
         SELECT id, parent_id FROM locations WHERE id = ?1
         UNION ALL SELECT l.id, l.parent_id FROM locations l JOIN up ON l.id = up.parent_id)
     SELECT id FROM up";

/// The organization and the location chain (own location first) of the location that `sql`
/// finds for `id` (a row of its id, organization and parent); `None` when it finds none.
/// Scopes are looked up on every call and most locations are top-level: the recursive query
/// (~20,000 instructions a call, most of it SQLite opening and closing its queue table) runs
/// only for a location that has a parent.
fn chain(c: &Connection, sql: &str, id: &str) -> ApiResult<Option<(String, Vec<String>)>> {
    let first: Option<(String, String, Option<String>)> =
        row(c, sql, [id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()?;
    let Some((location_id, org_id, parent)) = first else {
        return Ok(None);
    };
    Ok(Some((org_id, with_ancestors(c, location_id, parent)?)))
}

/// `location_id` and, when it has a `parent`, the chain above it.
fn with_ancestors(
    c: &Connection,
    location_id: String,
    parent: Option<String>,
) -> ApiResult<Vec<String>> {
    let mut locations = vec![location_id];
    if let Some(parent) = parent {
        let mut stmt = c.prepare_cached(ANCESTORS_SQL)?;
        let mut rows = stmt.query([parent])?;
        while let Some(r) = rows.next()? {
            locations.push(r.get(0)?);
        }
    }
    Ok(locations)
}

impl Scope {
    /// The scope of an organization, or INVALID_ARGUMENT for an empty id and NOT_FOUND for an
    /// unknown one.
    pub fn organization(c: &Connection, org_id: &str) -> ApiResult<Self> {
        if org_id.is_empty() {
            return Err(ApiError::invalid("organization_id", "required"));
        }
        row(c, "SELECT 1 FROM orgs WHERE id = ?1", [org_id], |_| Ok(()))
            .optional()?
            .ok_or_else(|| ApiError::not_found("organization", org_id))?;
        Ok(Self::stored_org(org_id))
    }

    /// The scope of an organization whose id was read from a stored row (so it exists).
    pub fn stored_org(org_id: &str) -> Self {
        Self {
            org_id: org_id.into(),
            what: named("organization", org_id),
            ..Self::default()
        }
    }

    /// The scope of a resource named by type and id, or NOT_FOUND.
    pub fn of(c: &Connection, rt: ResourceType, id: &str) -> ApiResult<Self> {
        match rt {
            ResourceType::Organization => Self::organization(c, id),
            ResourceType::Location => Self::location(c, id),
            ResourceType::Robot => Self::robot(c, id),
        }
    }

    /// The scope of a location, or NOT_FOUND.
    pub fn location(c: &Connection, location_id: &str) -> ApiResult<Self> {
        let (org_id, locations) = chain(
            c,
            "SELECT id, org_id, parent_id FROM locations WHERE id = ?1",
            location_id,
        )?
        .ok_or_else(|| ApiError::not_found("location", location_id))?;
        Ok(Self {
            org_id,
            locations,
            robot_id: None,
            what: named("location", location_id),
        })
    }

    /// The scope of a machine, or NOT_FOUND.
    pub fn robot(c: &Connection, robot_id: &str) -> ApiResult<Self> {
        let (org_id, locations) = chain(
            c,
            "SELECT l.id, l.org_id, l.parent_id FROM robots r
             JOIN locations l ON l.id = r.location_id WHERE r.id = ?1",
            robot_id,
        )?
        .ok_or_else(|| ApiError::not_found("robot", robot_id))?;
        Ok(Self {
            org_id,
            locations,
            robot_id: Some(robot_id.into()),
            what: named("robot", robot_id),
        })
    }

    /// The scope of machine `robot_id`, from its location's row (id, organization, parent) that
    /// the caller read along with the machine: a read of one machine is then one query.
    pub fn robot_at(
        c: &Connection,
        robot_id: &str,
        (location_id, org_id, parent): (String, String, Option<String>),
    ) -> ApiResult<Self> {
        Ok(Self {
            org_id,
            locations: with_ancestors(c, location_id, parent)?,
            robot_id: Some(robot_id.into()),
            what: named("robot", robot_id),
        })
    }

    /// The scope of a part's machine, or NOT_FOUND naming the part.
    pub fn part(c: &Connection, part_id: &str) -> ApiResult<Self> {
        let robot_id: Option<String> = row(
            c,
            "SELECT robot_id FROM parts WHERE id = ?1",
            [part_id],
            |r| r.get(0),
        )
        .optional()?;
        let robot_id = robot_id.ok_or_else(|| ApiError::not_found("robot part", part_id))?;
        let mut s = Self::robot(c, &robot_id)?;
        s.what = named("robot part", part_id);
        Ok(s)
    }
}

impl Grant {
    fn covers(&self, scope: &Scope) -> bool {
        self.org_id == scope.org_id
            && match self.resource_type {
                ResourceType::Organization => self.resource_id == scope.org_id,
                ResourceType::Location => scope.locations.contains(&self.resource_id),
                ResourceType::Robot => scope.robot_id.as_deref() == Some(self.resource_id.as_str()),
            }
    }
}

impl Principal {
    pub fn id(&self) -> &str {
        match &self.identity {
            Identity::ApiKey { id, .. } | Identity::Part { id } | Identity::User { id } => id,
        }
    }

    pub fn can(&self, perm: Perm, scope: &Scope) -> bool {
        self.grants
            .iter()
            .any(|g| perm.granted_to(g.role) && g.covers(scope))
    }

    pub fn require(&self, perm: Perm, scope: &Scope) -> ApiResult<()> {
        if self.can(perm, scope) {
            Ok(())
        } else {
            Err(ApiError::denied(format!("{perm} on {}", scope.what)))
        }
    }

    /// Organizations in which the principal holds any grant.
    pub fn orgs(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.grants.iter().map(|g| g.org_id.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// True when some grant lies inside `org_id` (the organization is visible, if not all of it).
    pub fn in_org(&self, org_id: &str) -> bool {
        self.grants.iter().any(|g| g.org_id == org_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, rt: ResourceType, id: &str) -> Principal {
        Principal {
            identity: Identity::ApiKey {
                id: "k".into(),
                org_id: "o".into(),
            },
            grants: vec![Grant {
                org_id: "o".into(),
                role,
                resource_type: rt,
                resource_id: id.into(),
            }],
        }
    }

    fn robot_scope() -> Scope {
        Scope {
            org_id: "o".into(),
            locations: vec!["child".into(), "parent".into()],
            robot_id: Some("r".into()),
            what: "robot".into(),
        }
    }

    #[test]
    fn scope_names_quote_ids_as_debug_formatting_does() {
        for id in [
            "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            "a_b",
            "",
            "with \"quote\"",
            "tab\t",
            "é",
        ] {
            assert_eq!(named("robot", id), format!("robot {id:?}"), "{id}");
        }
    }

    #[test]
    fn location_grants_cover_sub_locations_and_their_machines() {
        let p = principal(Role::Owner, ResourceType::Location, "parent");
        assert!(p.can(Perm::WriteRobot, &robot_scope()));
        assert!(!p.can(Perm::ReadOrganization, &Scope::stored_org("o")));
    }

    #[test]
    fn operators_read_and_restart_but_do_not_write_or_see_secrets() {
        let p = principal(Role::Operator, ResourceType::Organization, "o");
        assert!(p.can(Perm::ReadRobot, &robot_scope()));
        assert!(p.can(Perm::ControlRobot, &robot_scope()));
        assert!(p.can(Perm::ReadRobotLogs, &robot_scope()));
        assert!(!p.can(Perm::WriteRobot, &robot_scope()));
        assert!(!p.can(Perm::ReadRobotSecret, &robot_scope()));
        assert!(!p.can(Perm::WriteOrganization, &Scope::stored_org("o")));
    }

    #[test]
    fn nothing_crosses_organizations() {
        let p = principal(Role::Owner, ResourceType::Organization, "o");
        assert!(!p.can(
            Perm::ReadRobot,
            &Scope {
                org_id: "other".into(),
                ..robot_scope()
            }
        ));
        let err = p
            .require(Perm::ReadOrganization, &Scope::stored_org("other"))
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
    }

    #[test]
    fn organization_scopes_are_looked_up_like_location_and_robot_scopes() {
        let store = crate::server::store::Store::open_in_memory().unwrap();
        store
            .tx(|c| {
                crate::server::store::exec(
                    c,
                    "INSERT INTO orgs(id, name, created_on) VALUES ('o', 'O', 0)",
                    [],
                )?;
                Ok(())
            })
            .unwrap();
        store
            .read(|c| {
                let s = Scope::organization(c, "o")?;
                assert_eq!(
                    (s.org_id.as_str(), s.what.as_str()),
                    ("o", "organization \"o\"")
                );
                let p = principal(Role::Operator, ResourceType::Organization, "o");
                assert!(p.can(
                    Perm::ReadOrganization,
                    &Scope::of(c, ResourceType::Organization, "o")?
                ));
                let e = Scope::organization(c, "nope").unwrap_err();
                assert_eq!(e.to_string(), "organization \"nope\" not found");
                let e = Scope::organization(c, "").unwrap_err();
                assert_eq!(e.to_string(), "organization_id: required");
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn permission_strings_round_trip() {
        for p in Perm::ALL {
            assert_eq!(Perm::parse(p.as_str()), Some(p));
        }
        assert_eq!(Perm::parse("fly"), None);
    }
}
