//! `viam.app.packages.v1.PackageService`: an organization's packages (ML
//! models, archives, modules, SLAM maps, training scripts), each version stored as a record with
//! its bytes in `<data_dir>/packages/<file_id>`, a UUID the server makes: a package's name,
//! version or file names never become a path. A package's id is `<organization id>/<name>`, as
//! upstream's; one id has many versions, each of one type. A grant on the organization reads
//! its packages (read_organization: owners and operators), owners write them. GetPackage and ListPackages answer a
//! download URL when asked (`include_url`): a signed URL of the fleet's own address
//! (data/signed_urls.rs) that serves the stored bytes for 15 minutes to whoever holds it. The
//! checksum is the hex SHA-256 of the bytes.

use std::path::PathBuf;
use std::sync::Arc;

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tonic::{Status, Streaming};

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::call::rpc_table;
use super::error::{ApiError, ApiResult, required};
use super::limits;
use super::store::{exec, new_id, now, to_ts};
use crate::proto::viam::app::packages::v1::create_package_request::Package as Packet;
use crate::proto::viam::app::packages::v1::package_service_server::PackageService;
use crate::proto::viam::app::packages::v1::*;

rpc_table! {
    impl PackageService for PackageSvc;
    unary {
        delete_package(DeletePackageRequest) -> DeletePackageResponse = delete_package;
        get_package(GetPackageRequest) -> GetPackageResponse = get_package;
        list_packages(ListPackagesRequest) -> ListPackagesResponse = list_packages;
    }
    server_streaming {}
    client_streaming {
        create_package(CreatePackageRequest) -> CreatePackageResponse = create_package;
    }
}

/// The version GetPackage resolves to the newest one.
const LATEST: &str = "latest";

fn dir(api: &Api) -> PathBuf {
    api.data_dir.join("packages")
}

/// The bytes' file of a stored package: `file_id` is always one the server made.
fn file_of(api: &Api, file_id: &str) -> ApiResult<PathBuf> {
    match uuid::Uuid::parse_str(file_id) {
        Ok(u) if u.hyphenated().to_string() == file_id => Ok(dir(api).join(file_id)),
        _ => Err(ApiError::Internal(format!(
            "stored package file id {file_id:?} is not one the server made"
        ))),
    }
}

fn package_id(org_id: &str, name: &str) -> String {
    format!("{org_id}/{name}")
}

/// The organization and name of a package id, `<organization id>/<name>`.
fn split_id(id: &str) -> ApiResult<(&str, &str)> {
    let id = required("id", id)?;
    id.split_once('/')
        .filter(|(o, n)| !o.is_empty() && !n.is_empty())
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "package {id:?} not found: a package id is <organization id>/<name>"
            ))
        })
}

/// A package name or version: not empty, no `/` (the id's separator), no control characters,
/// not `.` or `..`.
fn checked<'a>(field: &str, v: &'a str) -> ApiResult<&'a str> {
    let v = required(field, v)?;
    if v.contains('/')
        || v.contains('\\')
        || v.chars().any(char::is_control)
        || v == "."
        || v == ".."
    {
        return Err(ApiError::invalid(
            field,
            format!("{v:?} may not hold '/', '\\', control characters, or be '.' or '..'"),
        ));
    }
    Ok(v)
}

fn check_type(field: &str, t: i32, allow_unspecified: bool) -> ApiResult<()> {
    match PackageType::try_from(t) {
        Ok(PackageType::Unspecified) if !allow_unspecified => Err(ApiError::invalid(
            field,
            "required (PACKAGE_TYPE_ML_MODEL, PACKAGE_TYPE_ARCHIVE, ...)",
        )),
        Ok(_) => Ok(()),
        Err(_) => Err(ApiError::invalid(
            field,
            format!("{t} is not a known value"),
        )),
    }
}

fn org_scope(c: &Connection, who: &Principal, perm: Perm, org_id: &str) -> ApiResult<()> {
    let scope = Scope::organization(c, org_id)?;
    who.require(perm, &scope)
}

/// As `org_scope` for the organization of package `id`: an unknown organization is an unknown
/// package.
fn package_scope(
    c: &Connection,
    who: &Principal,
    perm: Perm,
    id: &str,
    org_id: &str,
) -> ApiResult<()> {
    org_scope(c, who, perm, org_id).map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::NotFound(format!("package {id:?} not found")),
        e => e,
    })
}

/// A temporary upload file, removed unless it was moved into place.
struct PartFile(PathBuf);

impl Drop for PartFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn stream_error(s: Status) -> ApiError {
    ApiError::InvalidArgument(format!("reading the upload stream failed: {}", s.message()))
}

