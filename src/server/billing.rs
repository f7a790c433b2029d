//! `viam.app.v1.BillingService`. The local fleet charges no one: usage lists what an
//! organization holds at a cost of zero, no invoice ever exists, a charge is refused, a tier is
//! a stored label, and a payment-required email goes to the outbox (`outbox.jsonl`), unsent.
//! Billing is an organization owner's, to read as well as to change.

use std::io::Write;

use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::call::{ServerStream, rpc_table};
use super::error::{ApiError, ApiResult, required};
use super::invites::OUTBOX_FILE;
use super::orgs::load_org;
use super::store::{exec, now, row, to_ts};
use crate::proto::viam::app::v1::billing_service_server::BillingService;
use crate::proto::viam::app::v1::*;

rpc_table! {
    impl BillingService for BillingSvc;
    unary {
        get_current_month_usage(GetCurrentMonthUsageRequest) -> GetCurrentMonthUsageResponse = get_current_month_usage;
        get_org_billing_information(GetOrgBillingInformationRequest) -> GetOrgBillingInformationResponse = get_org_billing_information;
        get_invoices_summary(GetInvoicesSummaryRequest) -> GetInvoicesSummaryResponse = get_invoices_summary;
        send_payment_required_email(SendPaymentRequiredEmailRequest) -> SendPaymentRequiredEmailResponse = send_payment_required_email;
        get_available_billing_tiers(GetAvailableBillingTiersRequest) -> GetAvailableBillingTiersResponse = get_available_billing_tiers;
        update_organization_billing_tier(UpdateOrganizationBillingTierRequest) -> UpdateOrganizationBillingTierResponse = update_organization_billing_tier;
        get_location_billing_organization(GetLocationBillingOrganizationRequest) -> GetLocationBillingOrganizationResponse = get_location_billing_organization;
        update_location_billing_organization(UpdateLocationBillingOrganizationRequest) -> UpdateLocationBillingOrganizationResponse = update_location_billing_organization;
        charge_organization(ChargeOrganizationRequest) -> ChargeOrganizationResponse = charge_organization;
        create_invoice_and_charge_immediately(CreateInvoiceAndChargeImmediatelyRequest) -> CreateInvoiceAndChargeImmediatelyResponse = create_invoice_and_charge_immediately;
    }
    server_streaming {
        get_invoice_pdf(GetInvoicePdfRequest) -> stream GetInvoicePdfResponse = get_invoice_pdf;
    }
    client_streaming {}
}

/// The tiers an organization can be put on: labels only, none costs anything here.
pub const TIERS: [&str; 3] = ["free", "pro", "enterprise"];
/// The tier of an organization nobody moved.
const DEFAULT_TIER: &str = "free";

/// Checks that the caller owns the organization `org_id` (named `field` in messages).
fn owner_of(c: &Connection, who: &Principal, field: &str, org_id: &str) -> ApiResult<()> {
    let s = Scope::organization(c, org_id).map_err(|e| match e {
        ApiError::InvalidArgument(_) => ApiError::invalid(field, "required"),
        e => e,
    })?;
    who.require(Perm::WriteOrganization, &s)
}

fn tier(c: &Connection, org_id: &str) -> ApiResult<String> {
    Ok(row(
        c,
        "SELECT billing_tier FROM org_billing WHERE org_id = ?1",
        [org_id],
        |r| r.get::<_, Option<String>>(0),
    )
    .optional()?
    .flatten()
    .unwrap_or_else(|| DEFAULT_TIER.into()))
}

/// Whether `sql` (one `?1`, the organization) finds a row.
fn holds(c: &Connection, sql: &str, org_id: &str) -> ApiResult<bool> {
    Ok(row(c, sql, [org_id], |_| Ok(())).optional()?.is_some())
}

/// The resource types the organization really holds, each at the zero it costs here.
fn usage_costs(c: &Connection, org_id: &str) -> ApiResult<Vec<UsageCost>> {
    let kinds = [
        (
            UsageCostType::PerMachine,
            "SELECT 1 FROM robots r JOIN locations l ON l.id = r.location_id
             WHERE l.org_id = ?1 LIMIT 1",
        ),
        (
            UsageCostType::TabularDataCloudStorage,
            "SELECT 1 FROM data_readings WHERE org_id = ?1 LIMIT 1",
        ),
        (
            UsageCostType::BinaryDataCloudStorage,
            "SELECT 1 FROM data_binary WHERE org_id = ?1 LIMIT 1",
        ),
        (
            UsageCostType::LogsCloudStorage,
            "SELECT 1 FROM logs g JOIN parts p ON p.id = g.part_id JOIN robots r ON r.id = p.robot_id
             JOIN locations l ON l.id = r.location_id WHERE l.org_id = ?1 LIMIT 1",
        ),
        (
            UsageCostType::TrainingLogsCloudStorage,
            "SELECT 1 FROM training_job_logs g JOIN training_jobs j ON j.id = g.job_id
             WHERE j.org_id = ?1 LIMIT 1",
        ),
    ];
    let mut out = Vec::new();
    for (kind, sql) in kinds {
        if holds(c, sql, org_id)? {
            out.push(UsageCost {
                resource_type: kind as i32,
                cost: 0.0,
            });
        }
    }
    Ok(out)
}

