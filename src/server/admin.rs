//! `fleetsh.admin.v1.FleetAdminService` (proto/fleetsh/admin/v1/admin.proto): fleetsh's own
//! RPCs to change a running local fleet's fault rules and clock, and to make members (which
//! Viam's API cannot). Owner key only: an API key
//! holding the owner role on the fleet's first organization. Faults do not apply here (the
//! methods are not in an `rpc_table!`), so no rule can lock the owner out of clearing it.

use serde_json::{Map, Value};

use super::Api;
use super::authz::{Identity, Principal, ResourceType, Role, Scope};
use super::error::{ApiError, ApiResult};
use super::faults::Rule;
use super::roles::GrantRow;
use super::{invites, members};
use crate::proto::fleetsh::admin::v1::fleet_admin_service_server::FleetAdminService;
use crate::proto::fleetsh::admin::v1::*;

pub struct AdminSvc(pub std::sync::Arc<Api>);

#[tonic::async_trait]
impl FleetAdminService for AdminSvc {
    async fn add_fault(
        &self,
        request: tonic::Request<AddFaultRequest>,
    ) -> Result<tonic::Response<AddFaultResponse>, tonic::Status> {
        self.0.unary("add_fault", request, add_fault)
    }

    async fn list_faults(
        &self,
        request: tonic::Request<ListFaultsRequest>,
    ) -> Result<tonic::Response<ListFaultsResponse>, tonic::Status> {
        self.0.unary("list_faults", request, list_faults)
    }

    async fn clear_faults(
        &self,
        request: tonic::Request<ClearFaultsRequest>,
    ) -> Result<tonic::Response<ClearFaultsResponse>, tonic::Status> {
        self.0.unary("clear_faults", request, clear_faults)
    }

    async fn advance_clock(
        &self,
        request: tonic::Request<AdvanceClockRequest>,
    ) -> Result<tonic::Response<AdvanceClockResponse>, tonic::Status> {
        self.0.unary("advance_clock", request, advance_clock)
    }

    async fn accept_invite(
        &self,
        request: tonic::Request<AcceptInviteRequest>,
    ) -> Result<tonic::Response<AcceptInviteResponse>, tonic::Status> {
        self.0.unary("accept_invite", request, accept_invite)
    }

    async fn add_member(
        &self,
        request: tonic::Request<AddMemberRequest>,
    ) -> Result<tonic::Response<AddMemberResponse>, tonic::Status> {
        self.0.unary("add_member", request, add_member)
    }
}

/// The fleet's owner: an API key with the owner role on the organization `fleetsh serve`
/// made first (its key is the one in credentials.json). Owners of organizations made later
/// through the API own those, not the fleet.
fn require_owner(api: &Api, who: &Principal) -> ApiResult<()> {
    let first_org = api.store.meta_get("bootstrap_org")?;
    let first_org = first_org.as_deref().map(String::from_utf8_lossy);
    let owner = matches!(who.identity, Identity::ApiKey { .. })
        && first_org.is_some_and(|org| {
            who.grants.iter().any(|g| {
                g.role == Role::Owner
                    && g.resource_type == ResourceType::Organization
                    && g.resource_id == org
                    && g.org_id == org
            })
        });
    if owner {
        Ok(())
    } else {
        Err(ApiError::denied(
            "the admin API takes an owner API key of the fleet's first organization (the key in the data directory's credentials.json)",
        ))
    }
}

/// The rule's fields that are set, as `Rule::from_fields` reads them.
fn fields_of(r: FaultRule) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("method".into(), r.method.into());
    let texts = [
        ("principal", r.principal),
        ("resource", r.resource),
        ("code", r.code),
        ("message", r.message),
        ("latency", r.latency),
    ];
    for (k, v) in texts {
        if let Some(v) = v {
            m.insert(k.into(), v.into());
        }
    }
    if let Some(p) = r.probability {
        m.insert("probability".into(), p.into());
    }
    if let Some(n) = r.nth {
        m.insert("nth".into(), n.into());
    }
    if let Some(t) = r.times {
        m.insert("times".into(), t.into());
    }
    m
}

fn rule_of(rule: &Rule) -> FaultRule {
    let f = rule.fields();
    let text = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_string);
    FaultRule {
        method: rule.method.as_str().into(),
        principal: rule.principal.clone(),
        resource: rule.resource.clone(),
        code: text("code"),
        message: Some(rule.message.clone()),
        latency: text("latency"),
        probability: (rule.probability < 1.0).then_some(rule.probability),
        nth: rule.nth,
        times: rule.times,
    }
}

