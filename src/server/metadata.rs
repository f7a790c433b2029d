//! User-defined metadata: one google.protobuf.Struct per organization, location, machine and
//! part, readable with the resource's read permission and replaced with its write permission.

use prost::Message;
use prost_types::Struct;
use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::error::{ApiError, ApiResult, required};
use super::store::{exec, row};
use crate::proto::viam::app::v1::*;

/// The kinds of resource that carry metadata, as stored in `metadata.resource_type`.
#[derive(Clone, Copy)]
enum Kind {
    Organization,
    Location,
    Robot,
    Part,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Organization => "organization",
            Kind::Location => "location",
            Kind::Robot => "robot",
            Kind::Part => "part",
        }
    }

    /// The scope of resource `id`, or NOT_FOUND naming it.
    fn scope(self, c: &Connection, id: &str) -> ApiResult<Scope> {
        match self {
            Kind::Organization => Scope::organization(c, id),
            Kind::Location => Scope::location(c, id),
            Kind::Robot => Scope::robot(c, id),
            Kind::Part => Scope::part(c, id),
        }
    }

    fn perms(self) -> (Perm, Perm) {
        match self {
            Kind::Organization => (Perm::ReadOrganization, Perm::WriteOrganization),
            Kind::Location => (Perm::ReadLocation, Perm::WriteLocation),
            Kind::Robot | Kind::Part => (Perm::ReadRobot, Perm::WriteRobot),
        }
    }
}

/// The stored metadata of a resource; a resource never given any has an empty Struct.
fn get(api: &Api, who: &Principal, kind: Kind, field: &str, id: &str) -> ApiResult<Struct> {
    let id = required(field, id)?;
    api.store.read(|c| {
        who.require(kind.perms().0, &kind.scope(c, id)?)?;
        let blob: Option<Vec<u8>> = row(
            c,
            "SELECT data FROM metadata WHERE resource_type = ?1 AND resource_id = ?2",
            params![kind.as_str(), id],
            |r| r.get(0),
        )
        .optional()?;
        match blob {
            None => Ok(Struct::default()),
            Some(b) => Struct::decode(b.as_slice()).map_err(|e| {
                ApiError::Internal(format!(
                    "stored metadata of {} {id:?} is unreadable: {e}",
                    kind.as_str()
                ))
            }),
        }
    })
}

/// Replaces the whole metadata of a resource (absent `data` clears it, as an empty Struct).
fn update(
    api: &Api,
    who: &Principal,
    kind: Kind,
    field: &str,
    id: &str,
    data: Option<Struct>,
) -> ApiResult<()> {
    let id = required(field, id)?;
    let data = data.unwrap_or_default();
    api.store.tx(|tx| {
        who.require(kind.perms().1, &kind.scope(tx, id)?)?;
        exec(
            tx,
            "INSERT INTO metadata(resource_type, resource_id, data) VALUES (?1, ?2, ?3)
             ON CONFLICT(resource_type, resource_id) DO UPDATE SET data = excluded.data",
            params![kind.as_str(), id, data.encode_to_vec()],
        )?;
        Ok(())
    })
}

pub fn get_organization_metadata(
    api: &Api,
    who: &Principal,
    req: GetOrganizationMetadataRequest,
) -> ApiResult<GetOrganizationMetadataResponse> {
    let data = get(
        api,
        who,
        Kind::Organization,
        "organization_id",
        &req.organization_id,
    )?;
    Ok(GetOrganizationMetadataResponse { data: Some(data) })
}

pub fn update_organization_metadata(
    api: &Api,
    who: &Principal,
    req: UpdateOrganizationMetadataRequest,
) -> ApiResult<UpdateOrganizationMetadataResponse> {
    update(
        api,
        who,
        Kind::Organization,
        "organization_id",
        &req.organization_id,
        req.data,
    )?;
    Ok(UpdateOrganizationMetadataResponse {})
}

pub fn get_location_metadata(
    api: &Api,
    who: &Principal,
    req: GetLocationMetadataRequest,
) -> ApiResult<GetLocationMetadataResponse> {
    let data = get(api, who, Kind::Location, "location_id", &req.location_id)?;
    Ok(GetLocationMetadataResponse { data: Some(data) })
}

pub fn update_location_metadata(
    api: &Api,
    who: &Principal,
    req: UpdateLocationMetadataRequest,
) -> ApiResult<UpdateLocationMetadataResponse> {
    update(
        api,
        who,
        Kind::Location,
        "location_id",
        &req.location_id,
        req.data,
    )?;
    Ok(UpdateLocationMetadataResponse {})
}

pub fn get_robot_metadata(
    api: &Api,
    who: &Principal,
    req: GetRobotMetadataRequest,
) -> ApiResult<GetRobotMetadataResponse> {
    let data = get(api, who, Kind::Robot, "id", &req.id)?;
    Ok(GetRobotMetadataResponse { data: Some(data) })
}

pub fn update_robot_metadata(
    api: &Api,
    who: &Principal,
    req: UpdateRobotMetadataRequest,
) -> ApiResult<UpdateRobotMetadataResponse> {
    update(api, who, Kind::Robot, "id", &req.id, req.data)?;
    Ok(UpdateRobotMetadataResponse {})
}

pub fn get_robot_part_metadata(
    api: &Api,
    who: &Principal,
    req: GetRobotPartMetadataRequest,
) -> ApiResult<GetRobotPartMetadataResponse> {
    let data = get(api, who, Kind::Part, "id", &req.id)?;
    Ok(GetRobotPartMetadataResponse { data: Some(data) })
}

pub fn update_robot_part_metadata(
    api: &Api,
    who: &Principal,
    req: UpdateRobotPartMetadataRequest,
) -> ApiResult<UpdateRobotPartMetadataResponse> {
    update(api, who, Kind::Part, "id", &req.id, req.data)?;
    Ok(UpdateRobotPartMetadataResponse {})
}