/// Midnight UTC on the first of the month of `nanos`.
fn month_start(nanos: i64) -> ApiResult<i64> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .map_err(|e| ApiError::Internal(format!("clock: {e}")))?;
    let first = t
        .replace_day(1)
        .map_err(|e| ApiError::Internal(format!("clock: {e}")))?
        .replace_time(time::Time::MIDNIGHT);
    Ok(first.unix_timestamp() * 1_000_000_000)
}

/// This month so far: what the organization holds, every cost and total zero (every deprecated
/// per-type field too), from the first of the month to now.
pub fn get_current_month_usage(
    api: &Api,
    who: &Principal,
    req: GetCurrentMonthUsageRequest,
) -> ApiResult<GetCurrentMonthUsageResponse> {
    api.store.read(|c| {
        owner_of(c, who, "org_id", &req.org_id)?;
        let end = now();
        Ok(GetCurrentMonthUsageResponse {
            start_date: Some(to_ts(month_start(end)?)),
            end_date: Some(to_ts(end)),
            resource_usage_costs_by_source: vec![ResourceUsageCostsBySource {
                source_type: SourceType::Org as i32,
                resource_usage_costs: Some(ResourceUsageCosts {
                    usage_costs: usage_costs(c, &req.org_id)?,
                    discount: 0.0,
                    total_with_discount: 0.0,
                    total_without_discount: 0.0,
                }),
                tier_name: tier(c, &req.org_id)?,
            }],
            ..Default::default()
        })
    })
}

/// No payment method and no billing email exist locally; the tier is the stored one.
pub fn get_org_billing_information(
    api: &Api,
    who: &Principal,
    req: GetOrgBillingInformationRequest,
) -> ApiResult<GetOrgBillingInformationResponse> {
    api.store.read(|c| {
        owner_of(c, who, "org_id", &req.org_id)?;
        Ok(GetOrgBillingInformationResponse {
            r#type: PaymentMethodType::Unspecified as i32,
            billing_email: String::new(),
            method: None,
            billing_tier: Some(tier(c, &req.org_id)?),
            method_us_bank_account: None,
        })
    })
}

/// Nothing was ever invoiced: no invoices, nothing owed.
pub fn get_invoices_summary(
    api: &Api,
    who: &Principal,
    req: GetInvoicesSummaryRequest,
) -> ApiResult<GetInvoicesSummaryResponse> {
    api.store.read(|c| {
        owner_of(c, who, "org_id", &req.org_id)?;
        Ok(GetInvoicesSummaryResponse {
            outstanding_balance: 0.0,
            invoices: vec![],
        })
    })
}

/// Every id is unknown: the local fleet has no invoices.
pub fn get_invoice_pdf(
    api: &std::sync::Arc<Api>,
    who: &Principal,
    req: GetInvoicePdfRequest,
) -> ApiResult<ServerStream<GetInvoicePdfResponse>> {
    let id = required("id", &req.id)?.to_string();
    api.store
        .read(|c| owner_of(c, who, "org_id", &req.org_id))?;
    Err(ApiError::NotFound(format!(
        "invoice {id:?} not found: the local fleet bills no one, so it has no invoices"
    )))
}

