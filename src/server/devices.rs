//! Push notifications: an organization's Firebase app and the push tokens of its devices.
//! Stored and returned only: the local fleet never calls Firebase. The Firebase config JSON
//! holds a service account's key and nothing here uses it, so only its SHA-256 is kept.

use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::error::{ApiError, ApiResult, required};
use super::store::{exec, hash_secret, now, row};
use crate::proto::viam::app::v1::*;

fn org_scope(c: &Connection, org_id: &str) -> ApiResult<Scope> {
    Scope::organization(c, org_id).map_err(|e| match e {
        ApiError::InvalidArgument(_) => ApiError::invalid("org_id", "required"),
        e => e,
    })
}

/// The organization whose Firebase config names `app_id`.
fn app_org(c: &Connection, app_id: &str) -> ApiResult<String> {
    let app_id = required("app_id", app_id)?;
    row(
        c,
        "SELECT org_id FROM firebase_apps WHERE app_id = ?1",
        [app_id],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| {
        ApiError::NotFound(format!(
            "app_id: no organization has a Firebase config for app {app_id:?}; SetFirebaseConfig names it first"
        ))
    })
}

pub fn set_firebase_config(
    api: &Api,
    who: &Principal,
    req: SetFirebaseConfigRequest,
) -> ApiResult<SetFirebaseConfigResponse> {
    let app_id = required("app_id", &req.app_id)?;
    let parsed: serde_json::Value = serde_json::from_str(&req.config_json)
        .map_err(|e| ApiError::invalid("config_json", format!("is not JSON: {e}")))?;
    if !parsed.is_object() {
        return Err(ApiError::invalid(
            "config_json",
            "must be a JSON object (the Firebase service account file)",
        ));
    }
    api.store.tx(|tx| {
        who.require(Perm::WriteOrganization, &org_scope(tx, &req.org_id)?)?;
        let owner: Option<String> = row(
            tx,
            "SELECT org_id FROM firebase_apps WHERE app_id = ?1",
            [app_id],
            |r| r.get(0),
        )
        .optional()?;
        if owner.is_some_and(|o| o != req.org_id) {
            return Err(ApiError::AlreadyExists(format!(
                "app_id: Firebase app {app_id:?} belongs to another organization's config"
            )));
        }
        // One config per organization: a new app replaces the old one and its devices.
        exec(
            tx,
            "DELETE FROM firebase_apps WHERE org_id = ?1 AND app_id <> ?2",
            params![req.org_id, app_id],
        )?;
        exec(
            tx,
            "INSERT INTO firebase_apps(org_id, app_id, config_sha256, set_on) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(org_id) DO UPDATE SET config_sha256 = excluded.config_sha256, set_on = excluded.set_on",
            params![req.org_id, app_id, hash_secret(&req.config_json), now()],
        )?;
        Ok(SetFirebaseConfigResponse {})
    })
}

pub fn get_firebase_config(
    api: &Api,
    who: &Principal,
    req: GetFirebaseConfigRequest,
) -> ApiResult<GetFirebaseConfigResponse> {
    api.store.read(|c| {
        who.require(Perm::ReadOrganization, &org_scope(c, &req.org_id)?)?;
        let app_id: Option<String> = row(
            c,
            "SELECT app_id FROM firebase_apps WHERE org_id = ?1",
            [&req.org_id],
            |r| r.get(0),
        )
        .optional()?;
        let app_id = app_id.ok_or_else(|| {
            ApiError::NotFound(format!(
                "organization {:?} has no Firebase config; SetFirebaseConfig sets one",
                req.org_id
            ))
        })?;
        Ok(GetFirebaseConfigResponse { app_id })
    })
}

/// Removes the config and every device token of its app.
pub fn delete_firebase_config(
    api: &Api,
    who: &Principal,
    req: DeleteFirebaseConfigRequest,
) -> ApiResult<DeleteFirebaseConfigResponse> {
    let app_id = required("app_id", &req.app_id)?;
    api.store.tx(|tx| {
        who.require(Perm::WriteOrganization, &org_scope(tx, &req.org_id)?)?;
        let n = exec(
            tx,
            "DELETE FROM firebase_apps WHERE org_id = ?1 AND app_id = ?2",
            params![req.org_id, app_id],
        )?;
        if n == 0 {
            return Err(ApiError::NotFound(format!(
                "app_id: organization {:?} has no Firebase config for app {app_id:?}",
                req.org_id
            )));
        }
        Ok(DeleteFirebaseConfigResponse {})
    })
}

/// Any member of the app's organization may register a device (an operator's phone too).
pub fn upload_device_push_token(
    api: &Api,
    who: &Principal,
    req: UploadDevicePushTokenRequest,
) -> ApiResult<UploadDevicePushTokenResponse> {
    let token = required("device_token", &req.device_token)?;
    let device = required("device_uuid", &req.device_uuid)?;
    api.store.tx(|tx| {
        let org = app_org(tx, &req.app_id)?;
        who.require(Perm::ReadOrganization, &Scope::stored_org(&org))?;
        exec(
            tx,
            "INSERT INTO device_push_tokens(app_id, device_uuid, device_token, uploaded_on)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(app_id, device_uuid) DO UPDATE SET
               device_token = excluded.device_token, uploaded_on = excluded.uploaded_on",
            params![req.app_id.trim(), device, token, now()],
        )?;
        Ok(UploadDevicePushTokenResponse {})
    })
}

pub fn delete_device_push_token(
    api: &Api,
    who: &Principal,
    req: DeleteDevicePushTokenRequest,
) -> ApiResult<DeleteDevicePushTokenResponse> {
    let device = required("device_uuid", &req.device_uuid)?;
    api.store.tx(|tx| {
        let org = app_org(tx, &req.app_id)?;
        who.require(Perm::ReadOrganization, &Scope::stored_org(&org))?;
        let n = exec(
            tx,
            "DELETE FROM device_push_tokens WHERE app_id = ?1 AND device_uuid = ?2",
            params![req.app_id.trim(), device],
        )?;
        if n == 0 {
            return Err(ApiError::NotFound(format!(
                "device_uuid: no push token of device {device:?} for app {:?}",
                req.app_id.trim()
            )));
        }
        Ok(DeleteDevicePushTokenResponse {})
    })
}

/// Only the organization's owners read every device's token: a token is what a push is sent to.
pub fn get_device_push_tokens(
    api: &Api,
    who: &Principal,
    req: GetDevicePushTokensRequest,
) -> ApiResult<GetDevicePushTokensResponse> {
    api.store.read(|c| {
        let org = app_org(c, &req.app_id)?;
        who.require(Perm::WriteOrganization, &Scope::stored_org(&org))?;
        let mut stmt = c.prepare_cached(
            "SELECT device_token FROM device_push_tokens WHERE app_id = ?1 ORDER BY uploaded_on, device_uuid",
        )?;
        let device_tokens = stmt
            .query_map([req.app_id.trim()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(GetDevicePushTokensResponse { device_tokens })
    })
}
