//! Sequence dataset exports. StartSequenceDatasetExport snapshots a
//! DATASET_TYPE_SEQUENCE_DATA dataset into a tar archive in `<data_dir>/exports/<job id>.tar`
//! (a name the server makes): `manifest.json` (the dataset, its sequences with the ids of the
//! binary data each selects, and that data's metadata) and `binary/<binary data id>`, each
//! payload's bytes once. The archive is built on a thread of its own while the job reads
//! RUNNING, then COMPLETED (or FAILED with the reason); GetSequenceDatasetExport answers the
//! job and, once COMPLETED, a signed URL of the archive (signed_urls.rs) valid for 15 minutes
//! of the fleet's clock, a new one at every call. The archive and the job go with the dataset.
//!
//! The builder holds an exclusive lock on `<job id>.lock` while it runs and leaves the archive
//! (or `<job id>.failed`, saying why) before it lets go; the job's next read records the end.
//! A RUNNING job whose lock nobody holds and that left nothing was cut short by the fleet
//! stopping (its process died), and reads FAILED, saying to start it again.
//!
//! Who may: exporting a dataset, or reading an export, reads all of the organization's data in
//! it, so both need a data-reading grant on the whole organization.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use fs4::FileExt;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use super::{binary_path, parse_tags};
use crate::proto::viam::app::dataset::v1::{
    GetSequenceDatasetExportRequest, GetSequenceDatasetExportResponse,
    SequenceDatasetExportStatus as Status, StartSequenceDatasetExportRequest,
    StartSequenceDatasetExportResponse,
};
use crate::server::Api;
use crate::server::authz::{Perm, Principal, Scope};
use crate::server::error::{ApiError, ApiResult, required};
use crate::server::store::{exec, new_id, now, to_ts};

/// The archive's media type, as its signed URL serves it.
const MIME: &str = "application/x-tar";
/// What manifest.json says it is, so a reader can tell the layout.
const FORMAT: &str = "fleetsh-sequence-export/1";

const RESTART: &str = "the fleet stopped while this export ran; start it again \
     (cloud.data.start_sequence_dataset_export, DatasetService/StartSequenceDatasetExport)";

fn dir(api: &Api) -> PathBuf {
    api.data_dir.join("exports")
}

fn archive_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.tar"))
}

fn part_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.tar.part"))
}

fn lock_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.lock"))
}

fn failed_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.failed"))
}

fn io_error(what: &str, e: std::io::Error) -> ApiError {
    ApiError::Internal(format!("sequence export: {what}: {e}"))
}

/// A job id as the server makes them (a UUID); anything else names no job and never reaches
/// a path.
fn checked_job(id: &str) -> ApiResult<&str> {
    let id = required("job_id", id)?;
    match uuid::Uuid::parse_str(id) {
        Ok(u) if u.hyphenated().to_string() == id => Ok(id),
        _ => Err(ApiError::not_found("sequence dataset export job", id)),
    }
}

/// A stored job.
struct Job {
    id: String,
    org_id: String,
    status: i32,
    error: String,
    created: i64,
    completed: Option<i64>,
}

fn job(c: &Connection, id: &str) -> ApiResult<Job> {
    c.prepare_cached(
        "SELECT id, org_id, status, error_message, created_at, completed_at
         FROM sequence_exports WHERE id = ?1",
    )?
    .query_row([id], |r| {
        Ok(Job {
            id: r.get(0)?,
            org_id: r.get(1)?,
            status: r.get(2)?,
            error: r.get(3)?,
            created: r.get(4)?,
            completed: r.get(5)?,
        })
    })
    .optional()?
    .ok_or_else(|| ApiError::not_found("sequence dataset export job", id))
}

/// The job `id`, once the caller may read all data of its organization.
fn usable(c: &Connection, who: &Principal, id: &str) -> ApiResult<Job> {
    let j = job(c, id)?;
    who.require(Perm::ReadRobotDataManagement, &Scope::stored_org(&j.org_id))?;
    Ok(j)
}

/// The exclusive lock its builder holds on a job while it runs.
fn take_lock(dir: &Path, id: &str) -> ApiResult<File> {
    let path = lock_path(dir, id);
    let f = File::create(&path).map_err(|e| io_error("creating its lock", e))?;
    FileExt::try_lock(&f).map_err(|e| {
        ApiError::Internal(format!(
            "sequence export: locking {}: {e:?}",
            path.display()
        ))
    })?;
    Ok(f)
}

