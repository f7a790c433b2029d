//! Modules: metadata owned by an organization, and the uploaded files of their versions,
//! one per (version, platform), kept under `<data_dir>/modules/`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use tonic::{Status, Streaming};

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::error::{ApiError, ApiResult};
use super::module_usage;
use super::store::{exec, found, new_id, now, row, to_ts};
use crate::proto::viam::app::v1::upload_module_file_request::ModuleFile;
use crate::proto::viam::app::v1::*;

const PRIVATE: i32 = Visibility::Private as i32;
const PUBLIC: i32 = Visibility::Public as i32;
const UNLISTED: i32 = Visibility::PublicUnlisted as i32;

/// The address the API returns for a module. Local: no registry serves it; it only names
/// the module the way the cloud's registry URL does.
fn local_url(module_id: &str) -> String {
    format!("fleetsh://modules/{}", module_id.replacen(':', "/", 1))
}

pub(super) fn validate_name(name: &str) -> ApiResult<&str> {
    if name.is_empty() {
        return Err(ApiError::invalid("name", "must not be empty"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(ApiError::invalid(
            "name",
            format!("{bad:?} is not allowed; use letters, digits, dashes and underscores"),
        ));
    }
    Ok(name)
}

/// A stored module: its organization and its metadata (without versions).
pub(super) struct Stored {
    pub org_id: String,
    pub meta: Module,
}

pub(super) fn decode(blob: &[u8]) -> ApiResult<Module> {
    Module::decode(blob).map_err(|e| ApiError::Internal(format!("stored module metadata: {e}")))
}

/// Finds a module by id ("<namespace>:<name>"), or by bare name among the caller's
/// organizations when that is unambiguous (the SDK docs allow "my-module").
pub(super) fn resolve(c: &Connection, who: &Principal, module_id: &str) -> ApiResult<Stored> {
    if module_id.is_empty() {
        return Err(ApiError::invalid("module_id", "required"));
    }
    let mut row: Option<(String, Vec<u8>)> = row(
        c,
        "SELECT org_id, meta FROM modules WHERE id = ?1",
        [module_id],
        |r| r.try_into(),
    )
    .optional()?;
    if row.is_none() && !module_id.contains(':') {
        let mut stmt = c.prepare_cached("SELECT org_id, meta FROM modules WHERE name = ?1")?;
        let mut mine: Vec<(String, Vec<u8>)> = stmt
            .query_map([module_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|(org, _)| who.in_org(org))
            .collect();
        if mine.len() == 1 {
            row = mine.pop();
        }
    }
    let (org_id, blob) = row.ok_or_else(|| ApiError::not_found("module", module_id))?;
    Ok(Stored {
        org_id,
        meta: decode(&blob)?,
    })
}

pub(super) fn save(c: &Connection, m: &Module) -> ApiResult<()> {
    let meta = Module {
        versions: vec![],
        ..m.clone()
    };
    exec(
        c,
        "UPDATE modules SET meta = ?2 WHERE id = ?1",
        params![m.module_id, meta.encode_to_vec()],
    )?;
    Ok(())
}

/// Versions in the order of their first upload, each with its files in upload order.
pub(super) fn versions(c: &Connection, module_id: &str) -> ApiResult<Vec<VersionHistory>> {
    let mut stmt = c.prepare_cached(
        "SELECT version, platform, uploaded_at FROM module_files WHERE module_id = ?1
         ORDER BY uploaded_at, platform",
    )?;
    let rows = stmt.query_map([module_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
    })?;
    let mut out: Vec<VersionHistory> = Vec::new();
    for row in rows {
        let (version, platform, at) = row?;
        let upload = Uploads {
            platform,
            uploaded_at: Some(to_ts(at)),
        };
        match out.iter_mut().find(|v| v.version == version) {
            Some(v) => v.files.push(upload),
            None => out.push(VersionHistory {
                version,
                files: vec![upload],
                ..VersionHistory::default()
            }),
        }
    }
    Ok(out)
}

/// The full proto: stored metadata, current namespace, versions; model markdown only on request.
fn complete(c: &Connection, s: Stored, markdown: bool) -> ApiResult<Module> {
    let mut m = s.meta;
    let ns: Option<String> = row(
        c,
        "SELECT public_namespace FROM orgs WHERE id = ?1",
        [&s.org_id],
        |r| r.get(0),
    )
    .optional()?
    .flatten();
    m.public_namespace = ns.unwrap_or_default();
    m.versions = versions(c, &m.module_id)?;
    let usage = module_usage::usage(c, &m.module_id, &s.org_id)?;
    m.total_robot_usage = usage.robots;
    m.total_organization_usage = usage.organizations;
    if !markdown {
        m.models
            .iter_mut()
            .for_each(|model| model.markdown_documentation = None);
    }
    Ok(m)
}

/// Readable with read_organization on the owner, or by anyone when public or unlisted
/// (unlisted: reachable by id, never listed to other organizations).
fn require_readable(who: &Principal, s: &Stored) -> ApiResult<()> {
    if matches!(s.meta.visibility, PUBLIC | UNLISTED) {
        return Ok(());
    }
    who.require(Perm::ReadOrganization, &Scope::stored_org(&s.org_id))
        .map_err(|_| {
            ApiError::denied(format!(
                "module {:?} is private to its organization",
                s.meta.module_id
            ))
        })
}

pub fn create_module(
    api: &Api,
    who: &Principal,
    req: CreateModuleRequest,
) -> ApiResult<CreateModuleResponse> {
    let name = validate_name(&req.name)?;
    let org_id = req.organization_id.as_str();
    api.store.tx(|tx| {
        who.require(Perm::WriteOrganization, &Scope::organization(tx, org_id)?)?;
        let prefix: String = row(
            tx,
            "SELECT COALESCE(public_namespace, id) FROM orgs WHERE id = ?1",
            [org_id],
            |r| r.get(0),
        )?;
        let id = format!("{prefix}:{name}");
        let taken = row(
            tx,
            // Registry items of other types share the module's names: ids are "<prefix>:<name>".
            "SELECT 1 FROM modules WHERE (org_id = ?1 AND name = ?2) OR id = ?3
             UNION ALL SELECT 1 FROM registry_items WHERE (org_id = ?1 AND name = ?2) OR id = ?3",
            params![org_id, name, id],
            |_| Ok(()),
        )
        .optional()?;
        if taken.is_some() {
            return Err(ApiError::AlreadyExists(format!(
                "module {name:?} already exists in organization {org_id:?}"
            )));
        }
        let meta = Module {
            module_id: id.clone(),
            name: name.into(),
            visibility: PRIVATE,
            organization_id: org_id.into(),
            ..Module::default()
        };
        exec(
            tx,
            "INSERT INTO modules(id, org_id, name, meta, created_on) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, org_id, name, meta.encode_to_vec(), now()],
        )?;
        Ok(CreateModuleResponse {
            url: local_url(&id),
            module_id: id,
        })
    })
}

pub(super) fn check_models(models: &[Model]) -> ApiResult<()> {
    for (i, m) in models.iter().enumerate() {
        check_triplet(&format!("models[{i}].api"), &m.api, "rdk:component:arm")?;
        check_triplet(&format!("models[{i}].model"), &m.model, "acme:demo:arm")?;
    }
    Ok(())
}

/// An API or model name as viam-server reads them: three colon-separated parts of letters,
/// digits, `_` and `-` (the guide counts an invalid list of models among UpdateModule's errors).
fn check_triplet(field: &str, value: &str, example: &str) -> ApiResult<()> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let parts: Vec<&str> = value.split(':').collect();
    if parts.len() == 3 && parts.iter().all(|p| part_ok(p)) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!(
                "{value:?} is not three colon-separated names of letters, digits, _ and - (like {example})"
            ),
        ))
    }
}

