//! Valid requests for the registry RPCs (see fixture::requests). `$module` is a private module
//! of the organization: the registry item of type module that the fleet already has.

use serde_json::{Value, json};

pub fn requests() -> Vec<(&'static str, &'static str, Value)> {
    let app = |m: &'static str, v: Value| ("AppService", m, v);
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
    ]
}