/// The info first, then the bytes in any number of messages; the bytes go to a file as they
/// arrive. Refused before any byte is kept: a caller without write access to the organization,
/// bad names, or a version of that name and type that exists already.
pub async fn create_package(
    api: Arc<Api>,
    who: Principal,
    mut stream: Streaming<CreatePackageRequest>,
) -> ApiResult<CreatePackageResponse> {
    let first = stream.message().await.map_err(stream_error)?;
    if let Some(first) = &first {
        limits::check("create_package", first)?;
    }
    let mut info = match first.and_then(|m| m.package) {
        Some(Packet::Info(i)) => i,
        Some(Packet::Contents(_)) => {
            return Err(ApiError::invalid(
                "info",
                "must be the first message, before any contents",
            ));
        }
        None => return Err(ApiError::invalid("info", "required as the first message")),
    };
    let name = checked("info.name", &info.name)?.to_string();
    let version = checked("info.version", &info.version)?.to_string();
    check_type("info.type", info.r#type, false)?;
    let org_id = info.organization_id.clone();
    let kind = info.r#type;
    let exists = |c: &Connection| -> ApiResult<()> {
        org_scope(c, &who, Perm::WriteOrganization, &org_id)?;
        let taken: bool = c
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM packages WHERE org_id = ?1 AND name = ?2 AND type = ?3 AND version = ?4)",
            )?
            .query_row(params![org_id, name, kind, version], |r| r.get(0))?;
        if taken {
            return Err(ApiError::AlreadyExists(format!(
                "package {:?} already has version {version:?} of this type: upload a new version",
                package_id(&org_id, &name)
            )));
        }
        Ok(())
    };
    api.store.read(|c| exists(c))?;
    std::fs::create_dir_all(dir(&api))?;
    let part = PartFile(dir(&api).join(format!(".upload-{}.part", new_id())));
    let mut file = tokio::fs::File::create(&part.0).await?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    while let Some(msg) = stream.message().await.map_err(stream_error)? {
        match msg.package {
            Some(Packet::Contents(bytes)) => {
                size += bytes.len() as u64;
                hasher.update(&bytes);
                file.write_all(&bytes).await?;
            }
            Some(Packet::Info(_)) => {
                return Err(ApiError::invalid("info", "sent twice; send it once, first"));
            }
            None => {}
        }
    }
    file.sync_data().await?;
    drop(file);
    let checksum = hex::encode(hasher.finalize());
    info.name = name.clone();
    info.version = version.clone();
    let file_id = new_id();
    let dest = file_of(&api, &file_id)?;
    api.store.tx(|tx| {
        exists(tx)?;
        exec(
            tx,
            "INSERT INTO packages(file_id, org_id, name, version, type, platform, info, size,
                 checksum, created_on)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                file_id,
                org_id,
                name,
                version,
                info.r#type,
                info.platform,
                info.encode_to_vec(),
                size as i64,
                checksum,
                now()
            ],
        )?;
        // Inside the transaction: a failed move rolls the row back.
        std::fs::rename(&part.0, &dest)?;
        Ok(())
    })?;
    Ok(CreatePackageResponse {
        id: package_id(&org_id, &name),
        version,
    })
}

const COLUMNS: &str = "file_id, org_id, name, info, checksum, created_on";

/// A stored package, with the file id of its bytes (for a URL of them).
fn package_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Package, String)> {
    let file_id: String = r.get(0)?;
    let org_id: String = r.get(1)?;
    let name: String = r.get(2)?;
    let blob: Vec<u8> = r.get(3)?;
    let info = PackageInfo::decode(blob.as_slice()).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Blob, Box::new(e))
    })?;
    let package = Package {
        id: package_id(&org_id, &name),
        info: Some(info),
        url: String::new(),
        created_on: Some(to_ts(r.get(5)?)),
        checksum: r.get(4)?,
    };
    Ok((package, file_id))
}

/// The packages of `rows`, each with a signed URL of its bytes when `include_url` (recorded in
/// `c`, a transaction then).
fn with_urls(
    api: &Api,
    c: &Connection,
    rows: Vec<(Package, String)>,
    include_url: bool,
) -> ApiResult<Vec<Package>> {
    rows.into_iter()
        .map(|(mut p, file_id)| {
            if include_url {
                let what = super::data::signed_urls::Signed::Package(&file_id);
                let minutes = super::data::signed_urls::DEFAULT_MINUTES;
                p.url = super::data::signed_urls::sign(api, c, what, minutes)?.0;
            }
            Ok(p)
        })
        .collect()
}

/// Runs `f` in a transaction when URLs are asked for (signing one records its token), else in
/// a read.
fn reading<T>(
    api: &Api,
    include_url: bool,
    f: impl FnOnce(&Connection) -> ApiResult<T>,
) -> ApiResult<T> {
    if include_url {
        api.store.tx(|tx| f(tx))
    } else {
        api.store.read(f)
    }
}