/// The documentation address of a module: empty (none, as the Viam CLI's generated meta.json
/// has it) or an absolute http(s) URL with a host.
pub(super) fn check_url(url: &str) -> ApiResult<()> {
    if url.is_empty() {
        return Ok(());
    }
    let is_web = url.parse::<http::Uri>().is_ok_and(|u| {
        matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some_and(|h| !h.is_empty())
    });
    if is_web {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "url",
            format!(
                "{url:?} is not an http(s) URL; give the address of the module's documentation or code, like https://github.com/org/repo"
            ),
        ))
    }
}

/// Replaces what every client sends (visibility unless unspecified, url, description,
/// models, entrypoint); first_run and markdown_description only when set, and apps only
/// when non-empty, since the Python SDK never sends those and would otherwise erase them.
pub fn update_module(
    api: &Api,
    who: &Principal,
    req: UpdateModuleRequest,
) -> ApiResult<UpdateModuleResponse> {
    check_models(&req.models)?;
    check_url(&req.url)?;
    if !matches!(req.visibility, 0 | PRIVATE | PUBLIC | UNLISTED) {
        return Err(ApiError::invalid(
            "visibility",
            format!(
                "{} is not VISIBILITY_PRIVATE, _PUBLIC or _PUBLIC_UNLISTED",
                req.visibility
            ),
        ));
    }
    api.store.tx(|tx| {
        let Stored { org_id, mut meta } = resolve(tx, who, &req.module_id)?;
        who.require(Perm::WriteOrganization, &Scope::stored_org(&org_id))?;
        if req.visibility != 0 {
            meta.visibility = req.visibility;
        }
        meta.url = req.url;
        meta.description = req.description;
        meta.models = req.models;
        meta.entrypoint = req.entrypoint;
        if req.first_run.is_some() {
            meta.first_run = req.first_run;
        }
        if req.markdown_description.is_some() {
            meta.markdown_description = req.markdown_description;
        }
        if !req.apps.is_empty() {
            meta.apps = req.apps;
        }
        save(tx, &meta)?;
        Ok(UpdateModuleResponse {
            url: local_url(&meta.module_id),
        })
    })
}

