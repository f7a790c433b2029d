-- fleetsh local fleet, schema version 1. Times are Unix nanoseconds (INTEGER); server-made
-- times are whole microseconds so they survive clients that keep microseconds (Python).
-- Proto-shaped details that are never queried (configs, log fields, module metadata) are
-- kept as encoded protobuf BLOBs so they round-trip exactly.

CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    created_on INTEGER NOT NULL
);

CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    public_namespace TEXT UNIQUE,           -- NULL until claimed
    cid TEXT,
    default_region TEXT NOT NULL DEFAULT '',
    created_on INTEGER NOT NULL
);

CREATE TABLE members (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    date_added INTEGER NOT NULL,
    last_login INTEGER,
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE invites (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    created_on INTEGER NOT NULL,
    PRIMARY KEY (org_id, email)
);

CREATE TABLE invite_authorizations (
    org_id TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    PRIMARY KEY (org_id, email, role, resource_type, resource_id),
    FOREIGN KEY (org_id, email) REFERENCES invites(org_id, email) ON DELETE CASCADE
);

CREATE TABLE locations (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    parent_id TEXT REFERENCES locations(id),
    region TEXT NOT NULL DEFAULT '',
    created_on INTEGER NOT NULL
);
CREATE INDEX locations_org ON locations(org_id);
CREATE INDEX locations_parent ON locations(parent_id);

CREATE TABLE location_secrets (
    id TEXT PRIMARY KEY,
    location_id TEXT NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    created_on INTEGER NOT NULL
);
CREATE INDEX location_secrets_location ON location_secrets(location_id);

CREATE TABLE robots (
    id TEXT PRIMARY KEY,
    location_id TEXT NOT NULL REFERENCES locations(id),
    name TEXT NOT NULL,
    created_on INTEGER NOT NULL,
    last_access INTEGER
);
CREATE INDEX robots_location ON robots(location_id);

CREATE TABLE parts (
    id TEXT PRIMARY KEY,
    robot_id TEXT NOT NULL REFERENCES robots(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    main_part INTEGER NOT NULL,
    config BLOB NOT NULL,                   -- google.protobuf.Struct
    config_json TEXT,                       -- the JSON text exactly as given, when given
    user_supplied_info BLOB,
    created_on INTEGER NOT NULL,
    last_updated INTEGER NOT NULL,
    last_access INTEGER,
    restart_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX parts_robot ON parts(robot_id);

CREATE TABLE part_secrets (
    id TEXT PRIMARY KEY,
    part_id TEXT NOT NULL REFERENCES parts(id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    created_on INTEGER NOT NULL
);
CREATE INDEX part_secrets_part ON part_secrets(part_id);

CREATE TABLE part_history (
    seq INTEGER PRIMARY KEY,
    part_id TEXT NOT NULL REFERENCES parts(id) ON DELETE CASCADE,
    robot_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    old BLOB NOT NULL,                      -- viam.app.v1.RobotPart before the edit
    editor_type INTEGER NOT NULL,           -- viam.app.v1.AuthenticationType
    editor TEXT NOT NULL
);
CREATE INDEX part_history_part ON part_history(part_id, at);

CREATE TABLE logs (
    seq INTEGER PRIMARY KEY,
    part_id TEXT NOT NULL,
    time INTEGER NOT NULL,
    level TEXT NOT NULL,                    -- lower-cased
    message TEXT NOT NULL,
    entry BLOB NOT NULL                     -- viam.common.v1.LogEntry as received
);
CREATE INDEX logs_part_time ON logs(part_id, time, seq);

CREATE TABLE fragments (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    config BLOB NOT NULL,                   -- google.protobuf.Struct
    config_json TEXT,
    visibility INTEGER NOT NULL,            -- viam.app.v1.FragmentVisibility
    created_on INTEGER NOT NULL,
    last_updated INTEGER NOT NULL,
    revision INTEGER NOT NULL
);
CREATE INDEX fragments_org ON fragments(org_id);

CREATE TABLE modules (
    id TEXT PRIMARY KEY,                    -- "<namespace or org id>:<name>"
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    meta BLOB NOT NULL,                     -- viam.app.v1.Module without versions
    created_on INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE module_files (
    module_id TEXT NOT NULL REFERENCES modules(id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    platform TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (module_id, version, platform)
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL,                 -- hex SHA-256 of the key; the key itself is never stored
    created_on INTEGER NOT NULL,
    last_used INTEGER
);
CREATE INDEX api_keys_org ON api_keys(org_id);

CREATE TABLE authorizations (
    id INTEGER PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    identity_id TEXT NOT NULL,              -- user id or API key id
    identity_type TEXT NOT NULL,            -- "user" or "api-key"
    role TEXT NOT NULL,                     -- "owner" or "operator"
    resource_type TEXT NOT NULL,            -- "organization", "location" or "robot"
    resource_id TEXT NOT NULL,
    UNIQUE (identity_id, role, resource_type, resource_id)
);
CREATE INDEX authorizations_identity ON authorizations(identity_id);
CREATE INDEX authorizations_org ON authorizations(org_id);
CREATE INDEX authorizations_resource ON authorizations(resource_id);