fn add_fault(api: &Api, who: &Principal, req: AddFaultRequest) -> ApiResult<AddFaultResponse> {
    require_owner(api, who)?;
    let rule = req
        .rule
        .ok_or_else(|| ApiError::invalid("rule", "required"))?;
    let rule = Rule::from_fields(&fields_of(rule))
        .map_err(|e| ApiError::invalid(&format!("rule.{}", e.field), e.message))?;
    let id = api.faults.add(rule);
    tracing::info!(id, principal = who.id(), "fault rule added");
    Ok(AddFaultResponse { id })
}

fn list_faults(api: &Api, who: &Principal, _: ListFaultsRequest) -> ApiResult<ListFaultsResponse> {
    require_owner(api, who)?;
    let faults = api
        .faults
        .list()
        .iter()
        .map(|r| Fault {
            id: r.id.clone(),
            rule: Some(rule_of(r)),
            seen: r.seen,
        })
        .collect();
    Ok(ListFaultsResponse { faults })
}

fn clear_faults(
    api: &Api,
    who: &Principal,
    req: ClearFaultsRequest,
) -> ApiResult<ClearFaultsResponse> {
    require_owner(api, who)?;
    let cleared = match (req.all, req.ids.is_empty()) {
        (true, true) => {
            let n = api.faults.list().len();
            api.faults.clear();
            n
        }
        (true, false) => {
            return Err(ApiError::invalid("ids", "give ids or all = true, not both"));
        }
        (false, true) => {
            return Err(ApiError::invalid(
                "ids",
                "required: the ids ListFaults shows, or all = true",
            ));
        }
        (false, false) => {
            let unknown = api.faults.remove(&req.ids);
            if !unknown.is_empty() {
                return Err(ApiError::NotFound(format!(
                    "no fault rule {} (nothing was cleared); ListFaults shows the ids",
                    unknown.join(", ")
                )));
            }
            req.ids.len()
        }
    };
    tracing::info!(cleared, principal = who.id(), "fault rules cleared");
    Ok(ClearFaultsResponse {
        cleared: cleared as u64,
    })
}

fn advance_clock(
    api: &Api,
    who: &Principal,
    req: AdvanceClockRequest,
) -> ApiResult<AdvanceClockResponse> {
    require_owner(api, who)?;
    let by = humantime::parse_duration(req.by.trim()).map_err(|e| {
        ApiError::invalid(
            "by",
            format!("{:?} is not a duration (e.g. 91d, 12h): {e}", req.by),
        )
    })?;
    let nanos = i64::try_from(by.as_nanos())
        .map_err(|_| ApiError::invalid("by", "too far (at most about 292 years)"))?;
    let moved = api.store.tx(|tx| super::clock::advance(tx, nanos))?;
    tracing::info!(by = req.by, moved, principal = who.id(), "clock advanced");
    Ok(AdvanceClockResponse {
        moved: moved as u64,
    })
}

fn accept_invite(
    api: &Api,
    who: &Principal,
    req: AcceptInviteRequest,
) -> ApiResult<AcceptInviteResponse> {
    require_owner(api, who)?;
    let user_id = api.store.tx(|tx| {
        let org = &req.organization_id;
        Scope::organization(tx, org)?;
        let email = members::email_of(tx, &req.email)?;
        let grants = invites::take(tx, org, &email)?;
        members::add(tx, org, &email, &grants)
    })?;
    tracing::info!(user_id, principal = who.id(), "invite accepted");
    Ok(AcceptInviteResponse { user_id })
}

fn add_member(api: &Api, who: &Principal, req: AddMemberRequest) -> ApiResult<AddMemberResponse> {
    require_owner(api, who)?;
    let user_id = api.store.tx(|tx| {
        let org = &req.organization_id;
        Scope::organization(tx, org)?;
        let email = members::email_of(tx, &req.email)?;
        if invites::pending(tx, org, &email)? {
            return Err(ApiError::FailedPrecondition(format!(
                "{email:?} has a pending invite to organization {org:?}: AcceptInvite it, or delete it first"
            )));
        }
        let mut grants = req
            .roles
            .iter()
            .enumerate()
            .map(|(i, r)| {
                members::grant(tx, org, &r.role, &r.resource_type, &r.resource_id)
                    .map_err(|e| in_field(e, &format!("roles[{i}]")))
            })
            .collect::<ApiResult<Vec<GrantRow>>>()?;
        if grants.is_empty() {
            grants.push(members::grant(tx, org, "owner", "organization", org)?);
        }
        members::add(tx, org, &email, &grants)
    })?;
    tracing::info!(user_id, principal = who.id(), "member added");
    Ok(AddMemberResponse { user_id })
}

/// `role: ...` of one entry becomes `roles[1].role: ...`, so the caller sees which one.
fn in_field(e: ApiError, at: &str) -> ApiError {
    match e {
        ApiError::InvalidArgument(m) => ApiError::InvalidArgument(format!("{at}.{m}")),
        ApiError::NotFound(m) => ApiError::NotFound(format!("{at}: {m}")),
        e => e,
    }
}