pub fn get_module(
    api: &Api,
    who: &Principal,
    req: GetModuleRequest,
) -> ApiResult<GetModuleResponse> {
    api.store.read(|c| {
        let s = resolve(c, who, &req.module_id)?;
        require_readable(who, &s)?;
        let module = complete(c, s, req.include_markdown_documentation == Some(true))?;
        Ok(GetModuleResponse {
            module: Some(module),
        })
    })
}

/// The given organization's modules (or, without one, those of every organization the
/// caller may read) plus other organizations' public ones.
pub fn list_modules(
    api: &Api,
    who: &Principal,
    req: ListModulesRequest,
) -> ApiResult<ListModulesResponse> {
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
        let mut stmt =
            c.prepare_cached("SELECT org_id, meta FROM modules ORDER BY created_on, id")?;
        let rows: Vec<(String, Vec<u8>)> = stmt
            .query_map([], |r| r.try_into())?
            .collect::<Result<_, _>>()?;
        let mut modules = Vec::new();
        for (org_id, blob) in rows {
            let meta = decode(&blob)?;
            if mine(&org_id) || meta.visibility == PUBLIC {
                modules.push(complete(c, Stored { org_id, meta }, markdown)?);
            }
        }
        Ok(ListModulesResponse { modules })
    })
}

// ---- UploadModuleFile ----

/// Semantic versions: MAJOR.MINOR.PATCH with optional -prerelease and +build made of
/// dot-separated alphanumerics and dashes (so never a path separator or "..").
pub(super) fn check_version(v: &str) -> ApiResult<()> {
    let ident_ok =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let (main, build) = v.split_once('+').map_or((v, None), |(a, b)| (a, Some(b)));
    let (core, pre) = main
        .split_once('-')
        .map_or((main, None), |(a, b)| (a, Some(b)));
    let nums: Vec<&str> = core.split('.').collect();
    let ok = v.len() <= 128
        && nums.len() == 3
        && nums
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && [pre, build]
            .into_iter()
            .flatten()
            .all(|s| s.split('.').all(ident_ok));
    if ok {
        Ok(())
    } else if v.is_empty() {
        Err(ApiError::invalid("module_file_info.version", "required"))
    } else {
        Err(ApiError::invalid(
            "module_file_info.version",
            format!("{v:?} is not a semantic version like 1.2.3"),
        ))
    }
}

