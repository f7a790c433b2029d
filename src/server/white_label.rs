//! White-label settings of an organization: support email, logo, billing-service config, and
//! whether its own auth service (for OAuth apps) is enabled.
//! Stored and returned only: the local fleet sends no email, bills no one and hosts no page,
//! so a logo comes back as a data: URL of the stored image.

use base64::Engine;
use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::error::{ApiError, ApiResult};
use super::invites::normalize_email;
use super::store::{exec, row};
use crate::proto::viam::app::v1::*;

/// The largest logo stored: a logo is shown small, and every GetBillingServiceConfig carries it.
const MAX_LOGO_BYTES: usize = 1024 * 1024;
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The organization's scope, checked for `perm` (`org_id` is the field of every request here).
fn scope(c: &Connection, who: &Principal, perm: Perm, org_id: &str) -> ApiResult<()> {
    let s = Scope::organization(c, org_id).map_err(|e| match e {
        ApiError::InvalidArgument(_) => ApiError::invalid("org_id", "required"),
        e => e,
    })?;
    who.require(perm, &s)
}

/// Makes the organization's row exist, so each setter only updates its column.
fn ensure_row(c: &Connection, org_id: &str) -> ApiResult<()> {
    exec(
        c,
        "INSERT OR IGNORE INTO white_label(org_id) VALUES (?1)",
        [org_id],
    )?;
    Ok(())
}

pub fn organization_set_support_email(
    api: &Api,
    who: &Principal,
    req: OrganizationSetSupportEmailRequest,
) -> ApiResult<OrganizationSetSupportEmailResponse> {
    let email = normalize_email(&req.email)?;
    api.store.tx(|tx| {
        scope(tx, who, Perm::WriteOrganization, &req.org_id)?;
        ensure_row(tx, &req.org_id)?;
        exec(
            tx,
            "UPDATE white_label SET support_email = ?2 WHERE org_id = ?1",
            params![req.org_id, email],
        )?;
        Ok(OrganizationSetSupportEmailResponse {})
    })
}

fn support_email(c: &Connection, org_id: &str) -> ApiResult<String> {
    Ok(row(
        c,
        "SELECT support_email FROM white_label WHERE org_id = ?1",
        [org_id],
        |r| r.get::<_, Option<String>>(0),
    )
    .optional()?
    .flatten()
    .unwrap_or_default())
}

/// The stored address, or empty when none was set.
pub fn organization_get_support_email(
    api: &Api,
    who: &Principal,
    req: OrganizationGetSupportEmailRequest,
) -> ApiResult<OrganizationGetSupportEmailResponse> {
    api.store.read(|c| {
        scope(c, who, Perm::ReadOrganization, &req.org_id)?;
        Ok(OrganizationGetSupportEmailResponse {
            email: support_email(c, &req.org_id)?,
        })
    })
}

/// A PNG image (the format the cloud asks for) of at most MAX_LOGO_BYTES.
fn check_logo(logo: &[u8]) -> ApiResult<()> {
    if logo.is_empty() {
        return Err(ApiError::invalid(
            "logo",
            "required: the bytes of a PNG image",
        ));
    }
    if logo.len() > MAX_LOGO_BYTES {
        return Err(ApiError::invalid(
            "logo",
            format!(
                "{} bytes is more than the {MAX_LOGO_BYTES} allowed; shrink the image",
                logo.len()
            ),
        ));
    }
    if !logo.starts_with(PNG_SIGNATURE) {
        return Err(ApiError::invalid(
            "logo",
            "is not a PNG image; convert it to PNG",
        ));
    }
    Ok(())
}

pub fn organization_set_logo(
    api: &Api,
    who: &Principal,
    req: OrganizationSetLogoRequest,
) -> ApiResult<OrganizationSetLogoResponse> {
    check_logo(&req.logo)?;
    api.store.tx(|tx| {
        scope(tx, who, Perm::WriteOrganization, &req.org_id)?;
        ensure_row(tx, &req.org_id)?;
        exec(
            tx,
            "UPDATE white_label SET logo = ?2 WHERE org_id = ?1",
            params![req.org_id, req.logo.as_slice()],
        )?;
        Ok(OrganizationSetLogoResponse {})
    })
}

/// A data: URL of the stored logo, or empty when none was set.
fn logo_url(c: &Connection, org_id: &str) -> ApiResult<String> {
    let logo: Option<Vec<u8>> = row(
        c,
        "SELECT logo FROM white_label WHERE org_id = ?1",
        [org_id],
        |r| r.get(0),
    )
    .optional()?
    .flatten();
    Ok(logo.map_or_else(String::new, |l| {
        format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(l)
        )
    }))
}

pub fn organization_get_logo(
    api: &Api,
    who: &Principal,
    req: OrganizationGetLogoRequest,
) -> ApiResult<OrganizationGetLogoResponse> {
    api.store.read(|c| {
        scope(c, who, Perm::ReadOrganization, &req.org_id)?;
        Ok(OrganizationGetLogoResponse {
            url: logo_url(c, &req.org_id)?,
        })
    })
}

/// A billing address with every required line present.
fn check_address(a: Option<&BillingAddress>) -> ApiResult<&BillingAddress> {
    let a = a.ok_or_else(|| ApiError::invalid("billing_address", "required"))?;
    for (field, v) in [
        ("address_line_1", &a.address_line_1),
        ("city", &a.city),
        ("state", &a.state),
        ("zipcode", &a.zipcode),
        ("country", &a.country),
    ] {
        if v.trim().is_empty() {
            return Err(ApiError::invalid(
                &format!("billing_address.{field}"),
                "required",
            ));
        }
    }
    Ok(a)
}

