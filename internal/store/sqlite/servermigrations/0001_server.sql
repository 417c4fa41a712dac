-- The job server's schema (spec §2). Lists and maps are JSON text; times
-- are nanoseconds since the epoch, UTC (0 when unset); booleans are 0/1.
-- A user reference of NULL means "no user" (the system).

CREATE TABLE users (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    username          TEXT NOT NULL UNIQUE CHECK (username <> ''),
    email             TEXT NOT NULL UNIQUE CHECK (email <> ''),
    fullname          TEXT NOT NULL,
    password_hash     TEXT NOT NULL DEFAULT '',
    roles             TEXT NOT NULL DEFAULT '[]',
    api_token_hash    TEXT NOT NULL DEFAULT '',
    api_token_expires INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL CHECK (created_at > 0),
    -- a token and its expiry are set together or not at all
    CHECK ((api_token_hash = '') = (api_token_expires = 0))
);
CREATE UNIQUE INDEX users_api_token ON users (api_token_hash) WHERE api_token_hash <> '';

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE orgs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE CHECK (name <> ''),
    slug        TEXT NOT NULL UNIQUE CHECK (slug <> ''),
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL CHECK (created_at > 0)
);

CREATE TABLE org_members (
    org_id  INTEGER NOT NULL REFERENCES orgs (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE projects (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE CHECK (name <> ''),
    slug       TEXT NOT NULL UNIQUE CHECK (slug <> ''),
    number     TEXT NOT NULL DEFAULT '',
    org_id     INTEGER REFERENCES orgs (id),
    created_at INTEGER NOT NULL CHECK (created_at > 0)
);
CREATE UNIQUE INDEX projects_number ON projects (number) WHERE number <> '';

CREATE TABLE project_members (
    project_id INTEGER NOT NULL REFERENCES projects (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    roles      TEXT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);

CREATE TABLE workspaces (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE CHECK (name <> ''),
    project_id    INTEGER NOT NULL REFERENCES projects (id),
    repo_url      TEXT NOT NULL,
    branch        TEXT NOT NULL,
    is_archived   INTEGER NOT NULL DEFAULT 0,
    should_notify INTEGER NOT NULL DEFAULT 0,
    purpose       TEXT NOT NULL DEFAULT '',
    created_by    INTEGER REFERENCES users (id),
    created_at    INTEGER NOT NULL,
    -- created by/at: the time is always set; the creator is NULL only
    -- for rows the system made
    CHECK (created_at > 0)
);
CREATE INDEX workspaces_project ON workspaces (project_id);

CREATE TABLE backends (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    slug               TEXT NOT NULL UNIQUE CHECK (slug <> ''),
    name               TEXT NOT NULL,
    agent_token_hash   TEXT NOT NULL DEFAULT '',
    airlock_token_hash TEXT NOT NULL DEFAULT '',
    is_active          INTEGER NOT NULL DEFAULT 1,
    artificial_data    INTEGER NOT NULL DEFAULT 0,
    is_paused          INTEGER NOT NULL DEFAULT 0,
    db_maintenance     INTEGER NOT NULL DEFAULT 0,
    alert_timeout      INTEGER NOT NULL DEFAULT 0 CHECK (alert_timeout >= 0),
    last_seen_at       INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL CHECK (created_at > 0)
);
CREATE UNIQUE INDEX backends_agent_token ON backends (agent_token_hash) WHERE agent_token_hash <> '';
CREATE UNIQUE INDEX backends_airlock_token ON backends (airlock_token_hash) WHERE airlock_token_hash <> '';

CREATE TABLE backend_members (
    backend_id INTEGER NOT NULL REFERENCES backends (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (backend_id, user_id)
);
CREATE INDEX backend_members_user ON backend_members (user_id);

-- The job request number is the integer primary key.
CREATE TABLE job_requests (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    identifier             TEXT NOT NULL UNIQUE CHECK (identifier <> ''),
    workspace_id           INTEGER NOT NULL REFERENCES workspaces (id),
    backend_id             INTEGER NOT NULL REFERENCES backends (id),
    requested_actions      TEXT NOT NULL,
    cancelled_actions      TEXT NOT NULL,
    force_run_dependencies INTEGER NOT NULL DEFAULT 0,
    will_notify            INTEGER NOT NULL DEFAULT 0,
    sha                    TEXT NOT NULL,
    project_definition     TEXT NOT NULL,
    codelists_ok           INTEGER NOT NULL DEFAULT 1,
    status                 TEXT NOT NULL,
    status_message         TEXT NOT NULL,
    created_by             INTEGER REFERENCES users (id),
    created_at             INTEGER NOT NULL,
    CHECK (status IN ('pending', 'running', 'failed', 'succeeded', 'nothing_to_do', 'unknown', 'unknown_error_creating_jobs')),
    -- created by/at: the time is always set; the creator is NULL only
    -- for rows the system made
    CHECK (created_at > 0)
);
CREATE INDEX job_requests_workspace_backend ON job_requests (workspace_id, backend_id, id);
CREATE INDEX job_requests_backend ON job_requests (backend_id, id);

-- Jobs: the planner's job plus the queue's lease columns (spec §2.5, §7).
CREATE TABLE jobs (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    identifier             TEXT NOT NULL UNIQUE CHECK (identifier <> ''),
    job_request_id         INTEGER NOT NULL REFERENCES job_requests (id),
    backend_id             INTEGER NOT NULL REFERENCES backends (id),
    workspace_id           INTEGER NOT NULL REFERENCES workspaces (id),
    request_identifier     TEXT NOT NULL,
    workspace              TEXT NOT NULL,
    action                 TEXT NOT NULL,
    state                  TEXT NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed')),
    status_code            TEXT NOT NULL,
    status_message         TEXT NOT NULL,
    cancelled              INTEGER NOT NULL DEFAULT 0,
    image                  TEXT NOT NULL,
    args                   TEXT NOT NULL,
    run_command            TEXT NOT NULL,
    requires_db            INTEGER NOT NULL DEFAULT 0,
    output_spec            TEXT NOT NULL,
    requires_outputs_from  TEXT NOT NULL,
    wait_for_job_ids       TEXT NOT NULL,
    outputs                TEXT NOT NULL,
    exit_code              INTEGER,
    metrics                TEXT NOT NULL,
    created_at             INTEGER NOT NULL,
    started_at             INTEGER NOT NULL,
    completed_at           INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    status_code_updated_at INTEGER NOT NULL,
    attempt                INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    lease_id               TEXT NOT NULL DEFAULT '',
    lease_agent            TEXT NOT NULL DEFAULT '',
    lease_expires_at       INTEGER NOT NULL DEFAULT 0,
    needs_recovery         INTEGER NOT NULL DEFAULT 0,
    recovery_since         INTEGER NOT NULL DEFAULT 0,
    cancel_sent            INTEGER NOT NULL DEFAULT 0,
    last_update_seq        INTEGER NOT NULL DEFAULT 0,
    -- a lease is its id, holder and expiry together, or none of them
    CHECK ((lease_id = '') = (lease_expires_at = 0)),
    CHECK ((lease_id = '') = (lease_agent = ''))
);
CREATE UNIQUE INDEX jobs_lease ON jobs (lease_id) WHERE lease_id <> '';
CREATE INDEX jobs_request ON jobs (job_request_id, created_at, id);
CREATE INDEX jobs_workspace_backend ON jobs (workspace_id, backend_id, created_at, id);
-- Every queue query names the backend and the state; a plain index serves
-- them all (SQLite uses a partial index only for its exact condition).
CREATE INDEX jobs_backend_state ON jobs (backend_id, state);
-- The claim's fairness order counts each workspace's running jobs.
CREATE INDEX jobs_workspace_running ON jobs (workspace_id, backend_id) WHERE state = 'running';
CREATE INDEX jobs_lease_expiry ON jobs (lease_expires_at) WHERE lease_id <> '';
CREATE INDEX jobs_recovery ON jobs (recovery_since) WHERE needs_recovery;

-- What each job waits on (its wait_for_job_ids), for the claim query and
-- failure propagation. waits_for is a job identifier; it is not a foreign
-- key so jobs of one request can be stored in any order (a missing job
-- never succeeds, so its dependants never start).
CREATE TABLE job_dependencies (
    job_id    INTEGER NOT NULL REFERENCES jobs (id),
    waits_for TEXT NOT NULL,
    PRIMARY KEY (job_id, waits_for)
);
CREATE INDEX job_dependencies_waits_for ON job_dependencies (waits_for);

-- The audit log is append-only: the triggers refuse every change.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    type       TEXT NOT NULL CHECK (type <> ''),
    user_id    INTEGER,
    target     TEXT NOT NULL,
    extra      TEXT NOT NULL,
    created_at INTEGER NOT NULL CHECK (created_at > 0)
);
CREATE INDEX audit_events_target ON audit_events (target, created_at);
CREATE INDEX audit_events_created ON audit_events (created_at);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: audit events cannot be changed');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: audit events cannot be deleted');
END;
