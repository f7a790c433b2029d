//! Valid requests for the registry and white-label RPCs (see fixture::requests). `$module` is a
//! private module of the organization: the registry item of type module the fleet already has.
//! The billing rows run in this order: enable, update, read, disable.

use serde_json::{Value, json};

pub fn requests() -> Vec<(&'static str, &'static str, Value)> {
    let app = |m: &'static str, v: Value| ("AppService", m, v);
    let address = json!({"address_line_1": "1 Main St", "city": "Springfield", "state": "IL",
                         "zipcode": "62701", "country": "US"});
    vec![
        app("GetRegistryItem", json!({"item_id": "$module"})),
        app(
            "CreateRegistryItem",
            json!({"organization_id": "$org", "name": "$fresh", "type": "PACKAGE_TYPE_ML_MODEL"}),
        ),
        app(
            "UpdateRegistryItem",
            json!({"item_id": "$module", "type": "PACKAGE_TYPE_MODULE", "description": "d", "visibility": "VISIBILITY_PRIVATE"}),
        ),
        app("ListRegistryItems", json!({"organization_id": "$org"})),
        app("DeleteRegistryItem", json!({"item_id": "$module"})),
        app(
            "RenameRegistryItem",
            json!({"item_id": "$module", "new_name": "$fresh"}),
        ),
        app(
            "TransferRegistryItem",
            json!({"item_id": "$module", "new_public_namespace": "$org"}),
        ),
        app(
            "DeprecateRegistryItem",
            json!({"item_id": "$module", "message": "use another"}),
        ),
        app("UndeprecateRegistryItem", json!({"item_id": "$module"})),
        app(
            "DeprecateRegistryItemVersion",
            json!({"item_id": "$module", "version": "1.0.0", "message": "has a bug"}),
        ),
        app(
            "UndeprecateRegistryItemVersion",
            json!({"item_id": "$module", "version": "1.0.0"}),
        ),
        app(
            "OrganizationSetSupportEmail",
            json!({"org_id": "$org", "email": "help@example.com"}),
        ),
        app("OrganizationGetSupportEmail", json!({"org_id": "$org"})),
        // The 8-byte PNG signature, base64 as JSON carries bytes.
        app(
            "OrganizationSetLogo",
            json!({"org_id": "$org", "logo": "iVBORw0KGgo="}),
        ),
        app("OrganizationGetLogo", json!({"org_id": "$org"})),
        app(
            "EnableBillingService",
            json!({"org_id": "$org", "billing_address": address.clone()}),
        ),
        app(
            "UpdateBillingService",
            json!({"org_id": "$org", "billing_address": address}),
        ),
        app("GetBillingServiceConfig", json!({"org_id": "$org"})),
        app("DisableBillingService", json!({"org_id": "$org"})),
        app("EnableAuthService", json!({"org_id": "$org"})),
        app("DisableAuthService", json!({"org_id": "$org"})),
        // Firebase config first: device tokens belong to its app.
        app(
            "SetFirebaseConfig",
            json!({"org_id": "$org", "app_id": "fleet-app", "config_json": "{\"type\": \"service_account\"}"}),
        ),
        app("GetFirebaseConfig", json!({"org_id": "$org"})),
        app(
            "UploadDevicePushToken",
            json!({"app_id": "fleet-app", "device_token": "tok", "device_uuid": "phone-1"}),
        ),
        app("GetDevicePushTokens", json!({"app_id": "fleet-app"})),
        app(
            "DeleteDevicePushToken",
            json!({"app_id": "fleet-app", "device_uuid": "phone-1"}),
        ),
        app(
            "DeleteFirebaseConfig",
            json!({"org_id": "$org", "app_id": "fleet-app"}),
        ),
    ]
}
