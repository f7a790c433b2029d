//! SQLite storage of the local fleet: one file, WAL, schema migrations, and the small helpers
//! every area uses (ids, clocks, secrets). Each area's queries live in that area's file.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use rand::distr::Alphanumeric;
use rusqlite::hooks::Action;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use rusqlite_migration::{M, Migrations};
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult};

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("schema.sql")),
    // Name clashes are checked on every machine write; without this index that check walks
    // every machine of the location (2,000 writes into a 10,000-machine location: 5x slower).
    M::up("CREATE INDEX robots_location_name ON robots(location_id, name);"),
    // robots_location_name serves every lookup by location too; one index less per write.
    M::up("DROP INDEX robots_location;"),
    // Log seqs are the tails' cursor: without AUTOINCREMENT, deleting the machine that logged
    // last handed its seqs to the next entries of other parts, which live tails had passed.
    M::up(
        "CREATE TABLE logs_new (
             seq INTEGER PRIMARY KEY AUTOINCREMENT,
             part_id TEXT NOT NULL,
             time INTEGER NOT NULL,
             level TEXT NOT NULL,
             message TEXT NOT NULL,
             entry BLOB NOT NULL
         );
         INSERT INTO logs_new SELECT seq, part_id, time, level, message, entry FROM logs;
         DROP TABLE logs;
         ALTER TABLE logs_new RENAME TO logs;
         CREATE INDEX logs_part_time ON logs(part_id, time, seq);",
    ),
    // Registry items other than modules (a module's item is its module
    // row), and the deprecation, billing and last update of every item and version.
    M::up(
        "CREATE TABLE registry_items (
             id TEXT PRIMARY KEY,
             org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
             name TEXT NOT NULL,
             item BLOB NOT NULL,
             created_on INTEGER NOT NULL,
             UNIQUE (org_id, name)
         );
         CREATE TABLE registry_extras (
             item_id TEXT PRIMARY KEY,
             deprecated_at INTEGER,
             deprecated_message TEXT,
             billing BLOB,
             updated_on INTEGER
         );
         CREATE TABLE registry_version_deprecations (
             item_id TEXT NOT NULL,
             version TEXT NOT NULL,
             deprecated_at INTEGER NOT NULL,
             message TEXT NOT NULL,
             PRIMARY KEY (item_id, version)
         );
         CREATE TRIGGER modules_registry_gone AFTER DELETE ON modules BEGIN
             DELETE FROM registry_extras WHERE item_id = OLD.id;
             DELETE FROM registry_version_deprecations WHERE item_id = OLD.id;
         END;
         CREATE TRIGGER registry_items_gone AFTER DELETE ON registry_items BEGIN
             DELETE FROM registry_extras WHERE item_id = OLD.id;
             DELETE FROM registry_version_deprecations WHERE item_id = OLD.id;
         END;",
    ),
    // White-label settings of an organization (stored and returned only).
    M::up(
        "CREATE TABLE white_label (
             org_id TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
             support_email TEXT,
             logo BLOB,
             billing_enabled INTEGER NOT NULL DEFAULT 0,
             billing_address BLOB
         );",
    ),
    // An organization's Firebase app (a digest of its config, which nothing
    // here uses) and its devices' push tokens.
    M::up(
        "CREATE TABLE firebase_apps (
             org_id TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
             app_id TEXT NOT NULL UNIQUE,
             config_sha256 TEXT NOT NULL,
             set_on INTEGER NOT NULL
         );
         CREATE TABLE device_push_tokens (
             app_id TEXT NOT NULL REFERENCES firebase_apps(app_id) ON DELETE CASCADE,
             device_uuid TEXT NOT NULL,
             device_token TEXT NOT NULL,
             uploaded_on INTEGER NOT NULL,
             PRIMARY KEY (app_id, device_uuid)
         );",
    ),
    // Whether an organization's auth service (for OAuth apps) is enabled.
    M::up("ALTER TABLE white_label ADD COLUMN auth_service_enabled INTEGER NOT NULL DEFAULT 0;"),
    // User-defined metadata, one google.protobuf.Struct (encoded) per resource;
    // dropped with its resource so a deleted one leaves nothing behind.
    M::up(
        "CREATE TABLE metadata (
             resource_type TEXT NOT NULL,
             resource_id TEXT NOT NULL,
             data BLOB NOT NULL,
             PRIMARY KEY (resource_type, resource_id)
         );
         CREATE TRIGGER metadata_org_gone AFTER DELETE ON orgs BEGIN
             DELETE FROM metadata WHERE resource_type = 'organization' AND resource_id = OLD.id;
         END;
         CREATE TRIGGER metadata_location_gone AFTER DELETE ON locations BEGIN
             DELETE FROM metadata WHERE resource_type = 'location' AND resource_id = OLD.id;
         END;
         CREATE TRIGGER metadata_robot_gone AFTER DELETE ON robots BEGIN
             DELETE FROM metadata WHERE resource_type = 'robot' AND resource_id = OLD.id;
         END;
         CREATE TRIGGER metadata_part_gone AFTER DELETE ON parts BEGIN
             DELETE FROM metadata WHERE resource_type = 'part' AND resource_id = OLD.id;
         END;",
    ),
    // What UpdateOrganization was given beyond name/namespace/region/cid, kept
    // (encoded FragmentImportList / AllowedLoginMethods) and returned with the organization.
    M::up(
        "ALTER TABLE orgs ADD COLUMN default_fragments BLOB;
         ALTER TABLE orgs ADD COLUMN allowed_login_methods BLOB;",
    ),
    // Locations shared with organizations other than their own.
    M::up(
        "CREATE TABLE location_shares (
             location_id TEXT NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
             org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
             PRIMARY KEY (location_id, org_id)
         );
         CREATE INDEX location_shares_org ON location_shares(org_id);",
    ),
    // Favorite machines per caller; they go with their machine.
    M::up(
        "CREATE TABLE favorite_machines (
             principal_id TEXT NOT NULL,
             robot_id TEXT NOT NULL REFERENCES robots(id) ON DELETE CASCADE,
             created_on INTEGER NOT NULL,
             PRIMARY KEY (principal_id, robot_id)
         );
         CREATE INDEX favorite_machines_robot ON favorite_machines(robot_id);",
    ),
    // What a part reported with its last Config call (agent_info).
    M::up(
        "CREATE TABLE part_reports (
             part_id TEXT PRIMARY KEY REFERENCES parts(id) ON DELETE CASCADE,
             version TEXT NOT NULL,
             os TEXT NOT NULL,
             platform TEXT,
             reported_on INTEGER NOT NULL
         );",
    ),
    // Every revision of a fragment as it was, and tags naming revisions.
    M::up(
        "CREATE TABLE fragment_revisions (
             fragment_id TEXT NOT NULL REFERENCES fragments(id) ON DELETE CASCADE,
             revision INTEGER NOT NULL,
             snapshot BLOB NOT NULL,             -- viam.app.v1.Fragment
             created_at INTEGER NOT NULL,
             editor_type INTEGER NOT NULL,
             editor TEXT NOT NULL,
             PRIMARY KEY (fragment_id, revision)
         );
         CREATE TABLE fragment_tags (
             fragment_id TEXT NOT NULL REFERENCES fragments(id) ON DELETE CASCADE,
             tag TEXT NOT NULL,
             revision INTEGER NOT NULL,
             PRIMARY KEY (fragment_id, tag)
         );",
    ),
    // OAuth applications of an organization; the client secret as SHA-256 only.
    M::up(
        "CREATE TABLE oauth_apps (
             client_id TEXT PRIMARY KEY,
             org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
             client_name TEXT NOT NULL,
             secret_sha256 TEXT NOT NULL,
             config BLOB NOT NULL,               -- viam.app.v1.OAuthConfig
             created_on INTEGER NOT NULL
         );
         CREATE INDEX oauth_apps_org ON oauth_apps(org_id);",
    ),
    // Users signed up through an OAuth app (CreateOAuthAppUser), one
    // registration per user; the password as an argon2 PHC string only.
    M::up(
        "CREATE TABLE oauth_app_users (
             registration_id TEXT PRIMARY KEY,
             client_id TEXT NOT NULL REFERENCES oauth_apps(client_id) ON DELETE CASCADE,
             user_id TEXT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
             first_name TEXT NOT NULL,
             last_name TEXT NOT NULL,
             password_hash TEXT NOT NULL,
             created_on INTEGER NOT NULL
         );
         CREATE INDEX oauth_app_users_app ON oauth_app_users(client_id);",
    ),
    // Captured readings and binary data with their capture metadata, as the
    // uploads sent it (names as they were at capture; data outlives its machine, as upstream).
    // Tabular `data` and every `tags` are JSON text, which SQL queries read with json_extract.
    // Binary payloads are files under <data_dir>/data/, named by the row's server-made id.
    M::up(
        "CREATE TABLE data_readings (
             id INTEGER PRIMARY KEY AUTOINCREMENT,
             org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
             location_id TEXT NOT NULL,
             robot_id TEXT NOT NULL,
             robot_name TEXT NOT NULL,
             part_id TEXT NOT NULL,
             part_name TEXT NOT NULL,
             component_type TEXT NOT NULL,
             component_name TEXT NOT NULL,
             method_name TEXT NOT NULL,
             method_parameters TEXT NOT NULL,    -- JSON object
             tags TEXT NOT NULL,                 -- JSON array of strings
             time_requested INTEGER NOT NULL,    -- Unix ns
             time_received INTEGER NOT NULL,
             time_synced INTEGER NOT NULL,
             data TEXT NOT NULL                  -- JSON object
         );
         CREATE INDEX data_readings_org_time ON data_readings(org_id, time_received);
         CREATE INDEX data_readings_source
             ON data_readings(part_id, component_name, method_name, time_received);
         CREATE TABLE data_binary (
             id TEXT PRIMARY KEY,
             seq INTEGER NOT NULL UNIQUE,         -- paging cursor, in upload order
             org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
             location_id TEXT NOT NULL,
             robot_id TEXT NOT NULL,
             robot_name TEXT NOT NULL,
             part_id TEXT NOT NULL,
             part_name TEXT NOT NULL,
             component_type TEXT NOT NULL,
             component_name TEXT NOT NULL,
             method_name TEXT NOT NULL,
             method_parameters TEXT NOT NULL,
             tags TEXT NOT NULL,
             mime_type TEXT NOT NULL,
             file_name TEXT NOT NULL,
             file_ext TEXT NOT NULL,
             time_requested INTEGER NOT NULL,
             time_received INTEGER NOT NULL,
             size INTEGER NOT NULL,
             sha256 TEXT NOT NULL
         );
         CREATE INDEX data_binary_org_time ON data_binary(org_id, time_received);
         CREATE TABLE data_bboxes (
             id TEXT PRIMARY KEY,
             binary_id TEXT NOT NULL REFERENCES data_binary(id) ON DELETE CASCADE,
             label TEXT NOT NULL,
             x_min REAL NOT NULL,
             y_min REAL NOT NULL,
             x_max REAL NOT NULL,
             y_max REAL NOT NULL,
             confidence REAL
         );
         CREATE INDEX data_bboxes_binary ON data_bboxes(binary_id);",
    ),
    // Named sets of an organization's binary data. A name is unique in its
    // organization; a membership goes when its dataset or its binary data does, the data stays
    // when its dataset goes.
    M::up(
        "CREATE TABLE datasets (
             id TEXT PRIMARY KEY,
             org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
             name TEXT NOT NULL,
             type INTEGER NOT NULL,              -- DatasetType
             time_created INTEGER NOT NULL,      -- Unix ns
             UNIQUE (org_id, name)
         );
         CREATE TABLE dataset_binary (
             dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
             binary_id TEXT NOT NULL REFERENCES data_binary(id) ON DELETE CASCADE,
             PRIMARY KEY (dataset_id, binary_id)
         ) WITHOUT ROWID;
         CREATE INDEX dataset_binary_binary ON dataset_binary(binary_id);",
    ),
    // What the billing and ML-training services were asked, stored and
    // returned only (the local fleet bills no one and trains nothing). A location without a
    // location_billing row is paid for by its own organization.
    M::up(
        "CREATE TABLE org_billing (
             org_id TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
             billing_tier TEXT
         );
         CREATE TABLE location_billing (
             location_id TEXT PRIMARY KEY REFERENCES locations(id) ON DELETE CASCADE,
             billing_org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE
         );
         CREATE TABLE training_jobs (
             id TEXT PRIMARY KEY,
             org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
             dataset_id TEXT NOT NULL,
             model_name TEXT NOT NULL,
             model_version TEXT NOT NULL,
             model_type INTEGER NOT NULL,
             model_framework INTEGER NOT NULL,
             is_custom INTEGER NOT NULL,
             registry_item_id TEXT NOT NULL,
             registry_item_version TEXT NOT NULL,
             container_id TEXT NOT NULL,
             container_version TEXT NOT NULL,
             arguments TEXT NOT NULL,            -- JSON object of strings
             tags TEXT NOT NULL,                 -- JSON array of strings
             status INTEGER NOT NULL,            -- TrainingStatus
             created_on INTEGER NOT NULL,
             last_modified INTEGER NOT NULL
         );
         CREATE INDEX training_jobs_org ON training_jobs(org_id, created_on);
         CREATE TABLE training_job_logs (
             seq INTEGER PRIMARY KEY AUTOINCREMENT,
             job_id TEXT NOT NULL REFERENCES training_jobs(id) ON DELETE CASCADE,
             time INTEGER NOT NULL,
             level TEXT NOT NULL,
             message TEXT NOT NULL
         );
         CREATE INDEX training_job_logs_job ON training_job_logs(job_id, seq);
         CREATE TABLE training_containers (
             id TEXT PRIMARY KEY,
             org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
             image_uri TEXT NOT NULL,
             description TEXT NOT NULL,
             created_on INTEGER NOT NULL
         );
         CREATE INDEX training_containers_org ON training_containers(org_id, created_on);",
    ),
    // A part's binary data between two times from named resources,
    // kept as that definition (never as binary ids, so deleting data cannot leave a dangling
    // one). The machine's place is recorded as captured data records it: a sequence outlives
    // its machine as its data does, and goes with its organization. A membership goes when
    // its dataset or its sequence does.
    M::up(
        "CREATE TABLE data_sequences (
             id TEXT PRIMARY KEY,
             seq INTEGER NOT NULL UNIQUE,         -- paging cursor, in creation order
             org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
             location_id TEXT NOT NULL,
             robot_id TEXT NOT NULL,
             part_id TEXT NOT NULL,
             resources TEXT NOT NULL,             -- JSON array of {resource_name, method_name}
             tags TEXT NOT NULL,                  -- JSON array of strings
             start_time INTEGER NOT NULL,         -- Unix ns
             end_time INTEGER NOT NULL,
             created_at INTEGER NOT NULL,
             updated_at INTEGER NOT NULL
         );
         CREATE INDEX data_sequences_org ON data_sequences(org_id, seq);
         CREATE TABLE dataset_sequences (
             dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
             sequence_id TEXT NOT NULL REFERENCES data_sequences(id) ON DELETE CASCADE,
             PRIMARY KEY (dataset_id, sequence_id)
         ) WITHOUT ROWID;
         CREATE INDEX dataset_sequences_sequence ON dataset_sequences(sequence_id);
         -- A sequence's page: one part's binary data in capture order.
         CREATE INDEX data_binary_part_time ON data_binary(part_id, time_requested, seq);",
    ),
    // Saved MQL pipelines (the stages' BSON documents back to back; each
    // carries its own length), custom index specs (recorded, not built: see indexes.rs) and
    // the tokens of signed URLs (only their hashes; a token goes with its binary data).
    M::up(
        "CREATE TABLE saved_queries (
             id TEXT PRIMARY KEY,
             org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
             name TEXT NOT NULL,
             pipeline BLOB NOT NULL,
             created_on INTEGER NOT NULL,
             updated_at INTEGER NOT NULL,
             UNIQUE (org_id, name)
         );
         CREATE TABLE data_indexes (
             org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
             collection_type INTEGER NOT NULL,   -- IndexableCollection
             pipeline_name TEXT NOT NULL,        -- '' for the hot store
             name TEXT NOT NULL,
             spec TEXT NOT NULL,                 -- JSON array of the spec's parts, base64
             created_on INTEGER NOT NULL,
             PRIMARY KEY (org_id, collection_type, pipeline_name, name)
         ) WITHOUT ROWID;
         CREATE TABLE signed_urls (
             token_hash TEXT PRIMARY KEY,
             binary_id TEXT NOT NULL REFERENCES data_binary(id) ON DELETE CASCADE,
             expires_at INTEGER NOT NULL
         ) WITHOUT ROWID;
         CREATE INDEX signed_urls_binary ON signed_urls(binary_id);
         CREATE INDEX signed_urls_expiry ON signed_urls(expires_at);",
    ),
    // Data pipelines, their runs and what each run produced (the sink,
    // queried with TabularDataByMQL's PIPELINE_SINK source); packages with their bytes in
    // <data_dir>/packages/<file_id>, a name the server makes.
    M::up(
        "CREATE TABLE data_pipelines (
             id TEXT PRIMARY KEY,
             org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
             name TEXT NOT NULL,
             mql BLOB NOT NULL,                  -- BSON {stages: [...]}
             schedule TEXT NOT NULL,             -- five-field cron, UTC
             enabled INTEGER NOT NULL,
             backfill INTEGER NOT NULL,
             data_source_type INTEGER NOT NULL,
             created_on INTEGER NOT NULL,
             updated_at INTEGER NOT NULL,
             window_start_at INTEGER NOT NULL,   -- the start of the next window to run
             UNIQUE (org_id, name)
         );
         CREATE TABLE data_pipeline_runs (
             seq INTEGER PRIMARY KEY AUTOINCREMENT,
             id TEXT NOT NULL UNIQUE,
             pipeline_id TEXT NOT NULL REFERENCES data_pipelines(id) ON DELETE CASCADE,
             started_at INTEGER NOT NULL,
             ended_at INTEGER NOT NULL,
             data_start_at INTEGER NOT NULL,
             data_end_at INTEGER NOT NULL,
             status INTEGER NOT NULL,            -- DataPipelineRunStatus
             error_message TEXT NOT NULL,
             data_source_type INTEGER NOT NULL,
             result_count INTEGER NOT NULL
         );
         CREATE INDEX data_pipeline_runs_pipeline ON data_pipeline_runs(pipeline_id, seq);
         CREATE TABLE data_pipeline_sink (
             seq INTEGER PRIMARY KEY AUTOINCREMENT,
             pipeline_id TEXT NOT NULL REFERENCES data_pipelines(id) ON DELETE CASCADE,
             run_id TEXT NOT NULL REFERENCES data_pipeline_runs(id) ON DELETE CASCADE,
             doc BLOB NOT NULL                   -- one BSON result document
         );
         CREATE INDEX data_pipeline_sink_pipeline ON data_pipeline_sink(pipeline_id, seq);
         CREATE TABLE packages (
             file_id TEXT PRIMARY KEY,           -- server-made: the name of the bytes' file
             org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
             name TEXT NOT NULL,
             version TEXT NOT NULL,
             type INTEGER NOT NULL,              -- PackageType
             platform TEXT,
             info BLOB NOT NULL,                 -- PackageInfo as sent (files, metadata)
             size INTEGER NOT NULL,
             checksum TEXT NOT NULL,             -- hex SHA-256 of the bytes
             created_on INTEGER NOT NULL,
             UNIQUE (org_id, name, type, version)
         );
         CREATE INDEX packages_org ON packages(org_id, name, created_on);",
    ),
    // A source's readings in capture-time order
    // (exports, latest readings, filter pages by part) walk this index; without it every page of
    // an export sorted all of the source's readings (100,000 exported in 10 s, not 0.3 s).
    M::up(
        "CREATE INDEX data_readings_source_time
             ON data_readings(part_id, component_name, method_name, time_requested, id);",
    ),
    // A location's machines in their listed order straight off an
    // index; ListRobots of 10,000 machines sorted them on every call.
    M::up("CREATE INDEX robots_location_created ON robots(location_id, created_on, id);"),
    // Sequence dataset export jobs (their archives in
    // <data_dir>/exports/<id>.tar), and signed URLs that name binary data, an export archive or
    // a package version: exactly one of the three, each going with what it names.
    M::up(
        "CREATE TABLE sequence_exports (
             id TEXT PRIMARY KEY,
             org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
             dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
             status INTEGER NOT NULL,            -- SequenceDatasetExportStatus
             error_message TEXT NOT NULL,
             created_at INTEGER NOT NULL,
             completed_at INTEGER,
             size INTEGER NOT NULL               -- the archive's bytes, once completed
         );
         CREATE INDEX sequence_exports_dataset ON sequence_exports(dataset_id);
         CREATE TABLE signed_urls_any (
             token_hash TEXT PRIMARY KEY,
             binary_id TEXT REFERENCES data_binary(id) ON DELETE CASCADE,
             export_id TEXT REFERENCES sequence_exports(id) ON DELETE CASCADE,
             package_file_id TEXT REFERENCES packages(file_id) ON DELETE CASCADE,
             expires_at INTEGER NOT NULL,
             CHECK ((binary_id IS NOT NULL) + (export_id IS NOT NULL)
                 + (package_file_id IS NOT NULL) = 1)
         ) WITHOUT ROWID;
         INSERT INTO signed_urls_any(token_hash, binary_id, expires_at)
             SELECT token_hash, binary_id, expires_at FROM signed_urls;
         DROP TABLE signed_urls;
         ALTER TABLE signed_urls_any RENAME TO signed_urls;
         CREATE INDEX signed_urls_binary ON signed_urls(binary_id);
         CREATE INDEX signed_urls_export ON signed_urls(export_id);
         CREATE INDEX signed_urls_package ON signed_urls(package_file_id);
         CREATE INDEX signed_urls_expiry ON signed_urls(expires_at);",
    ),
    // Server-bound lists. ListMachineSummaries sorted every part of the organization (a temp
    // B-tree, a sixth of the call): locations and parts indexed in their listed order let the
    // join walk them in order, and each new index serves the lookups of the one it replaces.
    // A reading's insert updated three indexes keyed by long text; data_readings_source
    // (by time_received) served no query that data_readings_source_time does not.
    M::up(
        "CREATE INDEX locations_org_created ON locations(org_id, created_on, id);
         DROP INDEX locations_org;
         CREATE INDEX parts_robot_order ON parts(robot_id, main_part DESC, created_on, id);
         DROP INDEX parts_robot;
         DROP INDEX data_readings_source;",
    ),
    // ListMachineSummaries looked up every listed machine's row for its name: with the name
    // in the location's listed-order index the join reads machines off the index alone. One
    // index still (ListRobots' order is its prefix), rewritten only when a machine is renamed.
    M::up(
        "CREATE INDEX robots_location_created_name ON robots(location_id, created_on, id, name);
         DROP INDEX robots_location_created;",
    ),
];

