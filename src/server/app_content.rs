//! Hosted apps, as modules declare them (UpdateModule's `apps`): their branding and where their
//! files are. The local fleet serves no app pages: it answers from the stored declaration, and
//! for the files it names the newest uploaded file of the app's module (the archive the app
//! comes in, stored under the data directory), or NOT_FOUND when none was uploaded.

use rusqlite::{Connection, OptionalExtension};

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::error::{ApiError, ApiResult, required};
use super::modules::decode;
use super::store::row;
use crate::proto::viam::app::v1::*;

/// An app and the module declaring it.
struct Found {
    org_id: String,
    module: Module,
    app: App,
}

/// The app `name` of a module of the organization whose public namespace (or id, as module
/// ids use for an organization without one) is `namespace`, if the caller may see it: anyone
/// for a public or unlisted module, else readers of its organization or of an allowed one.
fn find(c: &Connection, who: &Principal, namespace: &str, name: &str) -> ApiResult<Found> {
    let namespace = required("public_namespace", namespace)?;
    let name = required("name", name)?;
    let org_id: String = row(
        c,
        "SELECT id FROM orgs WHERE public_namespace = ?1 OR id = ?1",
        [namespace],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| {
        ApiError::NotFound(format!(
            "public_namespace: no organization has the namespace {namespace:?}"
        ))
    })?;
    let mut stmt =
        c.prepare_cached("SELECT meta FROM modules WHERE org_id = ?1 ORDER BY created_on, id")?;
    let metas: Vec<Vec<u8>> = stmt
        .query_map([&org_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut found = None;
    for blob in metas {
        let module = decode(&blob)?;
        if let Some(app) = module.apps.iter().find(|a| a.name == name).cloned() {
            found = Some(Found {
                org_id: org_id.clone(),
                module,
                app,
            });
            break;
        }
    }
    let f = found.ok_or_else(|| {
        ApiError::NotFound(format!(
            "name: no module of {namespace:?} declares an app {name:?}; UpdateModule's apps declare them"
        ))
    })?;
    let public = matches!(
        Visibility::try_from(f.module.visibility),
        Ok(Visibility::Public | Visibility::PublicUnlisted)
    );
    let allowed = f
        .app
        .allowed_org_ids
        .as_ref()
        .map(|a| a.ids.as_slice())
        .unwrap_or_default();
    let may =
        |org: &str| Scope::organization(c, org).is_ok_and(|s| who.can(Perm::ReadOrganization, &s));
    if public || may(&f.org_id) || allowed.iter().any(|o| may(o)) {
        Ok(f)
    } else {
        Err(ApiError::denied(format!(
            "the app {name:?} of {namespace:?} is private to its organization"
        )))
    }
}

/// The stored branding: logo path, the machine picker's texts, fragments and allowed orgs.
pub fn get_app_branding(
    api: &Api,
    who: &Principal,
    req: GetAppBrandingRequest,
) -> ApiResult<GetAppBrandingResponse> {
    api.store.read(|c| {
        let App {
            logo_path,
            customizations,
            fragment_ids,
            allowed_org_ids,
            ..
        } = find(c, who, &req.public_namespace, &req.name)?.app;
        let mut text_customizations = std::collections::HashMap::new();
        if let Some(p) = customizations.and_then(|c| c.machine_picker) {
            let fields: std::collections::HashMap<_, _> =
                [("heading", p.heading), ("subheading", p.subheading)]
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                    .collect();
            if !fields.is_empty() {
                text_customizations.insert("machine_picker".to_string(), TextOverrides { fields });
            }
        }
        Ok(GetAppBrandingResponse {
            logo_path,
            text_customizations,
            fragment_ids,
            allowed_org_ids: allowed_org_ids.map(|a| a.ids).unwrap_or_default(),
        })
    })
}

/// The app's entrypoint and type from its declaration; its files: the newest uploaded file of
/// its module.
pub fn get_app_content(
    api: &Api,
    who: &Principal,
    req: GetAppContentRequest,
) -> ApiResult<GetAppContentResponse> {
    api.store.read(|c| {
        let f = find(c, who, &req.public_namespace, &req.name)?;
        let blob_path: String = row(
            c,
            "SELECT path FROM module_files WHERE module_id = ?1 ORDER BY uploaded_at DESC LIMIT 1",
            [&f.module.module_id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "module {:?} of the app {:?} has no uploaded file to serve it from; UploadModuleFile uploads one",
                f.module.module_id, req.name
            ))
        })?;
        let app_type = match f.app.r#type.as_str() {
            "single_machine" => AppType::SingleMachine,
            "multi_machine" => AppType::MultiMachine,
            _ => AppType::Unspecified,
        };
        Ok(GetAppContentResponse {
            blob_path,
            entrypoint: f.app.entrypoint,
            app_type: app_type as i32,
            public: f.module.visibility == Visibility::Public as i32,
        })
    })
}
