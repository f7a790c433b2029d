//! Registry items. A module is the registry item of type module (its row is the module's,
//! its versions the uploaded module files); ML models and training scripts are rows of
//! `registry_items`. Deprecations and billing of every item live in `registry_extras` and
//! `registry_version_deprecations`. Nothing is published anywhere: items are stored and
//! returned, and ML model or training versions cannot be uploaded to the local fleet.

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::error::{ApiError, ApiResult, required};
use super::module_usage;
use super::modules;
use super::store::{exec, now, row, to_ts};
use crate::proto::viam::app::packages::v1::PackageType;
use crate::proto::viam::app::v1::registry_item::Metadata;
use crate::proto::viam::app::v1::update_registry_item_request::Metadata as UpdateMetadata;
use crate::proto::viam::app::v1::*;

const MODULE: i32 = PackageType::Module as i32;
const ML_MODEL: i32 = PackageType::MlModel as i32;
const ML_TRAINING: i32 = PackageType::MlTraining as i32;
const PRIVATE: i32 = Visibility::Private as i32;
const PUBLIC: i32 = Visibility::Public as i32;
const UNLISTED: i32 = Visibility::PublicUnlisted as i32;

/// A stored item: a module or a row of `registry_items`, with its organization.
enum Stored {
    Module(modules::Stored),
    Other { org_id: String, item: RegistryItem },
}

impl Stored {
    fn org_id(&self) -> &str {
        match self {
            Stored::Module(m) => &m.org_id,
            Stored::Other { org_id, .. } => org_id,
        }
    }
    fn id(&self) -> &str {
        match self {
            Stored::Module(m) => &m.meta.module_id,
            Stored::Other { item, .. } => &item.item_id,
        }
    }
    fn name(&self) -> &str {
        match self {
            Stored::Module(m) => &m.meta.name,
            Stored::Other { item, .. } => &item.name,
        }
    }
    fn visibility(&self) -> i32 {
        match self {
            Stored::Module(m) => m.meta.visibility,
            Stored::Other { item, .. } => item.visibility,
        }
    }
    fn kind(&self) -> i32 {
        match self {
            Stored::Module(_) => MODULE,
            Stored::Other { item, .. } => item.r#type,
        }
    }
}

fn decode(blob: &[u8]) -> ApiResult<RegistryItem> {
    RegistryItem::decode(blob).map_err(|e| ApiError::Internal(format!("stored registry item: {e}")))
}

fn type_name(t: i32) -> String {
    PackageType::try_from(t).map_or_else(|_| t.to_string(), |p| p.as_str_name().to_string())
}

/// The types an item may be created as: what the registry holds besides packages.
fn check_type(field: &str, t: i32) -> ApiResult<()> {
    if matches!(t, MODULE | ML_MODEL | ML_TRAINING) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!(
                "{} is not PACKAGE_TYPE_MODULE, PACKAGE_TYPE_ML_MODEL or PACKAGE_TYPE_ML_TRAINING",
                type_name(t)
            ),
        ))
    }
}

/// The id prefix of an organization: its public namespace, or its id before it claims one.
fn prefix(c: &Connection, org_id: &str) -> ApiResult<String> {
    Ok(row(
        c,
        "SELECT COALESCE(public_namespace, id) FROM orgs WHERE id = ?1",
        [org_id],
        |r| r.get(0),
    )?)
}