/// The page size of a database created here (one created with another keeps its own). A
/// commit writes each B-tree page it changed to the WAL whole: a new_robot changes ~10 (the
/// machine, its part and its part's secret, each in its table and its indexes), so at
/// SQLite's 4 KiB a commit wrote ~45 KB, and the kernel's per-page work and the checksums were
/// a quarter of an embedded write. Half the size halves those bytes; the lists' walks over
/// twice the pages measured the same.
const PAGE_SIZE: i64 = 2048;

/// Prepared statements kept per connection: more than every hot query of all areas together,
/// so none is parsed again per call.
const STATEMENT_CACHE: usize = 256;

/// Each connection's page cache, in KiB (SQLite's negative `cache_size`). SQLite's 2 MiB held
/// less than one list of 10,000 machines (robots and their index ~2 MiB, summaries' join
/// ~4.5 MiB), so every list read its pages again through `pread` from the WAL or the file
/// (10-15% of the serve's CPU for each list). The cache grows only with the pages a
/// connection reads, and the writer's survives its own commits.
const PAGE_CACHE_KIB: i64 = 32 * 1024;

/// How long a statement waits for another connection's lock (a write, a checkpoint, another
/// process) before failing with SQLITE_BUSY.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `f` inside BEGIN ... COMMIT on `conn` (or, for a read of one statement, bare: SQLite
/// runs a lone statement in a read transaction of its own); the flag says whether the
/// transaction ended (a read-only transaction's COMMIT does not fail in practice; ROLLBACK is
/// the fallback).
fn snapshot<T>(
    conn: &Connection,
    how: Read,
    f: impl FnOnce(&Connection) -> ApiResult<T>,
) -> (ApiResult<T>, bool) {
    if how == Read::OneStatement {
        let out = f(conn);
        return (
            out,
            conn.is_autocommit() || conn.execute_batch("ROLLBACK").is_ok(),
        );
    }
    if let Err(e) = conn.prepare_cached("BEGIN").and_then(|mut s| s.execute([])) {
        return (Err(e.into()), true);
    }
    let out = f(conn);
    let ended = conn
        .prepare_cached("COMMIT")
        .and_then(|mut s| s.execute([]))
        .is_ok()
        || conn.execute_batch("ROLLBACK").is_ok();
    (out, ended)
}

