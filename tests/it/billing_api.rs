//! BillingService in the local fleet (issue 12): nothing is charged, so usage lists what the
//! organization holds at zero cost, there are no invoices, charges are refused, a tier is a
//! stored label, a payment-required email lands in the outbox; owners only.

use fleetsh::proto::viam::app::v1::billing_service_client::BillingServiceClient;
use fleetsh::proto::viam::app::v1::*;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::harness::{Bearer, TestServer, assert_status};
use crate::setup::{bearer, org_token, owner_token};

pub type Billing = BillingServiceClient<InterceptedService<Channel, Bearer>>;

pub fn billing_client(channel: &Channel, token: &str) -> Billing {
    BillingServiceClient::with_interceptor(channel.clone(), bearer(token))
}

async fn owner(s: &TestServer) -> Billing {
    billing_client(&s.channel, &owner_token(s).await)
}

fn usage_types(u: &GetCurrentMonthUsageResponse) -> Vec<i32> {
    let by_source = &u.resource_usage_costs_by_source;
    assert_eq!(by_source.len(), 1, "{u:?}");
    let costs = by_source[0].resource_usage_costs.as_ref().unwrap();
    assert_eq!(
        (
            costs.total_with_discount,
            costs.total_without_discount,
            costs.discount
        ),
        (0.0, 0.0, 0.0)
    );
    assert!(costs.usage_costs.iter().all(|c| c.cost == 0.0), "{u:?}");
    costs.usage_costs.iter().map(|c| c.resource_type).collect()
}

#[tokio::test]
async fn usage_lists_what_the_organization_holds_at_zero_cost() {
    let s = TestServer::start().await;
    let mut b = owner(&s).await;
    let org = s.org_id().to_string();
    let req = || GetCurrentMonthUsageRequest {
        org_id: org.clone(),
    };
    let empty = b.get_current_month_usage(req()).await.unwrap().into_inner();
    assert_eq!(usage_types(&empty), Vec::<i32>::new());
    assert_eq!(empty.subtotal, 0.0);
    assert_eq!(empty.resource_usage_costs_by_source[0].tier_name, "free");
    let (start, end) = (empty.start_date.unwrap(), empty.end_date.unwrap());
    assert!(start.seconds <= end.seconds && end.seconds - start.seconds <= 31 * 86_400);
    assert_eq!(
        start.seconds % 86_400,
        0,
        "the month starts at midnight UTC"
    );

    let mut app = s.owner().await;
    app.new_robot(NewRobotRequest {
        name: "m1".into(),
        location: s.location_id().into(),
    })
    .await
    .unwrap();
    let used = b.get_current_month_usage(req()).await.unwrap().into_inner();
    assert_eq!(
        usage_types(&used),
        vec![UsageCostType::PerMachine as i32],
        "a machine is held, at no cost"
    );
}