/// True while some builder (in this process or another) holds the job's lock.
fn building(dir: &Path, id: &str) -> bool {
    let Ok(f) = File::open(lock_path(dir, id)) else {
        return false;
    };
    match FileExt::try_lock(&f) {
        Ok(()) => false,
        Err(fs4::TryLockError::WouldBlock) => true,
        // Unknown: do not call a job dead that may be running.
        Err(fs4::TryLockError::Error(_)) => true,
    }
}

/// RFC 3339 as the Lua side writes times: whole seconds without a fraction.
fn rfc3339(nanos: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos.max(0) as u64);
    if nanos % 1_000_000_000 == 0 {
        humantime::format_rfc3339_seconds(t).to_string()
    } else {
        humantime::format_rfc3339_nanos(t).to_string()
    }
}

/// What a builder writes: the manifest, and each payload's file with its name in the archive.
struct Plan {
    manifest: Vec<u8>,
    payloads: Vec<(PathBuf, String)>,
    mtime: u64,
}

/// The archive's plan for dataset `d`, read in one snapshot.
fn plan(api: &Api, c: &Connection, d: &super::datasets::Stored, job_id: &str) -> ApiResult<Plan> {
    let t = now();
    let sequences = super::sequences::with_binary_ids(c, &d.id)?;
    let mut ids: Vec<String> = sequences.iter().flat_map(|(_, b)| b.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut stmt = c.prepare_cached(
        "SELECT component_type, component_name, method_name, mime_type, file_name, file_ext,
             time_requested, time_received, size, sha256, tags, part_id
         FROM data_binary WHERE id = ?1",
    )?;
    let mut binary = Vec::with_capacity(ids.len());
    let mut payloads = Vec::with_capacity(ids.len());
    for id in &ids {
        let entry = format!("binary/{id}");
        let meta = stmt.query_row([id], |r| {
            Ok(json!({
                "binary_data_id": id,
                "path": entry,
                "part_id": r.get::<_, String>(11)?,
                "component_type": r.get::<_, String>(0)?,
                "component_name": r.get::<_, String>(1)?,
                "method_name": r.get::<_, String>(2)?,
                "mime_type": r.get::<_, String>(3)?,
                "file_name": r.get::<_, String>(4)?,
                "file_ext": r.get::<_, String>(5)?,
                "time_requested": rfc3339(r.get(6)?),
                "time_received": rfc3339(r.get(7)?),
                "size": r.get::<_, i64>(8)?,
                "sha256": r.get::<_, String>(9)?,
                "tags": parse_tags(&r.get::<_, String>(10)?),
            }))
        })?;
        binary.push(meta);
        payloads.push((binary_path(api, id)?, entry));
    }
    let ts = |t: &Option<prost_types::Timestamp>| {
        t.as_ref().map_or(Value::Null, |t| {
            rfc3339(crate::server::store::from_ts(t)).into()
        })
    };
    let sequences: Vec<Value> = sequences
        .iter()
        .map(|(s, ids)| {
            json!({
                "id": s.id,
                "part_id": s.part_id,
                "resources": s.resources.iter().map(|r| json!({
                    "resource_name": r.resource_name, "method_name": r.method_name,
                })).collect::<Vec<_>>(),
                "sequence_tags": s.sequence_tags,
                "start_time": ts(&s.start_time),
                "end_time": ts(&s.end_time),
                "binary_data_ids": ids,
            })
        })
        .collect();
    let manifest = json!({
        "format": FORMAT,
        "job_id": job_id,
        "exported_at": rfc3339(t),
        "dataset": {"id": d.id, "name": d.name, "organization_id": d.org_id},
        "sequences": sequences,
        "binary_data": binary,
    });
    let manifest = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| ApiError::Internal(format!("sequence export manifest: {e}")))?;
    Ok(Plan {
        manifest,
        payloads,
        mtime: (t / 1_000_000_000).max(0) as u64,
    })
}