/// The writer inside a write transaction (`Store::tx`): what a function that must run inside
/// one takes, so that the type says so.
pub struct Tx<'c>(&'c Connection);

impl Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.0
    }
}

/// Rolls back the transaction still open on a connection when dropped: after `f` failed or
/// panicked, or COMMIT failed (SQLITE_BUSY leaves the transaction open).
struct RollbackUnlessEnded<'c>(&'c Connection);

impl Drop for RollbackUnlessEnded<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit() {
            // A drop cannot report a failed ROLLBACK: the next write tries again (`write`).
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

/// Runs `f` inside BEGIN ... COMMIT on the writer, committing when `f` succeeds. BEGIN and
/// COMMIT are cached statements: rusqlite's `Transaction` parses both on every write (~2% of
/// a new_robot).
fn write<T>(conn: &Connection, f: impl FnOnce(&Tx<'_>) -> ApiResult<T>) -> ApiResult<T> {
    if !conn.is_autocommit() {
        // A transaction left open by a ROLLBACK that failed in a drop: undone before this one.
        conn.execute_batch("ROLLBACK")?;
    }
    conn.prepare_cached("BEGIN")?.execute([])?;
    let _open = RollbackUnlessEnded(conn);
    let out = f(&Tx(conn))?;
    conn.prepare_cached("COMMIT")?.execute([])?;
    Ok(out)
}

/// How a read runs: its statements in one snapshot, or a single statement on its own.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    Snapshot,
    OneStatement,
}

/// A read-only connection to the database at `path` (the writer has set it up already).
fn open_reader(path: &Path) -> ApiResult<Connection> {
    let conn = open_file(path)?;
    // First, so that even the first statement waits out a checkpoint instead of failing.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // A write through a reader would dodge the writer's lock: make it fail loudly instead.
    conn.pragma_update(None, "query_only", true)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)?;
    Ok(conn)
}