/// Finds an item by id ("<namespace or org id>:<name>"), or by bare name among the caller's
/// organizations when that is unambiguous (as modules are found).
fn resolve(c: &Connection, who: &Principal, item_id: &str) -> ApiResult<Stored> {
    let item_id = required("item_id", item_id)?;
    let mut found: Option<(String, Vec<u8>)> = row(
        c,
        "SELECT org_id, item FROM registry_items WHERE id = ?1",
        [item_id],
        |r| r.try_into(),
    )
    .optional()?;
    if found.is_none() && !item_id.contains(':') {
        let mut stmt =
            c.prepare_cached("SELECT org_id, item FROM registry_items WHERE name = ?1")?;
        let mut mine: Vec<(String, Vec<u8>)> = stmt
            .query_map([item_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|(org, _)| who.in_org(org))
            .collect();
        if mine.len() == 1 {
            found = mine.pop();
        }
    }
    if let Some((org_id, blob)) = found {
        return Ok(Stored::Other {
            org_id,
            item: decode(&blob)?,
        });
    }
    match modules::resolve(c, who, item_id) {
        Ok(m) => Ok(Stored::Module(m)),
        Err(ApiError::NotFound(_)) => Err(ApiError::not_found("registry item", item_id)),
        Err(e) => Err(e),
    }
}

/// Readable with read_organization on the owner, or by anyone when public or unlisted.
fn require_readable(who: &Principal, s: &Stored) -> ApiResult<()> {
    if matches!(s.visibility(), PUBLIC | UNLISTED) {
        return Ok(());
    }
    who.require(Perm::ReadOrganization, &Scope::stored_org(s.org_id()))
        .map_err(|_| {
            ApiError::denied(format!(
                "registry item {:?} is private to its organization",
                s.id()
            ))
        })
}

fn require_writable(who: &Principal, s: &Stored) -> ApiResult<()> {
    who.require(Perm::WriteOrganization, &Scope::stored_org(s.org_id()))
}

/// The deprecation, billing and last update of an item, kept beside it.
#[derive(Default)]
struct Extras {
    deprecated: Option<DeprecatedStatus>,
    billing: Option<RegistryItemBilling>,
    updated_at: Option<i64>,
}

/// deprecated_at, deprecated_message, billing, updated_on.
type ExtrasRow = (Option<i64>, Option<String>, Option<Vec<u8>>, Option<i64>);

fn extras(c: &Connection, item_id: &str) -> ApiResult<Extras> {
    let r: Option<ExtrasRow> = row(
        c,
        "SELECT deprecated_at, deprecated_message, billing, updated_on
         FROM registry_extras WHERE item_id = ?1",
        [item_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .optional()?;
    let Some((at, message, billing, updated_on)) = r else {
        return Ok(Extras::default());
    };
    let billing = billing
        .map(|b| RegistryItemBilling::decode(b.as_slice()))
        .transpose()
        .map_err(|e| ApiError::Internal(format!("stored registry item billing: {e}")))?;
    Ok(Extras {
        deprecated: at.map(|at| DeprecatedStatus {
            deprecated_at: Some(to_ts(at)),
            message: message.unwrap_or_default(),
        }),
        billing,
        updated_at: updated_on,
    })
}

fn touch(c: &Connection, item_id: &str) -> ApiResult<()> {
    exec(
        c,
        "INSERT INTO registry_extras(item_id, updated_on) VALUES (?1, ?2)
         ON CONFLICT(item_id) DO UPDATE SET updated_on = excluded.updated_on",
        params![item_id, now()],
    )?;
    Ok(())
}

fn version_deprecations(
    c: &Connection,
    item_id: &str,
) -> ApiResult<Vec<(String, DeprecatedStatus)>> {
    let mut stmt = c.prepare_cached(
        "SELECT version, deprecated_at, message FROM registry_version_deprecations WHERE item_id = ?1",
    )?;
    let rows = stmt.query_map([item_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            DeprecatedStatus {
                deprecated_at: Some(to_ts(r.get(1)?)),
                message: r.get(2)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The item as the API returns it: stored fields, current namespace, versions (for modules,
/// the uploaded files), deprecations and billing; model markdown only on request.
fn complete(c: &Connection, s: Stored, markdown: bool) -> ApiResult<RegistryItem> {
    let ns: String = prefix(c, s.org_id())?;
    let public_namespace = if ns == s.org_id() { String::new() } else { ns };
    let ex = extras(c, s.id())?;
    let mut item = match s {
        Stored::Other { mut item, .. } => {
            item.public_namespace = public_namespace;
            item
        }
        Stored::Module(m) => {
            let created: i64 = row(
                c,
                "SELECT created_on FROM modules WHERE id = ?1",
                [&m.meta.module_id],
                |r| r.get(0),
            )?;
            let deprecated = version_deprecations(c, &m.meta.module_id)?;
            let versions = modules::versions(c, &m.meta.module_id)?
                .into_iter()
                .map(|v| ModuleVersion {
                    deprecated_status: deprecated
                        .iter()
                        .find(|(version, _)| *version == v.version)
                        .map(|(_, d)| d.clone()),
                    version: v.version,
                    files: v.files,
                    models: v.models,
                    entrypoint: v.entrypoint,
                    first_run: v.first_run,
                    markdown_description: v.markdown_description,
                    apps: v.apps,
                    min_viam_server_version: None,
                })
                .collect();
            let usage = module_usage::usage(c, &m.meta.module_id, &m.org_id)?;
            let m = m.meta;
            RegistryItem {
                item_id: m.module_id,
                organization_id: m.organization_id,
                public_namespace,
                name: m.name,
                r#type: MODULE,
                visibility: m.visibility,
                url: m.url,
                description: m.description,
                total_robot_usage: usage.robots,
                total_external_robot_usage: usage.external_robots,
                total_organization_usage: usage.organizations,
                total_external_organization_usage: usage.external_organizations,
                metadata: Some(Metadata::ModuleMetadata(ModuleMetadata {
                    models: m.models,
                    versions,
                    entrypoint: m.entrypoint,
                    first_run: m.first_run,
                    markdown_description: m.markdown_description,
                    apps: m.apps,
                    ..ModuleMetadata::default()
                })),
                created_at: Some(to_ts(created)),
                ..RegistryItem::default()
            }
        }
    };
    item.deprecated_status = ex.deprecated;
    item.billing = ex.billing;
    item.updated_at = ex.updated_at.map(to_ts).or(item.created_at);
    if !markdown {
        if let Some(Metadata::ModuleMetadata(m)) = &mut item.metadata {
            m.models
                .iter_mut()
                .for_each(|model| model.markdown_documentation = None);
        }
    }
    Ok(item)
}

pub fn get_registry_item(
    api: &Api,
    who: &Principal,
    req: GetRegistryItemRequest,
) -> ApiResult<GetRegistryItemResponse> {
    api.store.read(|c| {
        let s = resolve(c, who, &req.item_id)?;
        require_readable(who, &s)?;
        let item = complete(c, s, req.include_markdown_documentation == Some(true))?;
        Ok(GetRegistryItemResponse { item: Some(item) })
    })
}

/// Whether `name` is free in the organization, among modules and other items alike (an id
/// is "<prefix>:<name>" whatever the type).
fn name_taken(c: &Connection, org_id: &str, name: &str) -> ApiResult<bool> {
    Ok(row(
        c,
        "SELECT 1 FROM modules WHERE org_id = ?1 AND name = ?2
         UNION ALL SELECT 1 FROM registry_items WHERE org_id = ?1 AND name = ?2",
        params![org_id, name],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

fn already_exists(name: &str, org_id: &str) -> ApiError {
    ApiError::AlreadyExists(format!(
        "registry item {name:?} already exists in organization {org_id:?}; pick another name"
    ))
}

pub fn create_registry_item(
    api: &Api,
    who: &Principal,
    req: CreateRegistryItemRequest,
) -> ApiResult<CreateRegistryItemResponse> {
    check_type("type", req.r#type)?;
    if req.r#type == MODULE {
        let org_id = req.organization_id.clone();
        // A module item is a module: one place creates both.
        let r = modules::create_module(
            api,
            who,
            CreateModuleRequest {
                organization_id: req.organization_id,
                name: req.name.clone(),
            },
        );
        return match r {
            Ok(_) => Ok(CreateRegistryItemResponse {}),
            Err(ApiError::AlreadyExists(_)) => Err(already_exists(&req.name, &org_id)),
            Err(e) => Err(e),
        };
    }
    let name = modules::validate_name(&req.name)?;
    let org_id = req.organization_id.as_str();
    api.store.tx(|tx| {
        who.require(Perm::WriteOrganization, &Scope::organization(tx, org_id)?)?;
        if name_taken(tx, org_id, name)? {
            return Err(already_exists(name, org_id));
        }
        let id = format!("{}:{name}", prefix(tx, org_id)?);
        let at = now();
        let metadata = match req.r#type {
            ML_MODEL => Metadata::MlModelMetadata(MlModelMetadata::default()),
            _ => Metadata::MlTrainingMetadata(MlTrainingMetadata::default()),
        };
        let item = RegistryItem {
            item_id: id.clone(),
            organization_id: org_id.into(),
            name: name.into(),
            r#type: req.r#type,
            visibility: PRIVATE,
            metadata: Some(metadata),
            created_at: Some(to_ts(at)),
            ..RegistryItem::default()
        };
        exec(
            tx,
            "INSERT INTO registry_items(id, org_id, name, item, created_on) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, org_id, name, item.encode_to_vec(), at],
        )?;
        Ok(CreateRegistryItemResponse {})
    })
}

fn check_visibility(v: i32) -> ApiResult<()> {
    if matches!(v, PRIVATE | PUBLIC | UNLISTED) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "visibility",
            format!("{v} is not VISIBILITY_PRIVATE, _PUBLIC or _PUBLIC_UNLISTED"),
        ))
    }
}

fn save_other(c: &Connection, item: &RegistryItem) -> ApiResult<()> {
    let stored = RegistryItem {
        public_namespace: String::new(),
        deprecated_status: None,
        billing: None,
        updated_at: None,
        ..item.clone()
    };
    exec(
        c,
        "UPDATE registry_items SET item = ?2 WHERE id = ?1",
        params![item.item_id, stored.encode_to_vec()],
    )?;
    Ok(())
}

/// Replaces description and visibility (every SDK sends both); url, markdown description,
/// billing and the type's metadata only when given.
pub fn update_registry_item(
    api: &Api,
    who: &Principal,
    req: UpdateRegistryItemRequest,
) -> ApiResult<UpdateRegistryItemResponse> {
    check_type("type", req.r#type)?;
    check_visibility(req.visibility)?;
    if let Some(url) = &req.url {
        modules::check_url(url)?;
    }
    if let Some(UpdateMetadata::UpdateModuleMetadata(m)) = &req.metadata {
        modules::check_models(&m.models)?;
    }
    api.store.tx(|tx| {
        let s = resolve(tx, who, &req.item_id)?;
        require_writable(who, &s)?;
        if s.kind() != req.r#type {
            return Err(ApiError::invalid(
                "type",
                format!(
                    "{} does not match the item's type {}; an item's type never changes",
                    type_name(req.r#type),
                    type_name(s.kind())
                ),
            ));
        }
        let kind = type_name(s.kind());
        let mismatch = |what: &str| {
            Err(ApiError::invalid(
                "metadata",
                format!("{what} does not fit an item of type {kind}"),
            ))
        };
        let id = s.id().to_string();
        match s {
            Stored::Module(m) => {
                let mut meta = m.meta;
                meta.description = req.description;
                meta.visibility = req.visibility;
                if let Some(url) = req.url {
                    meta.url = url;
                }
                if req.markdown_description.is_some() {
                    meta.markdown_description = req.markdown_description;
                }
                match req.metadata {
                    None => {}
                    Some(UpdateMetadata::UpdateModuleMetadata(u)) => {
                        meta.models = u.models;
                        meta.entrypoint = u.entrypoint;
                        if !u.apps.is_empty() {
                            meta.apps = u.apps;
                        }
                    }
                    Some(_) => return mismatch("ML metadata"),
                }
                modules::save(tx, &meta)?;
            }
            Stored::Other { mut item, .. } => {
                item.description = req.description;
                item.visibility = req.visibility;
                if let Some(url) = req.url {
                    item.url = url;
                }
                match (req.metadata, &mut item.metadata) {
                    (None, _) => {}
                    (
                        Some(UpdateMetadata::UpdateMlModelMetadata(u)),
                        Some(Metadata::MlModelMetadata(m)),
                    ) => {
                        m.model_type = u.model_type;
                        m.model_framework = u.model_framework;
                        m.deployment_modular_resources = u.deployment_modular_resources;
                    }
                    (
                        Some(UpdateMetadata::UpdateMlTrainingMetadata(u)),
                        Some(Metadata::MlTrainingMetadata(m)),
                    ) => {
                        m.model_type = u.model_type;
                        m.model_framework = u.model_framework;
                        m.draft = u.draft;
                        m.deployment_modular_resources = u.deployment_modular_resources;
                    }
                    (Some(_), _) => return mismatch("this metadata"),
                }
                save_other(tx, &item)?;
            }
        }
        touch(tx, &id)?;
        if let Some(billing) = req.billing {
            exec(
                tx,
                "UPDATE registry_extras SET billing = ?2 WHERE item_id = ?1",
                params![id, billing.encode_to_vec()],
            )?;
        }
        Ok(UpdateRegistryItemResponse {})
    })
}

/// What a list request asks for, checked once.
struct Filter {
    types: Vec<i32>,
    visibilities: Vec<i32>,
    platforms: Vec<String>,
    statuses: Vec<i32>,
    search: Option<String>,
    namespaces: Vec<String>,
    source_types: Vec<i32>,
    languages: Vec<i32>,
    show_owned_deprecated: bool,
}

const PUBLISHED: i32 = RegistryItemStatus::Published as i32;
const IN_DEVELOPMENT: i32 = RegistryItemStatus::InDevelopment as i32;

impl Filter {
    fn new(req: &ListRegistryItemsRequest) -> ApiResult<Self> {
        for t in &req.types {
            check_type("types", *t)?;
        }
        for v in &req.visibilities {
            check_visibility(*v).map_err(|_| {
                ApiError::invalid("visibilities", format!("{v} is not a known visibility"))
            })?;
        }
        for s in &req.statuses {
            if !matches!(*s, PUBLISHED | IN_DEVELOPMENT) {
                return Err(ApiError::invalid(
                    "statuses",
                    format!("{s} is not REGISTRY_ITEM_STATUS_PUBLISHED or _IN_DEVELOPMENT"),
                ));
            }
        }
        if req.page_token.as_deref().is_some_and(|t| !t.is_empty()) {
            return Err(ApiError::invalid(
                "page_token",
                "this server returns every item in one reply and never hands out page tokens; omit it",
            ));
        }
        Ok(Self {
            types: req.types.clone(),
            visibilities: req.visibilities.clone(),
            // The Python SDK's own example passes [""] for "any platform".
            platforms: req
                .platforms
                .iter()
                .filter(|p| !p.is_empty())
                .cloned()
                .collect(),
            statuses: req.statuses.clone(),
            search: req
                .search_term
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_lowercase),
            namespaces: req.public_namespaces.clone(),
            source_types: req.module_source_types.clone(),
            languages: req.module_languages.clone(),
            show_owned_deprecated: req.show_owned_deprecated == Some(true),
        })
    }

    fn accepts(&self, item: &RegistryItem, owned: bool) -> bool {
        let module = match &item.metadata {
            Some(Metadata::ModuleMetadata(m)) => Some(m),
            _ => None,
        };
        let versions = module.map_or(0, |m| m.versions.len());
        // Published: something was uploaded; in development: nothing yet.
        let status = if versions > 0 {
            PUBLISHED
        } else {
            IN_DEVELOPMENT
        };
        let platform_ok = |p: &String| {
            module.is_some_and(|m| {
                m.versions.iter().any(|v| {
                    v.files.iter().any(|f| {
                        f.platform == *p
                            || f.platform == "any"
                            || p.strip_suffix("/any")
                                .is_some_and(|os| f.platform.starts_with(&format!("{os}/")))
                    })
                })
            })
        };
        let text = |s: &str| {
            self.search
                .as_ref()
                .is_none_or(|t| s.to_lowercase().contains(t.as_str()))
        };
        (self.types.is_empty() || self.types.contains(&item.r#type))
            && (self.visibilities.is_empty() || self.visibilities.contains(&item.visibility))
            && (self.platforms.is_empty() || self.platforms.iter().any(platform_ok))
            && (self.statuses.is_empty() || self.statuses.contains(&status))
            && (text(&item.name) || text(&item.description))
            && (self.namespaces.is_empty() || self.namespaces.contains(&item.public_namespace))
            && (self.source_types.is_empty()
                || module.is_some_and(|m| {
                    self.source_types
                        .contains(&m.source_type.unwrap_or_default())
                }))
            && (self.languages.is_empty()
                || module.is_some_and(|m| self.languages.contains(&m.language.unwrap_or_default())))
            && (item.deprecated_status.is_none() || (owned && self.show_owned_deprecated))
    }
}

/// The given organization's items (or, without one, those of every organization the caller
/// may read) plus other organizations' public ones, filtered, oldest first.
pub fn list_registry_items(
    api: &Api,
    who: &Principal,
    req: ListRegistryItemsRequest,
) -> ApiResult<ListRegistryItemsResponse> {
    let filter = Filter::new(&req)?;
    let org = req.organization_id.as_deref().filter(|o| !o.is_empty());
    let markdown = req.include_markdown_documentation == Some(true);
    api.store.read(|c| {
        if let Some(org) = org {
            who.require(Perm::ReadOrganization, &Scope::organization(c, org)?)?;
        }
        let mine = |o: &str| match org {
            Some(org) => o == org,
            None => who.can(Perm::ReadOrganization, &Scope::stored_org(o)),
        };
        let mut stmt = c.prepare_cached(
            "SELECT 0, org_id, meta, created_on, id FROM modules
             UNION ALL SELECT 1, org_id, item, created_on, id FROM registry_items
             ORDER BY 4, 5",
        )?;
        let rows: Vec<(i64, String, Vec<u8>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut items = Vec::new();
        for (kind, org_id, blob) in rows {
            let s = if kind == 0 {
                Stored::Module(modules::Stored {
                    org_id,
                    meta: modules::decode(&blob)?,
                })
            } else {
                Stored::Other {
                    org_id,
                    item: decode(&blob)?,
                }
            };
            let owned = mine(s.org_id());
            if !owned && s.visibility() != PUBLIC {
                continue;
            }
            let item = complete(c, s, markdown)?;
            if filter.accepts(&item, owned) {
                items.push(item);
            }
        }
        Ok(ListRegistryItemsResponse { items })
    })
}

/// Deletes an item with its versions; a module's uploaded files go from the disk too.
pub fn delete_registry_item(
    api: &Api,
    who: &Principal,
    req: DeleteRegistryItemRequest,
) -> ApiResult<DeleteRegistryItemResponse> {
    let files: Vec<String> = api.store.tx(|tx| {
        let s = resolve(tx, who, &req.item_id)?;
        require_writable(who, &s)?;
        let id = s.id().to_string();
        let mut stmt = tx.prepare_cached("SELECT path FROM module_files WHERE module_id = ?1")?;
        let files = stmt
            .query_map([&id], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        // The triggers of the migration remove the item's extras and version deprecations.
        exec(tx, "DELETE FROM modules WHERE id = ?1", [&id])?;
        exec(tx, "DELETE FROM registry_items WHERE id = ?1", [&id])?;
        Ok(files)
    })?;
    for f in files {
        // Best effort once the rows are gone: a file left behind is unreachable, not served.
        let _ = std::fs::remove_file(api.data_dir.join(f));
    }
    Ok(DeleteRegistryItemResponse {})
}

/// Moves an item to a new id (and, for a transfer, a new organization), carrying its files,
/// extras and version deprecations along.
fn move_item(c: &Connection, s: Stored, new_org: &str, new_name: &str) -> ApiResult<String> {
    let old = s.id().to_string();
    let new_id = format!("{}:{new_name}", prefix(c, new_org)?);
    // module_files refers to modules(id): checked at commit, after both moved.
    c.pragma_update(None, "defer_foreign_keys", true)?;
    match s {
        Stored::Module(m) => {
            let meta = Module {
                module_id: new_id.clone(),
                name: new_name.into(),
                organization_id: new_org.into(),
                versions: vec![],
                ..m.meta
            };
            exec(
                c,
                "UPDATE modules SET id = ?2, org_id = ?3, name = ?4, meta = ?5 WHERE id = ?1",
                params![old, new_id, new_org, new_name, meta.encode_to_vec()],
            )?;
            exec(
                c,
                "UPDATE module_files SET module_id = ?2 WHERE module_id = ?1",
                params![old, new_id],
            )?;
        }
        Stored::Other { item, .. } => {
            let item = RegistryItem {
                item_id: new_id.clone(),
                name: new_name.into(),
                organization_id: new_org.into(),
                ..item
            };
            exec(
                c,
                "UPDATE registry_items SET id = ?2, org_id = ?3, name = ?4 WHERE id = ?1",
                params![old, new_id, new_org, new_name],
            )?;
            save_other(c, &item)?;
        }
    }
    exec(
        c,
        "UPDATE registry_extras SET item_id = ?2 WHERE item_id = ?1",
        params![old, new_id],
    )?;
    exec(
        c,
        "UPDATE registry_version_deprecations SET item_id = ?2 WHERE item_id = ?1",
        params![old, new_id],
    )?;
    touch(c, &new_id)?;
    Ok(new_id)
}

pub fn rename_registry_item(
    api: &Api,
    who: &Principal,
    req: RenameRegistryItemRequest,
) -> ApiResult<RenameRegistryItemResponse> {
    let new_name = modules::validate_name(&req.new_name)
        .map_err(|e| ApiError::InvalidArgument(format!("new_{e}")))?;
    api.store.tx(|tx| {
        let s = resolve(tx, who, &req.item_id)?;
        require_writable(who, &s)?;
        let org = s.org_id().to_string();
        if s.name() == new_name {
            let item = complete(tx, s, false)?;
            return Ok(RenameRegistryItemResponse { item: Some(item) });
        }
        if name_taken(tx, &org, new_name)? {
            return Err(already_exists(new_name, &org));
        }
        let id = move_item(tx, s, &org, new_name)?;
        let item = complete(tx, resolve(tx, who, &id)?, false)?;
        Ok(RenameRegistryItemResponse { item: Some(item) })
    })
}

/// The organization a transfer goes to: the one holding `namespace`, or the one with that id
/// (item ids name an organization either way).
fn org_by_namespace(c: &Connection, namespace: &str) -> ApiResult<String> {
    let namespace = required("new_public_namespace", namespace)?;
    row(
        c,
        "SELECT id FROM orgs WHERE public_namespace = ?1 OR id = ?1",
        [namespace],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| {
        ApiError::NotFound(format!(
            "new_public_namespace: no organization has the namespace {namespace:?}"
        ))
    })
}

/// Moves an item to the organization holding `new_public_namespace`; the caller must be
/// allowed to write both organizations.
pub fn transfer_registry_item(
    api: &Api,
    who: &Principal,
    req: TransferRegistryItemRequest,
) -> ApiResult<TransferRegistryItemResponse> {
    api.store.tx(|tx| {
        let s = resolve(tx, who, &req.item_id)?;
        require_writable(who, &s)?;
        let target = org_by_namespace(tx, &req.new_public_namespace)?;
        who.require(Perm::WriteOrganization, &Scope::stored_org(&target))?;
        if target == s.org_id() {
            return Ok(TransferRegistryItemResponse {});
        }
        let name = s.name().to_string();
        if name_taken(tx, &target, &name)? {
            return Err(already_exists(&name, &target));
        }
        move_item(tx, s, &target, &name)?;
        Ok(TransferRegistryItemResponse {})
    })
}

pub fn deprecate_registry_item(
    api: &Api,
    who: &Principal,
    req: DeprecateRegistryItemRequest,
) -> ApiResult<DeprecateRegistryItemResponse> {
    let message = required("message", &req.message)?;
    api.store.tx(|tx| {
        let s = resolve(tx, who, &req.item_id)?;
        require_writable(who, &s)?;
        exec(
            tx,
            "INSERT INTO registry_extras(item_id, deprecated_at, deprecated_message) VALUES (?1, ?2, ?3)
             ON CONFLICT(item_id) DO UPDATE SET
               deprecated_at = excluded.deprecated_at, deprecated_message = excluded.deprecated_message",
            params![s.id(), now(), message],
        )?;
        Ok(DeprecateRegistryItemResponse {})
    })
}

/// Idempotent: an item that is not deprecated stays as it is.
pub fn undeprecate_registry_item(
    api: &Api,
    who: &Principal,
    req: UndeprecateRegistryItemRequest,
) -> ApiResult<UndeprecateRegistryItemResponse> {
    api.store.tx(|tx| {
        let s = resolve(tx, who, &req.item_id)?;
        require_writable(who, &s)?;
        exec(
            tx,
            "UPDATE registry_extras SET deprecated_at = NULL, deprecated_message = NULL
             WHERE item_id = ?1",
            [s.id()],
        )?;
        Ok(UndeprecateRegistryItemResponse {})
    })
}

/// The item, checked writable, with `version` among its uploaded versions.
fn writable_version(
    c: &Connection,
    who: &Principal,
    item_id: &str,
    version: &str,
) -> ApiResult<String> {
    let version = required("version", version)?;
    let s = resolve(c, who, item_id)?;
    require_writable(who, &s)?;
    let known = row(
        c,
        "SELECT 1 FROM module_files WHERE module_id = ?1 AND version = ?2 LIMIT 1",
        params![s.id(), version],
        |_| Ok(()),
    )
    .optional()?
    .is_some();
    if !known {
        return Err(ApiError::NotFound(format!(
            "version {version:?} of registry item {:?} not found; its versions are the module files uploaded with UploadModuleFile",
            s.id()
        )));
    }
    Ok(s.id().to_string())
}

pub fn deprecate_registry_item_version(
    api: &Api,
    who: &Principal,
    req: DeprecateRegistryItemVersionRequest,
) -> ApiResult<DeprecateRegistryItemVersionResponse> {
    let message = required("message", &req.message)?;
    api.store.tx(|tx| {
        let id = writable_version(tx, who, &req.item_id, &req.version)?;
        exec(
            tx,
            "INSERT INTO registry_version_deprecations(item_id, version, deprecated_at, message)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(item_id, version) DO UPDATE SET
               deprecated_at = excluded.deprecated_at, message = excluded.message",
            params![id, req.version.trim(), now(), message],
        )?;
        Ok(DeprecateRegistryItemVersionResponse {})
    })
}

/// Idempotent, like undeprecating an item.
pub fn undeprecate_registry_item_version(
    api: &Api,
    who: &Principal,
    req: UndeprecateRegistryItemVersionRequest,
) -> ApiResult<UndeprecateRegistryItemVersionResponse> {
    api.store.tx(|tx| {
        let id = writable_version(tx, who, &req.item_id, &req.version)?;
        exec(
            tx,
            "DELETE FROM registry_version_deprecations WHERE item_id = ?1 AND version = ?2",
            params![id, req.version.trim()],
        )?;
        Ok(UndeprecateRegistryItemVersionResponse {})
    })
}