fn header(size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

/// Writes the archive of `plan` as `<id>.tar.part`, then renames it `<id>.tar`; its size.
fn write_archive(dir: &Path, id: &str, plan: &Plan) -> Result<u64, String> {
    let part = part_path(dir, id);
    let file = File::create(&part).map_err(|e| format!("cannot create the archive: {e}"))?;
    let mut tar = tar::Builder::new(BufWriter::new(file));
    let io = |e: std::io::Error| format!("cannot write the archive: {e}");
    tar.append_data(
        &mut header(plan.manifest.len() as u64, plan.mtime),
        "manifest.json",
        plan.manifest.as_slice(),
    )
    .map_err(io)?;
    for (path, entry) in &plan.payloads {
        let payload = File::open(path).map_err(|e| {
            format!("the payload of {entry} was deleted while the export ran ({e}); start it again")
        })?;
        let size = payload.metadata().map_err(io)?.len();
        tar.append_data(&mut header(size, plan.mtime), entry, payload)
            .map_err(io)?;
    }
    let mut out = tar.into_inner().map_err(io)?;
    out.flush().map_err(io)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    // Its completion time (completed_at), set exactly: the kernel's own mtimes lag by a tick.
    file.set_modified(std::time::SystemTime::now())
        .map_err(io)?;
    file.sync_all().map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    drop(file);
    std::fs::rename(&part, archive_path(dir, id)).map_err(io)?;
    Ok(size)
}

/// Builds the archive, leaving `<id>.tar` or, when it fails, `<id>.failed` holding why. The
/// builder never writes the database (the store's one writer connection would find its
/// snapshot stale and fail): the job's next read records how it ended, from these files,
/// once the lock says the builder is done. The lock goes last.
fn build(dir: PathBuf, id: String, plan: Plan, lock: File) {
    match write_archive(&dir, &id, &plan) {
        Ok(size) => tracing::info!(job = %id, bytes = size, "sequence export completed"),
        Err(e) => {
            tracing::warn!(job = %id, error = %e, "sequence export failed");
            let _ = std::fs::remove_file(part_path(&dir, &id));
            let written = File::create(failed_path(&dir, &id)).and_then(|mut f| {
                f.write_all(e.as_bytes())?;
                f.set_modified(std::time::SystemTime::now())
            });
            if let Err(w) = written {
                tracing::warn!(job = %id, error = %w, "recording a failed sequence export");
            }
        }
    }
    drop(lock);
    let _ = std::fs::remove_file(lock_path(&dir, &id));
}

/// How a job whose builder is done ended, from what it left: (status, error, completed_at,
/// size). Nothing left means the fleet stopped while it ran.
fn outcome(dir: &Path, id: &str) -> (Status, String, i64, i64) {
    let mtime = |m: &std::fs::Metadata| {
        m.modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or_else(now, |d| d.as_micros() as i64 * 1000)
    };
    if let Ok(m) = std::fs::metadata(archive_path(dir, id)) {
        return (Status::Completed, String::new(), mtime(&m), m.len() as i64);
    }
    let failed = failed_path(dir, id);
    if let (Ok(m), Ok(why)) = (std::fs::metadata(&failed), std::fs::read_to_string(&failed)) {
        return (Status::Failed, why, mtime(&m), 0);
    }
    (Status::Failed, RESTART.into(), now(), 0)
}

pub fn start_sequence_dataset_export(
    api: &Api,
    who: &Principal,
    req: StartSequenceDatasetExportRequest,
) -> ApiResult<StartSequenceDatasetExportResponse> {
    let dataset_id = required("dataset_id", &req.dataset_id)?;
    let id = new_id();
    let dir = dir(api);
    std::fs::create_dir_all(&dir).map_err(|e| io_error("creating its directory", e))?;
    // Locked before the job's row exists, so no reader ever sees a RUNNING job unlocked.
    let lock = take_lock(&dir, &id)?;
    let planned = api.store.tx(|tx| {
        let d = super::datasets::get(tx, "dataset_id", dataset_id)?;
        who.require(Perm::ReadRobotDataManagement, &Scope::stored_org(&d.org_id))?;
        d.holds_sequences("dataset_id")?;
        let plan = plan(api, tx, &d, &id)?;
        exec(
            tx,
            "INSERT INTO sequence_exports(id, org_id, dataset_id, status, error_message,
                 created_at, completed_at, size)
             VALUES (?1, ?2, ?3, ?4, '', ?5, NULL, 0)",
            params![id, d.org_id, d.id, Status::Running as i32, now()],
        )?;
        Ok(plan)
    });
    let plan = match planned {
        Ok(p) => p,
        Err(e) => {
            drop(lock);
            let _ = std::fs::remove_file(lock_path(&dir, &id));
            return Err(e);
        }
    };
    remove_orphans(api);
    let job_id = id.clone();
    std::thread::Builder::new()
        .name("sequence-export".into())
        .spawn(move || build(dir, id, plan, lock))
        .map_err(|e| io_error("starting its thread", e))?;
    Ok(StartSequenceDatasetExportResponse { job_id })
}

