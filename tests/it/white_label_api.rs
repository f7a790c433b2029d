//! White-label settings: support email, logo and billing-service config are stored and
//! returned (nothing is sent anywhere), per organization, owners writing and members reading.

use fleetsh::proto::viam::app::v1::*;
use tonic::Code;

use crate::harness::{App, TestServer, assert_status};
use crate::setup::{key_in, second_org};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\nrest-of-image";

fn address(city: &str) -> BillingAddress {
    BillingAddress {
        address_line_1: "1 Main St".into(),
        address_line_2: None,
        city: city.into(),
        state: "IL".into(),
        zipcode: "62701".into(),
        country: "US".into(),
    }
}

async fn config(
    app: &mut App,
    org: &str,
) -> Result<GetBillingServiceConfigResponse, tonic::Status> {
    let req = GetBillingServiceConfigRequest { org_id: org.into() };
    Ok(app.get_billing_service_config(req).await?.into_inner())
}

#[tokio::test]
async fn support_email_and_logo_round_trip_per_organization() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let get_email = |org: &str| OrganizationGetSupportEmailRequest { org_id: org.into() };
    let empty = app
        .organization_get_support_email(get_email(&org))
        .await
        .unwrap();
    assert_eq!(empty.into_inner().email, "");
    let set = OrganizationSetSupportEmailRequest {
        org_id: org.clone(),
        email: " Help@Example.com ".into(),
    };
    app.organization_set_support_email(set).await.unwrap();
    let got = app
        .organization_get_support_email(get_email(&org))
        .await
        .unwrap();
    assert_eq!(got.into_inner().email, "help@example.com");
    let bad = OrganizationSetSupportEmailRequest {
        org_id: org.clone(),
        email: "not an email".into(),
    };
    assert_status(
        app.organization_set_support_email(bad).await,
        Code::InvalidArgument,
        "email",
    );

    let get_logo = |org: &str| OrganizationGetLogoRequest { org_id: org.into() };
    assert_eq!(
        app.organization_get_logo(get_logo(&org))
            .await
            .unwrap()
            .into_inner()
            .url,
        ""
    );
    let set = OrganizationSetLogoRequest {
        org_id: org.clone(),
        logo: PNG.to_vec(),
    };
    app.organization_set_logo(set).await.unwrap();
    let url = app
        .organization_get_logo(get_logo(&org))
        .await
        .unwrap()
        .into_inner()
        .url;
    let b64 = url.strip_prefix("data:image/png;base64,").expect(&url);
    use base64::Engine;
    let back = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(back, PNG);
    let jpeg = OrganizationSetLogoRequest {
        org_id: org.clone(),
        logo: b"\xff\xd8\xff\xe0".to_vec(),
    };
    assert_status(
        app.organization_set_logo(jpeg).await,
        Code::InvalidArgument,
        "PNG",
    );

    // Another organization has its own (none), and may neither read nor write these.
    let b = second_org(&mut app).await;
    let got = app
        .organization_get_support_email(get_email(&b))
        .await
        .unwrap();
    assert_eq!(got.into_inner().email, "");
    let mut other = key_in(&s, &b, "owner").await;
    assert_status(
        other.organization_get_support_email(get_email(&org)).await,
        Code::PermissionDenied,
        &org,
    );
    let mut operator = key_in(&s, &org, "operator").await;
    let set = OrganizationSetSupportEmailRequest {
        org_id: org.clone(),
        email: "x@example.com".into(),
    };
    assert_status(
        operator.organization_set_support_email(set).await,
        Code::PermissionDenied,
        &org,
    );
    let got = operator
        .organization_get_support_email(get_email(&org))
        .await
        .unwrap();
    assert_eq!(got.into_inner().email, "help@example.com");
}

#[tokio::test]
async fn the_billing_service_is_enabled_updated_read_and_disabled() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let c = config(&mut app, &org).await.unwrap();
    assert!(c.billing_address.is_none() && c.billing_dashboard_url.is_empty());
    let update = |city: &str| UpdateBillingServiceRequest {
        org_id: org.clone(),
        billing_address: Some(address(city)),
    };
    assert_status(
        app.update_billing_service(update("Chicago")).await,
        Code::FailedPrecondition,
        "EnableBillingService",
    );
    let enable = EnableBillingServiceRequest {
        org_id: org.clone(),
        billing_address: Some(address("Springfield")),
    };
    app.enable_billing_service(enable.clone()).await.unwrap();
    assert_status(
        app.enable_billing_service(enable).await,
        Code::AlreadyExists,
        "UpdateBillingService",
    );
    assert_eq!(
        config(&mut app, &org).await.unwrap().billing_address,
        Some(address("Springfield"))
    );
    app.update_billing_service(update("Chicago")).await.unwrap();
    let set = OrganizationSetSupportEmailRequest {
        org_id: org.clone(),
        email: "billing@example.com".into(),
    };
    app.organization_set_support_email(set).await.unwrap();
    let c = config(&mut app, &org).await.unwrap();
    assert_eq!(c.billing_address, Some(address("Chicago")));
    assert_eq!(c.support_email, "billing@example.com");

    let missing_city = EnableBillingServiceRequest {
        org_id: org.clone(),
        billing_address: Some(address(" ")),
    };
    assert_status(
        app.enable_billing_service(missing_city).await,
        Code::InvalidArgument,
        "billing_address.city",
    );
    let disable = DisableBillingServiceRequest {
        org_id: org.clone(),
    };
    app.disable_billing_service(disable.clone()).await.unwrap();
    assert!(
        config(&mut app, &org)
            .await
            .unwrap()
            .billing_address
            .is_none()
    );
    assert_status(
        app.disable_billing_service(disable).await,
        Code::FailedPrecondition,
        "not enabled",
    );
}

#[tokio::test]
async fn the_auth_service_is_enabled_once_and_disabled_once() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let disable = DisableAuthServiceRequest {
        org_id: org.clone(),
    };
    assert_status(
        app.disable_auth_service(disable.clone()).await,
        Code::FailedPrecondition,
        "EnableAuthService",
    );
    let enable = EnableAuthServiceRequest {
        org_id: org.clone(),
    };
    app.enable_auth_service(enable.clone()).await.unwrap();
    assert_status(
        app.enable_auth_service(enable.clone()).await,
        Code::AlreadyExists,
        "enabled already",
    );
    let mut operator = key_in(&s, &org, "operator").await;
    assert_status(
        operator.disable_auth_service(disable.clone()).await,
        Code::PermissionDenied,
        &org,
    );
    app.disable_auth_service(disable).await.unwrap();
    app.enable_auth_service(enable).await.unwrap();
}