/// Appends the email to the outbox for a person or a script to deliver; sends nothing.
pub fn send_payment_required_email(
    api: &Api,
    who: &Principal,
    req: SendPaymentRequiredEmailRequest,
) -> ApiResult<SendPaymentRequiredEmailResponse> {
    let (customer, to) = api.store.read(|c| {
        owner_of(c, who, "billing_owner_org_id", &req.billing_owner_org_id)?;
        required("customer_org_id", &req.customer_org_id)?;
        // Another organization's existence is not the caller's to learn.
        if !who.in_org(&req.customer_org_id) {
            return Err(ApiError::not_found("organization", &req.customer_org_id));
        }
        let customer = load_org(c, &req.customer_org_id)?;
        let mut stmt = c.prepare_cached(
            "SELECT u.email FROM members m JOIN users u ON u.id = m.user_id
             WHERE m.org_id = ?1 ORDER BY u.email",
        )?;
        let to = stmt
            .query_map([&req.customer_org_id], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok((customer, to))
    })?;
    let line = serde_json::json!({
        "kind": "payment_required",
        "to": to.join(", "),
        "customer_org_id": req.customer_org_id,
        "billing_owner_org_id": req.billing_owner_org_id,
        "subject": format!("Payment required for the organization {}", customer.name),
        "body": format!(
            "The organization {} (id {}) must pay its billing owner (organization {}).",
            customer.name, customer.id, req.billing_owner_org_id
        ),
    });
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(api.data_dir.join(OUTBOX_FILE))?;
    // One write per line so concurrent appends never interleave within a message.
    f.write_all(format!("{line}\n").as_bytes())?;
    Ok(SendPaymentRequiredEmailResponse {})
}

pub fn get_available_billing_tiers(
    _api: &Api,
    _who: &Principal,
    _req: GetAvailableBillingTiersRequest,
) -> ApiResult<GetAvailableBillingTiersResponse> {
    Ok(GetAvailableBillingTiersResponse {
        tiers: TIERS.iter().map(|t| t.to_string()).collect(),
    })
}

pub fn update_organization_billing_tier(
    api: &Api,
    who: &Principal,
    req: UpdateOrganizationBillingTierRequest,
) -> ApiResult<UpdateOrganizationBillingTierResponse> {
    let tier = required("billing_tier", &req.billing_tier)?;
    if !TIERS.contains(&tier) {
        return Err(ApiError::invalid(
            "billing_tier",
            format!(
                "{tier:?} is not one of {}; GetAvailableBillingTiers lists them",
                TIERS.join(", ")
            ),
        ));
    }
    api.store.tx(|tx| {
        owner_of(tx, who, "organization_id", &req.organization_id)?;
        exec(
            tx,
            "INSERT INTO org_billing(org_id, billing_tier) VALUES (?1, ?2)
             ON CONFLICT(org_id) DO UPDATE SET billing_tier = excluded.billing_tier",
            params![req.organization_id, tier],
        )?;
        Ok(UpdateOrganizationBillingTierResponse {})
    })
}

/// The location's organization, checked to be owned by the caller.
fn location_org(c: &Connection, who: &Principal, location_id: &str) -> ApiResult<String> {
    required("location_id", location_id)?;
    let org_id = Scope::location(c, location_id)?.org_id;
    who.require(Perm::WriteOrganization, &Scope::stored_org(&org_id))?;
    Ok(org_id)
}

/// The organization chosen to pay for the location, else its own.
pub fn get_location_billing_organization(
    api: &Api,
    who: &Principal,
    req: GetLocationBillingOrganizationRequest,
) -> ApiResult<GetLocationBillingOrganizationResponse> {
    api.store.read(|c| {
        let own = location_org(c, who, &req.location_id)?;
        let chosen: Option<String> = row(
            c,
            "SELECT billing_org_id FROM location_billing WHERE location_id = ?1",
            [&req.location_id],
            |r| r.get(0),
        )
        .optional()?;
        Ok(GetLocationBillingOrganizationResponse {
            billing_organization_id: chosen.unwrap_or(own),
        })
    })
}

/// Needs ownership of the location's organization and of the one that is to pay.
pub fn update_location_billing_organization(
    api: &Api,
    who: &Principal,
    req: UpdateLocationBillingOrganizationRequest,
) -> ApiResult<UpdateLocationBillingOrganizationResponse> {
    api.store.tx(|tx| {
        location_org(tx, who, &req.location_id)?;
        owner_of(
            tx,
            who,
            "billing_organization_id",
            &req.billing_organization_id,
        )?;
        exec(
            tx,
            "INSERT INTO location_billing(location_id, billing_org_id) VALUES (?1, ?2)
             ON CONFLICT(location_id) DO UPDATE SET billing_org_id = excluded.billing_org_id",
            params![req.location_id, req.billing_organization_id],
        )?;
        Ok(UpdateLocationBillingOrganizationResponse {})
    })
}

/// An amount of money: finite and not negative.
fn amount(field: &str, v: f64) -> ApiResult<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("{v} is not an amount (finite, 0 or more)"),
        ))
    }
}

/// The refusal of every charge: nothing is charged and no invoice is made.
fn no_charges(org_id: &str) -> ApiError {
    ApiError::FailedPrecondition(format!(
        "organization {org_id:?} was not charged: the local fleet has no payment methods and charges no one"
    ))
}

pub fn charge_organization(
    api: &Api,
    who: &Principal,
    req: ChargeOrganizationRequest,
) -> ApiResult<ChargeOrganizationResponse> {
    amount("subtotal", req.subtotal)?;
    amount("tax", req.tax)?;
    api.store
        .read(|c| owner_of(c, who, "org_id_to_charge", &req.org_id_to_charge))?;
    Err(no_charges(&req.org_id_to_charge))
}

pub fn create_invoice_and_charge_immediately(
    api: &Api,
    who: &Principal,
    req: CreateInvoiceAndChargeImmediatelyRequest,
) -> ApiResult<CreateInvoiceAndChargeImmediatelyResponse> {
    amount("amount", req.amount)?;
    api.store
        .read(|c| owner_of(c, who, "org_id_to_charge", &req.org_id_to_charge))?;
    Err(no_charges(&req.org_id_to_charge))
}