pub fn get_sequence_dataset_export(
    api: &Api,
    who: &Principal,
    req: GetSequenceDatasetExportRequest,
) -> ApiResult<GetSequenceDatasetExportResponse> {
    let id = checked_job(&req.job_id)?;
    let mut j = api.store.read(|c| usable(c, who, id))?;
    if j.status == Status::Running as i32 && !building(&dir(api), id) {
        let (status, error, completed, size) = outcome(&dir(api), id);
        j = api.store.tx(|tx| {
            exec(
                tx,
                "UPDATE sequence_exports SET status = ?2, error_message = ?3, completed_at = ?4,
                     size = ?5
                 WHERE id = ?1 AND status = ?6",
                params![
                    id,
                    status as i32,
                    error,
                    completed,
                    size,
                    Status::Running as i32
                ],
            )?;
            usable(tx, who, id)
        })?;
        remove_orphans(api);
    }
    let (download_url, expires_at) = if j.status == Status::Completed as i32 {
        let (url, expires) = api.store.tx(|tx| {
            usable(tx, who, id)?;
            super::signed_urls::sign(
                api,
                tx,
                super::signed_urls::Signed::Export(id),
                super::signed_urls::DEFAULT_MINUTES,
            )
        })?;
        (url, Some(to_ts(expires)))
    } else {
        (String::new(), None)
    };
    Ok(GetSequenceDatasetExportResponse {
        job_id: j.id,
        status: j.status,
        download_url,
        expires_at,
        error_message: j.error,
        created_at: Some(to_ts(j.created)),
        completed_at: j.completed.map(to_ts),
    })
}

/// What a signed URL of an export serves (signed_urls.rs): a completed job's archive.
pub(super) fn served(
    api: &Api,
    c: &Connection,
    id: &str,
) -> ApiResult<Option<super::signed_urls::Served>> {
    let size: Option<i64> = c
        .prepare_cached("SELECT size FROM sequence_exports WHERE id = ?1 AND status = ?2")?
        .query_row(params![id, Status::Completed as i32], |r| r.get(0))
        .optional()?;
    let id = checked_job(id)?;
    Ok(size.map(|size| super::signed_urls::Served {
        path: archive_path(&dir(api), id),
        mime: MIME.into(),
        size,
        file_name: Some(format!("sequence-export-{id}.tar")),
    }))
}

/// Removes the exports' files that no job needs: archives whose job is gone (with its dataset
/// or organization), and what builders cut short left behind once their job reads FAILED. Best effort: a file that cannot
/// be removed now is removed by a later call.
pub(in crate::server) fn remove_orphans(api: &Api) {
    let dir = dir(api);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let jobs: Vec<(String, i32)> = match api.store.read(|c| {
        let mut stmt = c.prepare_cached("SELECT id, status FROM sequence_exports")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }) {
        Ok(j) => j,
        Err(e) => {
            tracing::warn!(error = %e, "listing sequence exports failed");
            return;
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((id, ext)) = name.split_once('.') else {
            continue;
        };
        let status = jobs.iter().find(|(j, _)| j == id).map(|(_, s)| *s);
        let running = status.is_none_or(|s| s == Status::Running as i32);
        let needed = match ext {
            // What a builder left for its job's next read to record.
            "tar" => status.is_some_and(|s| s != Status::Failed as i32),
            "failed" => status == Some(Status::Running as i32),
            // A job without a row yet may be starting (its lock taken, its row not committed).
            "tar.part" | "lock" => running || building(&dir, id),
            _ => true,
        };
        if !needed {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_building_exactly_while_its_lock_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let id = new_id();
        assert!(!building(dir.path(), &id), "no lock file: not building");
        let lock = take_lock(dir.path(), &id).unwrap();
        assert!(building(dir.path(), &id), "held: building");
        drop(lock);
        assert!(!building(dir.path(), &id), "released: its builder is gone");
    }

    #[test]
    fn only_server_made_job_ids_name_jobs() {
        assert_eq!(
            checked_job("").unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        let id = new_id();
        assert_eq!(checked_job(&id).unwrap(), id);
        for bad in ["../x", "a/b", &format!("{id}/..")] {
            assert_eq!(
                checked_job(bad).unwrap_err().code(),
                tonic::Code::NotFound,
                "{bad}"
            );
        }
    }
}