/// The file name for a platform such as "linux/amd64" ("linux_amd64"): one to three
/// components of letters, digits, dots and dashes, each starting with a letter or digit, so
/// the name can never leave its directory and distinct platforms never share a file.
fn platform_file(p: &str) -> ApiResult<String> {
    if p.is_empty() {
        return Err(ApiError::invalid("module_file_info.platform", "required"));
    }
    let parts: Vec<&str> = p.split('/').collect();
    let part_ok = |s: &&str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    };
    if parts.len() > 3 || p.len() > 128 || !parts.iter().all(part_ok) {
        return Err(ApiError::invalid(
            "module_file_info.platform",
            format!("{p:?} is not a platform like \"linux/amd64\" or \"any\""),
        ));
    }
    Ok(parts.join("_"))
}

/// A directory name for a module id: anything but letters, digits, dashes and
/// underscores becomes "_" (ids are "<namespace>:<name>", and namespaces have no "_").
fn module_dir(module_id: &str) -> String {
    module_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Where one upload goes, known once the first message is checked.
struct Target {
    module_id: String,
    version: String,
    platform: String,
    /// Relative to the data directory.
    rel_path: PathBuf,
}

impl Target {
    fn check(api: &Api, who: &Principal, info: &ModuleFileInfo) -> ApiResult<Self> {
        check_version(&info.version)?;
        let file = platform_file(&info.platform)?;
        let stored = api.store.read(|c| resolve(c, who, &info.module_id))?;
        who.require(Perm::WriteOrganization, &Scope::stored_org(&stored.org_id))?;
        let module_id = stored.meta.module_id;
        let rel_path = Path::new("modules")
            .join(module_dir(&module_id))
            .join(&info.version)
            .join(file);
        Ok(Self {
            module_id,
            version: info.version.clone(),
            platform: info.platform.clone(),
            rel_path,
        })
    }
}

/// A partial upload, removed unless it was moved into place.
struct PartFile(PathBuf);

impl Drop for PartFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn stream_error(s: Status) -> ApiError {
    ApiError::InvalidArgument(format!(
        "file: reading the upload stream failed: {}",
        s.message()
    ))
}

/// Writes every `file` chunk to `path` as it arrives (hashing and writing off the async
/// threads); returns the size and hex SHA-256.
async fn receive(
    stream: &mut Streaming<UploadModuleFileRequest>,
    path: &Path,
) -> ApiResult<(u64, String)> {
    let mut file = std::fs::File::create(path)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(msg) = stream.message().await.map_err(stream_error)? {
        match msg.module_file {
            Some(ModuleFile::File(chunk)) => {
                size += chunk.len() as u64;
                (file, hasher) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
                    file.write_all(&chunk)?;
                    hasher.update(&chunk);
                    Ok((file, hasher))
                })
                .await
                .map_err(|e| ApiError::Internal(format!("upload writer: {e}")))??;
            }
            Some(ModuleFile::ModuleFileInfo(_)) => {
                return Err(ApiError::invalid(
                    "module_file_info",
                    "sent twice; send it once, first",
                ));
            }
            None => {}
        }
    }
    if size == 0 {
        return Err(ApiError::invalid(
            "file",
            "no file data received after module_file_info",
        ));
    }
    tokio::task::spawn_blocking(move || file.sync_all())
        .await
        .map_err(|e| ApiError::Internal(format!("upload writer: {e}")))??;
    Ok((size, hex::encode(hasher.finalize())))
}