/// The checkpoint thread's connection (checkpointer.rs): it waits out another checkpoint's lock
/// rather than failing at once.
pub(super) fn open_checkpointer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = open_file(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// A connection to the database file at `path`, through the VFS that writes a commit's WAL
/// frames in one write (wal_vfs.rs).
fn open_file(path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags_and_vfs(path, OpenFlags::default(), super::wal_vfs::name()?)
}

pub struct Store {
    /// The one connection that writes (and the only one of an in-memory store).
    writer: Mutex<Connection>,
    /// Where read connections are opened; `None` for an in-memory store.
    path: Option<PathBuf>,
    /// Idle read-only connections, for reads that find the writer busy: such a read takes one
    /// (opened on first need, so there are at most as many as reads ever ran at once) and puts
    /// it back; reads then run beside each other and beside a write (WAL) instead of queueing on
    /// the writer's lock. A pool crate would add a reaper thread and checkout tests for what is
    /// a Vec behind a Mutex.
    idle_readers: Mutex<Vec<Connection>>,
    /// Bumped after every commit that may have changed what a caller's grants are read from
    /// (`GRANT_TABLES`): call.rs keeps callers' principals by it.
    grants_generation: AtomicU64,
    /// What the writer's update hook saw in the current transaction.
    touched: Arc<Touched>,
    /// Checkpoints the WAL beside the writer (`None` for an in-memory store, which has none).
    checkpointer: Option<super::checkpointer::Checkpointer>,
}

/// The tables `Api::principal` reads a caller's identity and grants from.
const GRANT_TABLES: &[&str] = &[
    "api_keys",
    "users",
    "authorizations",
    "location_shares",
    "locations",
];

/// Row changes the writer's update hook reported since the last commit.
#[derive(Default)]
struct Touched {
    grants: AtomicBool,
    rows: AtomicU64,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        make_private(path)?;
        let conn = open_file(path)
            .map_err(|e| anyhow::anyhow!("cannot open database {}: {e}", path.display()))?;
        Self::init(conn, Some(path.to_path_buf()))
    }

    pub fn open_in_memory() -> anyhow::Result<Self> {
        Self::init(Connection::open_in_memory()?, None)
    }

    fn init(mut conn: Connection, path: Option<PathBuf>) -> anyhow::Result<Self> {
        // WAL + synchronous=NORMAL: a committed transaction is in the WAL before the reply
        // goes out, so it survives the process being killed (only power loss could cost the
        // last commits). busy_timeout covers a second process (e.g. sqlite3 CLI) reading.
        // Before WAL: a database's page size is set while it is empty, and only then.
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoint every 10,000 frames (~20 MB of WAL) rather than SQLite's 1,000: the
        // checkpoint runs inside some unlucky commit (copy + fsync, 5-15 ms), and a page
        // rewritten by many commits is copied once. Cut new_robot's mean from 298 to 154 us
        // (p99 9.3 ms to 0.5 ms). checkpointer.rs copies and syncs most of it beforehand.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Migrations::from_slice(MIGRATIONS).to_latest(&mut conn)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let touched = Arc::new(Touched::default());
        let seen = touched.clone();
        conn.update_hook(Some(move |_: Action, _: &str, table: &str, _: i64| {
            seen.rows.fetch_add(1, Ordering::Relaxed);
            if GRANT_TABLES.contains(&table) {
                seen.grants.store(true, Ordering::Relaxed);
            }
        }))?;
        let checkpointer = path.clone().map(super::checkpointer::Checkpointer::new);
        Ok(Self {
            writer: Mutex::new(conn),
            path,
            idle_readers: Mutex::new(Vec::new()),
            grants_generation: AtomicU64::new(0),
            touched,
            checkpointer,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (the transaction
        // rolls back on drop), so a poisoned lock is safe to reuse.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in a transaction that commits when `f` succeeds and rolls back otherwise.
    pub fn tx<T>(&self, f: impl FnOnce(&Tx<'_>) -> ApiResult<T>) -> ApiResult<T> {
        let conn = self.lock();
        let before = self.start_watch(&conn);
        let out = write(&conn, f);
        self.end_watch(&conn, before);
        drop(conn);
        if out.is_ok()
            && let Some(c) = &self.checkpointer
        {
            c.committed();
        }
        out
    }

    /// The generation of what callers' grants are read from (see `grants_generation`): equal
    /// values mean no commit changed them in between.
    pub fn grants_generation(&self) -> u64 {
        self.grants_generation.load(Ordering::Acquire)
    }

    fn start_watch(&self, conn: &Connection) -> u64 {
        self.touched.grants.store(false, Ordering::Relaxed);
        self.touched.rows.store(0, Ordering::Relaxed);
        conn.total_changes()
    }

    /// After a transaction on the writer ended (committed or not): bumps the grants generation
    /// when it touched a grant table, or changed rows the hook does not report (WITHOUT ROWID
    /// tables, truncations), which might have been such a table.
    fn end_watch(&self, conn: &Connection, before: u64) {
        let changed = conn.total_changes().saturating_sub(before);
        if self.touched.grants.load(Ordering::Relaxed)
            || changed > self.touched.rows.load(Ordering::Relaxed)
        {
            self.grants_generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Runs `f` in one read transaction: every query of `f` sees the same snapshot, and the WAL
    /// read lock is taken once rather than per statement. On the writer when it is free (so the
    /// embedded fleet never opens a second connection), else on a read-only connection, so that
    /// reads never queue behind a write.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> ApiResult<T>) -> ApiResult<T> {
        self.read_as(Read::Snapshot, f)
    }

    /// As `read`, for an `f` that runs at most one statement: without BEGIN and COMMIT, two
    /// statements of their own (~3,000 instructions of a get_robot), since SQLite reads a lone
    /// statement in one snapshot anyway. A second statement in `f` would see another snapshot.
    pub fn read_one_statement<T>(
        &self,
        f: impl FnOnce(&Connection) -> ApiResult<T>,
    ) -> ApiResult<T> {
        self.read_as(Read::OneStatement, f)
    }

    fn read_as<T>(&self, how: Read, f: impl FnOnce(&Connection) -> ApiResult<T>) -> ApiResult<T> {
        let free_writer = match self.writer.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        if let Some(conn) = free_writer {
            return self.snapshot_on_writer(&conn, how, f);
        }
        let Some(path) = &self.path else {
            return self.snapshot_on_writer(&self.lock(), how, f);
        };
        let idle = self
            .idle_readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        let conn = match idle {
            Some(c) => c,
            None => open_reader(path)?,
        };
        let (out, ended) = snapshot(&conn, how, f);
        // A reader whose transaction would not end is dropped rather than reused.
        if ended {
            self.idle_readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
        }
        out
    }

    /// A read on the writer, which (unlike the query-only readers) could write: watched as a
    /// transaction is (`end_watch`).
    fn snapshot_on_writer<T>(
        &self,
        conn: &Connection,
        how: Read,
        f: impl FnOnce(&Connection) -> ApiResult<T>,
    ) -> ApiResult<T> {
        let before = self.start_watch(conn);
        let out = snapshot(conn, how, f).0;
        self.end_watch(conn, before);
        out
    }

    /// Closes the database cleanly: checkpoints the WAL into the main file.
    pub fn close(&self) {
        if let Some(c) = &self.checkpointer {
            c.stop();
        }
        let conn = self.lock();
        if let Err(e) = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
            tracing::warn!(error = %e, "WAL checkpoint at shutdown failed");
        }
    }

    pub fn meta_get(&self, key: &str) -> ApiResult<Option<Vec<u8>>> {
        self.read(|c| {
            Ok(row(c, "SELECT value FROM meta WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
        })
    }

    pub fn meta_set(&self, key: &str, value: &[u8]) -> ApiResult<()> {
        self.tx(|c| {
            exec(
                c,
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                rusqlite::params![key, value],
            )?;
            Ok(())
        })
    }
}

/// `execute` through the statement cache: `Connection::execute` parses its SQL on every call
/// (a fifth of a write's server time in profiles). clippy.toml forbids the uncached one.
pub fn exec(c: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(params)
}

/// `query_row` through the statement cache: `Connection::query_row` parses its SQL on every
/// call, which costs more than the lookup itself on the per-request paths (auth, scopes).
pub fn row<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    c.prepare_cached(sql)?.query_row(params, f)
}

/// The database holds location and part secrets and the token signing key: it is created,
/// or tightened if an older version left it readable, with mode 0600. SQLite gives its -wal
/// and -shm files the database's mode.
fn make_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| anyhow::anyhow!("cannot create database {}: {e}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| anyhow::anyhow!("cannot make {} private: {e}", path.display()))?;
    }
    Ok(())
}

/// A fresh id. UUIDs everywhere: the Python SDK insists that API key ids parse as UUIDs.
/// Version 7 (time-ordered) so that each insert appends to the end of every index it touches
/// instead of dirtying a random page of each: fewer WAL pages per write, cheaper checkpoints.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A random secret of `len` alphanumeric characters.
pub fn new_secret(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Hex SHA-256. Keys are 32 random alphanumerics (~190 bits), so a plain digest is enough;
/// a slow password hash would only cost every authentication time.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Now, in Unix nanoseconds rounded down to whole microseconds.
pub fn now() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_micros() as i64) * 1000
}

pub fn to_ts(nanos: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: nanos.div_euclid(1_000_000_000),
        nanos: nanos.rem_euclid(1_000_000_000) as i32,
    }
}

pub fn from_ts(ts: &prost_types::Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(ts.nanos))
}

/// Maps "no row" to NOT_FOUND for the given kind and id.
pub fn found<T>(r: rusqlite::Result<T>, kind: &str, id: &str) -> ApiResult<T> {
    match r {
        Ok(v) => Ok(v),
        Err(rusqlite::Error::QueryReturnedNoRows) => Err(ApiError::not_found(kind, id)),
        Err(e) => Err(e.into()),
    }
}

/// SQLite's plan for `sql`, one step per line: tests hold hot queries to their indexes.
#[cfg(test)]
pub fn query_plan(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<String> {
    let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let steps = stmt.query_map(params, |r| r.get::<_, String>(3))?;
    Ok(steps.collect::<Result<Vec<_>, _>>()?.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_that_fails_or_panics_leaves_nothing_and_the_next_one_commits() {
        let s = Store::open_in_memory().unwrap();
        let insert = |c: &Tx<'_>, key: &str| {
            Ok(exec(
                c,
                "INSERT INTO meta(key, value) VALUES (?1, x'00')",
                [key],
            )?)
        };
        let failed: ApiResult<()> = s.tx(|c| {
            insert(c, "failed")?;
            Err(ApiError::invalid("x", "refused"))
        });
        assert!(failed.is_err());
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            s.tx(|c| -> ApiResult<()> {
                insert(c, "panicked")?;
                panic!("handler bug")
            })
        }));
        assert!(panicked.is_err());
        s.tx(|c| insert(c, "kept")).unwrap();
        let keys: Vec<String> = s
            .read(|c| {
                let mut stmt =
                    c.prepare("SELECT key FROM meta WHERE key IN ('failed', 'panicked', 'kept')")?;
                let keys = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                Ok(keys)
            })
            .unwrap();
        assert_eq!(keys, ["kept"]);
        // A transaction a failed ROLLBACK left open is undone by the next write, not joined.
        s.lock()
            .execute_batch("BEGIN; INSERT INTO meta(key, value) VALUES ('left', x'00')")
            .unwrap();
        s.tx(|c| insert(c, "after")).unwrap();
        let left: i64 = s
            .read(|c| {
                Ok(row(
                    c,
                    "SELECT count(*) FROM meta WHERE key = 'left'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn the_grants_generation_moves_only_with_what_grants_are_read_from() {
        let s = Store::open_in_memory().unwrap();
        let g = s.grants_generation();
        let write = |sql: &'static str| s.tx(|c| Ok(exec(c, sql, [])?)).unwrap();
        write("INSERT INTO meta(key, value) VALUES ('k', x'00')");
        s.read(|c| Ok(row(c, "SELECT 1 FROM meta", [], |_| Ok(()))?))
            .unwrap();
        assert_eq!(
            s.grants_generation(),
            g,
            "a write elsewhere keeps callers' grants"
        );
        write("INSERT INTO users(id, email, created_on) VALUES ('u', 'u@x', 0)");
        let g2 = s.grants_generation();
        assert!(g2 > g, "a user written: grants may have changed");
        write("UPDATE users SET email = 'v@x'");
        assert!(s.grants_generation() > g2);
        // A rolled-back change counts too: harmless, a principal is only loaded again.
        let g3 = s.grants_generation();
        let _ = s.tx(|c| -> ApiResult<()> {
            exec(
                c,
                "INSERT INTO users(id, email, created_on) VALUES ('w', 'w@x', 0)",
                [],
            )?;
            Err(ApiError::Internal("abort".into()))
        });
        assert!(s.grants_generation() > g3);
    }

    #[test]
    fn a_new_database_gets_the_small_pages_and_an_old_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let page_size = |s: &Store| {
            s.read(|c| Ok(c.pragma_query_value(None, "page_size", |r| r.get::<_, i64>(0))?))
                .unwrap()
        };
        let new = dir.path().join("new.db");
        assert_eq!(page_size(&Store::open(&new).unwrap()), PAGE_SIZE);
        assert_eq!(
            page_size(&Store::open(&new).unwrap()),
            PAGE_SIZE,
            "reopened"
        );
        // A fleet created before the change: 4 KiB pages, fixed when WAL mode wrote its header.
        let old = dir.path().join("old.db");
        {
            let conn = Connection::open(&old).unwrap();
            conn.pragma_update(None, "page_size", 4096).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        }
        Store::open(&old)
            .unwrap()
            .tx(|c| {
                Ok(exec(
                    c,
                    "INSERT INTO orgs(id, name, created_on) VALUES ('o', 'org', 0)",
                    [],
                )?)
            })
            .unwrap();
        let reopened = Store::open(&old).unwrap();
        assert_eq!(page_size(&reopened), 4096);
        let orgs = reopened
            .read(|c| {
                Ok(row(c, "SELECT count(*) FROM orgs", [], |r| {
                    r.get::<_, i64>(0)
                })?)
            })
            .unwrap();
        assert_eq!(orgs, 1);
    }

    #[test]
    fn migrations_are_valid() {
        Migrations::from_slice(MIGRATIONS).validate().unwrap();
    }

    #[test]
    fn log_seqs_survive_the_autoincrement_migration_and_are_never_reused() {
        let mut conn = Connection::open_in_memory().unwrap();
        let migrations = Migrations::from_slice(MIGRATIONS);
        migrations.to_version(&mut conn, 3).unwrap();
        let insert = "INSERT INTO logs(seq, part_id, time, level, message, entry)
                      VALUES (?1, 'p', 0, 'info', 'm', x'')";
        for seq in [5, 9] {
            exec(&conn, insert, [seq]).unwrap();
        }
        migrations.to_latest(&mut conn).unwrap();
        let seqs = |c: &Connection| -> Vec<i64> {
            let mut stmt = c.prepare("SELECT seq FROM logs ORDER BY seq").unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert_eq!(seqs(&conn), [5, 9]);
        exec(&conn, "DELETE FROM logs WHERE seq = 9", []).unwrap();
        exec(
            &conn,
            "INSERT INTO logs(part_id, time, level, message, entry) VALUES ('p', 0, 'info', 'n', x'')",
            [],
        )
        .unwrap();
        assert_eq!(
            seqs(&conn),
            [5, 10],
            "the deleted seq 9 was handed out again"
        );
    }

    #[test]
    fn the_list_index_migration_keeps_machines_parts_and_readings() {
        let mut conn = Connection::open_in_memory().unwrap();
        let migrations = Migrations::from_slice(MIGRATIONS);
        migrations
            .to_version(&mut conn, MIGRATIONS.len() - 1)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO orgs(id, name, created_on) VALUES ('o', 'org', 0);
             INSERT INTO locations(id, org_id, name, created_on) VALUES ('l', 'o', 'loc', 1);
             INSERT INTO robots(id, location_id, name, created_on) VALUES ('r', 'l', 'm', 2);
             INSERT INTO parts(id, robot_id, name, main_part, config, created_on, last_updated)
                 VALUES ('p', 'r', 'm-main', 1, x'', 3, 3);
             INSERT INTO data_readings(org_id, location_id, robot_id, robot_name, part_id,
                 part_name, component_type, component_name, method_name, method_parameters,
                 tags, time_requested, time_received, time_synced, data)
                 VALUES ('o', 'l', 'r', 'm', 'p', 'm-main', 't', 'c', 'Readings', '{}', '[]',
                     4, 5, 6, '{\"a\":1}');",
        )
        .unwrap();
        migrations.to_latest(&mut conn).unwrap();
        let got: (String, String, String, String) = row(
            &conn,
            "SELECT l.name, r.name, p.name, d.data FROM locations l JOIN robots r
                 ON r.location_id = l.id JOIN parts p ON p.robot_id = r.id
                 JOIN data_readings d ON d.part_id = p.id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
        assert_eq!(
            got,
            (
                "loc".into(),
                "m".into(),
                "m-main".into(),
                r#"{"a":1}"#.into()
            )
        );
        let check: String = row(&conn, "PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
    }

    /// The shape of tabular.rs's page query for one source after a cursor (ExportTabularData).
    #[test]
    fn a_page_of_one_source_in_capture_order_walks_an_index_without_sorting() {
        let mut conn = Connection::open_in_memory().unwrap();
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut conn)
            .unwrap();
        let plan = query_plan(
            &conn,
            "SELECT id, data FROM data_readings
                 WHERE part_id = ?1 AND component_name = ?2 AND component_type = ?3
                     AND method_name = ?4 AND org_id IN (SELECT value FROM json_each(?5))
                     AND (time_requested, id) > (?6, ?7)
                 ORDER BY time_requested, id LIMIT 1000",
            rusqlite::params!["p", "c", "t", "m", "[]", 0, 0],
        )
        .unwrap();
        assert!(plan.contains("data_readings_source_time"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    #[test]
    fn timestamps_round_trip_including_before_1970() {
        for n in [0, 1_700_000_000_123_456_000, -1_500_000_000] {
            assert_eq!(from_ts(&to_ts(n)), n);
        }
    }

    #[test]
    fn secrets_are_random_and_hashes_stable() {
        assert_ne!(new_secret(32), new_secret(32));
        assert_eq!(hash_secret("a"), hash_secret("a"));
        assert_eq!(hash_secret("a").len(), 64);
    }
}
