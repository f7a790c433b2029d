//! Valid requests for the OAuth-app RPCs (see fixture::requests). `$oauth_app` is an app of
//! the organization made by `populate`, `$app` the hosted app its module declares; DeleteOAuthApp comes last as it consumes it.

use serde_json::{Value, json};

/// A complete configuration: every choice made, one grant, one redirect URI.
pub fn config() -> Value {
    json!({"client_authentication": "CLIENT_AUTHENTICATION_REQUIRED", "pkce": "PKCE_REQUIRED",
           "url_validation": "URL_VALIDATION_EXACT_MATCH",
           "origin_uris": ["https://example.com"], "redirect_uris": ["https://example.com/cb"],
           "logout_uri": "https://example.com/logout",
           "enabled_grants": ["ENABLED_GRANT_AUTHORIZATION_CODE"]})
}

pub fn requests() -> Vec<(&'static str, &'static str, Value)> {
    let app = |m: &'static str, v: Value| ("AppService", m, v);
    vec![
        app(
            "CreateOAuthApp",
            json!({"org_id": "$org", "client_name": "portal", "oauth_config": config()}),
        ),
        app(
            "ReadOAuthApp",
            json!({"org_id": "$org", "client_id": "$oauth_app"}),
        ),
        app(
            "UpdateOAuthApp",
            json!({"org_id": "$org", "client_id": "$oauth_app", "client_name": "portal v2", "oauth_config": config()}),
        ),
        app("ListOAuthApps", json!({"org_id": "$org"})),
        app(
            "CreateOAuthAppUser",
            json!({"org_id": "$org", "application_id": "$oauth_app", "email": "$fresh_email",
                   "first_name": "Ada", "last_name": "Lovelace", "password": "correct horse battery"}),
        ),
        app(
            "GetAppBranding",
            json!({"public_namespace": "$org", "name": "$app"}),
        ),
        app(
            "GetAppContent",
            json!({"public_namespace": "$org", "name": "$app"}),
        ),
        app(
            "DeleteOAuthApp",
            json!({"org_id": "$org", "client_id": "$oauth_app"}),
        ),
    ]
}