/// What a signed URL of a package version's bytes serves (data/signed_urls.rs).
pub(super) fn served(
    api: &Api,
    c: &Connection,
    file_id: &str,
) -> ApiResult<Option<super::data::signed_urls::Served>> {
    let size: Option<i64> = c
        .prepare_cached("SELECT size FROM packages WHERE file_id = ?1")?
        .query_row([file_id], |r| r.get(0))
        .optional()?;
    let Some(size) = size else {
        return Ok(None);
    };
    Ok(Some(super::data::signed_urls::Served {
        path: file_of(api, file_id)?,
        mime: "application/octet-stream".into(),
        size,
        file_name: None,
    }))
}

/// One version (or the newest, `latest`) of a package, of the type and platform asked if
/// they are given.
pub fn get_package(
    api: &Api,
    who: &Principal,
    req: GetPackageRequest,
) -> ApiResult<GetPackageResponse> {
    let (org_id, name) = split_id(&req.id)?;
    let version = required("version", &req.version)?;
    let t = req.r#type.unwrap_or(0);
    check_type("type", t, true)?;
    let include_url = req.include_url.unwrap_or(false);
    reading(api, include_url, |c| {
        package_scope(c, who, Perm::ReadOrganization, &req.id, org_id)?;
        let sql = format!(
            "SELECT {COLUMNS} FROM packages WHERE org_id = ?1 AND name = ?2
                 AND (?6 OR version = ?3) AND (?4 = 0 OR type = ?4)
                 AND (?5 IS NULL OR platform = ?5)
             ORDER BY created_on DESC, file_id DESC LIMIT 1"
        );
        let mut stmt = c.prepare_cached(&sql)?;
        let found = stmt
            .query_map(
                params![org_id, name, version, t, req.platform, version == LATEST],
                package_of,
            )?
            .next()
            .transpose()?;
        let found = with_urls(api, c, found.into_iter().collect(), include_url)?;
        let package = found.into_iter().next().ok_or_else(|| {
            ApiError::NotFound(format!(
                "package {:?} version {version:?} not found",
                req.id
            ))
        })?;
        Ok(GetPackageResponse {
            package: Some(package),
        })
    })
}

/// The organization's packages, every version, newest first, filtered by name, version and type.
pub fn list_packages(
    api: &Api,
    who: &Principal,
    req: ListPackagesRequest,
) -> ApiResult<ListPackagesResponse> {
    let t = req.r#type.unwrap_or(0);
    check_type("type", t, true)?;
    let include_url = req.include_url.unwrap_or(false);
    reading(api, include_url, |c| {
        org_scope(c, who, Perm::ReadOrganization, &req.organization_id)?;
        let sql = format!(
            "SELECT {COLUMNS} FROM packages WHERE org_id = ?1 AND (?2 IS NULL OR name = ?2)
                 AND (?3 IS NULL OR version = ?3) AND (?4 = 0 OR type = ?4)
             ORDER BY created_on DESC, file_id DESC"
        );
        let mut stmt = c.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(
                params![req.organization_id, req.name, req.version, t],
                package_of,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        let packages = with_urls(api, c, rows, include_url)?;
        Ok(ListPackagesResponse { packages })
    })
}

/// The bytes' files of an organization's packages, for deleting the organization (its cascade
/// removes the rows; `remove_files` the files once that committed).
pub(super) fn files_of_org(c: &Connection, org_id: &str) -> ApiResult<Vec<String>> {
    let mut stmt = c.prepare_cached("SELECT file_id FROM packages WHERE org_id = ?1")?;
    let files = stmt
        .query_map([org_id], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(files)
}

/// Removes the files of packages whose rows are gone; call after the deletion committed, so a
/// rollback keeps them.
pub(super) fn remove_files(api: &Api, file_ids: &[String]) {
    for f in file_ids {
        if let Ok(p) = file_of(api, f) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Deletes one version of a package (of one type, or of every type when none is given) with
/// its bytes.
pub fn delete_package(
    api: &Api,
    who: &Principal,
    req: DeletePackageRequest,
) -> ApiResult<DeletePackageResponse> {
    let (org_id, name) = split_id(&req.id)?;
    let version = required("version", &req.version)?;
    check_type("type", req.r#type, true)?;
    let files: Vec<String> = api.store.tx(|tx| {
        package_scope(tx, who, Perm::WriteOrganization, &req.id, org_id)?;
        let mut stmt = tx.prepare_cached(
            "DELETE FROM packages WHERE org_id = ?1 AND name = ?2 AND version = ?3
                 AND (?4 = 0 OR type = ?4)
             RETURNING file_id",
        )?;
        let files = stmt
            .query_map(params![org_id, name, version, req.r#type], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        if files.is_empty() {
            return Err(ApiError::NotFound(format!(
                "package {:?} version {version:?} not found",
                req.id
            )));
        }
        Ok(files)
    })?;
    remove_files(api, &files);
    Ok(DeletePackageResponse {})
}