pub async fn upload_module_file(
    api: Arc<Api>,
    who: Principal,
    mut stream: Streaming<UploadModuleFileRequest>,
) -> ApiResult<UploadModuleFileResponse> {
    let info = match stream
        .message()
        .await
        .map_err(stream_error)?
        .and_then(|m| m.module_file)
    {
        Some(ModuleFile::ModuleFileInfo(info)) => info,
        Some(ModuleFile::File(_)) => {
            return Err(ApiError::invalid(
                "module_file_info",
                "must be the first message, before any file data",
            ));
        }
        None => {
            return Err(ApiError::invalid(
                "module_file_info",
                "required as the first message",
            ));
        }
    };
    // Checked before any byte is written: a refused caller never fills the disk.
    let t = Target::check(&api, &who, &info)?;
    let dest = api.data_dir.join(&t.rel_path);
    let dir = dest
        .parent()
        .ok_or_else(|| ApiError::Internal("module file path has no directory".into()))?;
    std::fs::create_dir_all(dir)?;
    let part = PartFile(dir.join(format!(".upload-{}.part", new_id())));
    let (size, sha256) = receive(&mut stream, &part.0).await?;
    // Under the store's lock, so concurrent uploads of one file leave the file on disk and
    // its row from the same upload.
    api.store.tx(|tx| {
        found(row(tx, "SELECT 1 FROM modules WHERE id = ?1", [&t.module_id], |_| Ok(())), "module", &t.module_id)?;
        exec(tx,
            "INSERT INTO module_files(module_id, version, platform, path, size, sha256, uploaded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(module_id, version, platform) DO UPDATE SET
               path = excluded.path, size = excluded.size, sha256 = excluded.sha256, uploaded_at = excluded.uploaded_at",
            params![t.module_id, t.version, t.platform, t.rel_path.to_string_lossy(), size as i64, sha256, now()],
        )?;
        // Last: a failed rename rolls the row back.
        std::fs::rename(&part.0, &dest)?;
        Ok(())
    })?;
    Ok(UploadModuleFileResponse {
        url: local_url(&t.module_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_urls_are_empty_or_http_urls_with_a_host() {
        for ok in [
            "",
            "https://example.com/docs",
            "http://example.com:8080/a?b=c#d",
            "HTTPS://Example.com",
        ] {
            check_url(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        for bad in [
            "example.com",
            "/docs",
            "ftp://example.com/x",
            "javascript:alert(1)",
            "https://",
            "http://:80",
            "https://exa mple.com",
            "file:///etc/passwd",
        ] {
            let e = check_url(bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad:?}");
            assert!(e.to_string().starts_with("url: "), "{bad:?}: {e}");
        }
    }

    #[test]
    fn versions_must_be_semantic() {
        for ok in ["1.2.3", "0.0.1-rc.1", "10.0.0+build-7", "1.0.0-alpha-2+x.y"] {
            check_version(ok).unwrap();
        }
        for bad in [
            "",
            "1.2",
            "v1.2.3",
            "1.2.3/..",
            "../1.2.3",
            "1.2.3-",
            "1.2.3-a..b",
            "1..3",
        ] {
            let e = check_version(bad).unwrap_err();
            assert!(
                e.to_string().starts_with("module_file_info.version"),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn platforms_map_to_safe_distinct_file_names() {
        assert_eq!(platform_file("linux/amd64").unwrap(), "linux_amd64");
        assert_eq!(platform_file("any").unwrap(), "any");
        for bad in [
            "",
            "..",
            "../x",
            "linux/..",
            "/etc",
            "a//b",
            "a/b/c/d",
            "linux_amd64",
            ".hidden",
            "a\\b",
        ] {
            let e = platform_file(bad).unwrap_err();
            assert!(
                e.to_string().starts_with("module_file_info.platform"),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn names_and_dirs_are_restricted() {
        validate_name("my_mod-2").unwrap();
        for bad in ["", "a b", "a/b", "a:b", ".."] {
            assert_eq!(
                validate_name(bad).unwrap_err().code(),
                tonic::Code::InvalidArgument
            );
        }
        assert_eq!(module_dir("ns:../x"), "ns____x");
    }
}