#[tokio::test]
async fn tiers_are_stored_labels_and_invoices_do_not_exist() {
    let s = TestServer::start().await;
    let mut b = owner(&s).await;
    let org = s.org_id().to_string();
    let tiers = b
        .get_available_billing_tiers(GetAvailableBillingTiersRequest {})
        .await
        .unwrap()
        .into_inner()
        .tiers;
    assert_eq!(tiers, ["free", "pro", "enterprise"]);
    let info = |org: &str| GetOrgBillingInformationRequest { org_id: org.into() };
    let before = b.get_org_billing_information(info(&org)).await.unwrap();
    let before = before.into_inner();
    assert_eq!(before.billing_tier.as_deref(), Some("free"));
    assert_eq!(before.billing_email, "");
    assert!(before.method.is_none() && before.method_us_bank_account.is_none());

    let set = |tier: &str| UpdateOrganizationBillingTierRequest {
        organization_id: org.clone(),
        billing_tier: tier.into(),
    };
    b.update_organization_billing_tier(set("pro"))
        .await
        .unwrap();
    let after = b.get_org_billing_information(info(&org)).await.unwrap();
    assert_eq!(after.into_inner().billing_tier.as_deref(), Some("pro"));
    assert_status(
        b.update_organization_billing_tier(set("platinum")).await,
        Code::InvalidArgument,
        "GetAvailableBillingTiers",
    );

    let summary = b
        .get_invoices_summary(GetInvoicesSummaryRequest {
            org_id: org.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(summary.invoices.is_empty());
    assert_eq!(summary.outstanding_balance, 0.0);
    let pdf = b
        .get_invoice_pdf(GetInvoicePdfRequest {
            id: "inv-1".into(),
            org_id: org.clone(),
        })
        .await;
    let err = match pdf {
        Ok(stream) => stream.into_inner().next().await.unwrap().unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert!(err.message().contains("no invoices"), "{err:?}");
}

#[tokio::test]
async fn charges_are_refused_and_nothing_is_invoiced() {
    let s = TestServer::start().await;
    let mut b = owner(&s).await;
    let org = s.org_id().to_string();
    let charge = ChargeOrganizationRequest {
        org_id_to_charge: org.clone(),
        subtotal: 10.0,
        tax: 1.0,
        ..Default::default()
    };
    assert_status(
        b.charge_organization(charge.clone()).await,
        Code::FailedPrecondition,
        "charges no one",
    );
    let negative = ChargeOrganizationRequest {
        subtotal: -1.0,
        ..charge
    };
    assert_status(
        b.charge_organization(negative).await,
        Code::InvalidArgument,
        "subtotal",
    );
    let invoice = CreateInvoiceAndChargeImmediatelyRequest {
        org_id_to_charge: org.clone(),
        amount: 5.0,
        ..Default::default()
    };
    assert_status(
        b.create_invoice_and_charge_immediately(invoice).await,
        Code::FailedPrecondition,
        "was not charged",
    );
    let summary = b
        .get_invoices_summary(GetInvoicesSummaryRequest { org_id: org })
        .await
        .unwrap();
    assert!(summary.into_inner().invoices.is_empty());
}

#[tokio::test]
async fn a_location_is_paid_for_by_its_organization_until_another_is_chosen() {
    let s = TestServer::start().await;
    let mut b = owner(&s).await;
    let mut app = s.owner().await;
    let other = crate::setup::second_org(&mut app).await;
    let loc = s.location_id().to_string();
    let get = || GetLocationBillingOrganizationRequest {
        location_id: loc.clone(),
    };
    let own = b.get_location_billing_organization(get()).await.unwrap();
    assert_eq!(own.into_inner().billing_organization_id, s.org_id());
    b.update_location_billing_organization(UpdateLocationBillingOrganizationRequest {
        location_id: loc.clone(),
        billing_organization_id: other.clone(),
    })
    .await
    .unwrap();
    let chosen = b.get_location_billing_organization(get()).await.unwrap();
    assert_eq!(chosen.into_inner().billing_organization_id, other);
    assert_status(
        b.update_location_billing_organization(UpdateLocationBillingOrganizationRequest {
            location_id: loc,
            billing_organization_id: "no-such-org".into(),
        })
        .await,
        Code::NotFound,
        "no-such-org",
    );
}

#[tokio::test]
async fn a_payment_required_email_goes_to_the_outbox_unsent() {
    let s = TestServer::start().await;
    let mut b = owner(&s).await;
    let mut app = s.owner().await;
    let customer = crate::setup::second_org(&mut app).await;
    b.send_payment_required_email(SendPaymentRequiredEmailRequest {
        customer_org_id: customer.clone(),
        billing_owner_org_id: s.org_id().into(),
    })
    .await
    .unwrap();
    let outbox = std::fs::read_to_string(s.dir.path().join("outbox.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = outbox
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mail = lines
        .iter()
        .find(|m| m["kind"] == "payment_required")
        .unwrap_or_else(|| panic!("no payment-required line in {outbox}"));
    assert_eq!(mail["customer_org_id"], customer.as_str());
    assert_eq!(mail["billing_owner_org_id"], s.org_id());
    assert!(
        mail["subject"]
            .as_str()
            .unwrap()
            .contains("Payment required")
    );
    assert_status(
        b.send_payment_required_email(SendPaymentRequiredEmailRequest {
            customer_org_id: "no-such-org".into(),
            billing_owner_org_id: s.org_id().into(),
        })
        .await,
        Code::NotFound,
        "no-such-org",
    );
}

#[tokio::test]
async fn billing_is_an_owners_business() {
    let s = TestServer::start().await;
    let org = s.org_id().to_string();
    let token = org_token(&s, &org, "operator").await;
    let mut op = billing_client(&s.channel, &token);
    assert_status(
        op.get_current_month_usage(GetCurrentMonthUsageRequest {
            org_id: org.clone(),
        })
        .await,
        Code::PermissionDenied,
        "write_organization",
    );
    assert_status(
        op.update_organization_billing_tier(UpdateOrganizationBillingTierRequest {
            organization_id: org.clone(),
            billing_tier: "pro".into(),
        })
        .await,
        Code::PermissionDenied,
        "write_organization",
    );
    assert_status(
        owner(&s)
            .await
            .get_org_billing_information(GetOrgBillingInformationRequest { org_id: "".into() })
            .await,
        Code::InvalidArgument,
        "org_id",
    );
}