/// The stored billing address when the billing service is enabled.
fn billing(c: &Connection, org_id: &str) -> ApiResult<Option<BillingAddress>> {
    let blob: Option<Vec<u8>> = row(
        c,
        "SELECT billing_address FROM white_label WHERE org_id = ?1 AND billing_enabled = 1",
        [org_id],
        |r| r.get(0),
    )
    .optional()?
    .flatten();
    blob.map(|b| BillingAddress::decode(b.as_slice()))
        .transpose()
        .map_err(|e| ApiError::Internal(format!("stored billing address: {e}")))
}

fn not_enabled(org_id: &str) -> ApiError {
    ApiError::FailedPrecondition(format!(
        "the billing service of organization {org_id:?} is not enabled; call EnableBillingService first"
    ))
}

pub fn enable_billing_service(
    api: &Api,
    who: &Principal,
    req: EnableBillingServiceRequest,
) -> ApiResult<EnableBillingServiceResponse> {
    let address = check_address(req.billing_address.as_ref())?;
    api.store.tx(|tx| {
        scope(tx, who, Perm::WriteOrganization, &req.org_id)?;
        if billing(tx, &req.org_id)?.is_some() {
            return Err(ApiError::AlreadyExists(format!(
                "the billing service of organization {:?} is enabled already; UpdateBillingService changes its address",
                req.org_id
            )));
        }
        ensure_row(tx, &req.org_id)?;
        exec(
            tx,
            "UPDATE white_label SET billing_enabled = 1, billing_address = ?2 WHERE org_id = ?1",
            params![req.org_id, address.encode_to_vec()],
        )?;
        Ok(EnableBillingServiceResponse {})
    })
}

pub fn update_billing_service(
    api: &Api,
    who: &Principal,
    req: UpdateBillingServiceRequest,
) -> ApiResult<UpdateBillingServiceResponse> {
    let address = check_address(req.billing_address.as_ref())?;
    api.store.tx(|tx| {
        scope(tx, who, Perm::WriteOrganization, &req.org_id)?;
        if billing(tx, &req.org_id)?.is_none() {
            return Err(not_enabled(&req.org_id));
        }
        exec(
            tx,
            "UPDATE white_label SET billing_address = ?2 WHERE org_id = ?1",
            params![req.org_id, address.encode_to_vec()],
        )?;
        Ok(UpdateBillingServiceResponse {})
    })
}

pub fn disable_billing_service(
    api: &Api,
    who: &Principal,
    req: DisableBillingServiceRequest,
) -> ApiResult<DisableBillingServiceResponse> {
    api.store.tx(|tx| {
        scope(tx, who, Perm::WriteOrganization, &req.org_id)?;
        if billing(tx, &req.org_id)?.is_none() {
            return Err(not_enabled(&req.org_id));
        }
        exec(
            tx,
            "UPDATE white_label SET billing_enabled = 0, billing_address = NULL WHERE org_id = ?1",
            [&req.org_id],
        )?;
        Ok(DisableBillingServiceResponse {})
    })
}

/// The stored settings; no billing dashboard exists locally, so its URL is empty.
pub fn get_billing_service_config(
    api: &Api,
    who: &Principal,
    req: GetBillingServiceConfigRequest,
) -> ApiResult<GetBillingServiceConfigResponse> {
    api.store.read(|c| {
        scope(c, who, Perm::ReadOrganization, &req.org_id)?;
        Ok(GetBillingServiceConfigResponse {
            billing_address: billing(c, &req.org_id)?,
            support_email: support_email(c, &req.org_id)?,
            logo_url: logo_url(c, &req.org_id)?,
            billing_dashboard_url: String::new(),
        })
    })
}

fn auth_enabled(c: &Connection, org_id: &str) -> ApiResult<bool> {
    Ok(row(
        c,
        "SELECT auth_service_enabled FROM white_label WHERE org_id = ?1",
        [org_id],
        |r| r.get::<_, bool>(0),
    )
    .optional()?
    .unwrap_or(false))
}

/// Records that the organization's auth service is on; no login page is served locally.
pub fn enable_auth_service(
    api: &Api,
    who: &Principal,
    req: EnableAuthServiceRequest,
) -> ApiResult<EnableAuthServiceResponse> {
    api.store.tx(|tx| {
        scope(tx, who, Perm::WriteOrganization, &req.org_id)?;
        if auth_enabled(tx, &req.org_id)? {
            return Err(ApiError::AlreadyExists(format!(
                "the auth service of organization {:?} is enabled already",
                req.org_id
            )));
        }
        ensure_row(tx, &req.org_id)?;
        exec(
            tx,
            "UPDATE white_label SET auth_service_enabled = 1 WHERE org_id = ?1",
            [&req.org_id],
        )?;
        Ok(EnableAuthServiceResponse {})
    })
}

pub fn disable_auth_service(
    api: &Api,
    who: &Principal,
    req: DisableAuthServiceRequest,
) -> ApiResult<DisableAuthServiceResponse> {
    api.store.tx(|tx| {
        scope(tx, who, Perm::WriteOrganization, &req.org_id)?;
        if !auth_enabled(tx, &req.org_id)? {
            return Err(ApiError::FailedPrecondition(format!(
                "the auth service of organization {:?} is not enabled; call EnableAuthService first",
                req.org_id
            )));
        }
        exec(
            tx,
            "UPDATE white_label SET auth_service_enabled = 0 WHERE org_id = ?1",
            [&req.org_id],
        )?;
        Ok(DisableAuthServiceResponse {})
    })
}
