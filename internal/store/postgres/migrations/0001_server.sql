-- The job server's schema (spec §2). Lists and maps are JSON text; times
-- are nanoseconds since the epoch, UTC (0 when unset).
-- A user reference of NULL means "no user" (the system).

CREATE TABLE users (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username          TEXT NOT NULL UNIQUE CHECK (username <> ''),
    email             TEXT NOT NULL UNIQUE CHECK (email <> ''),
    fullname          TEXT NOT NULL,
    password_hash     TEXT NOT NULL DEFAULT '',
    roles             TEXT NOT NULL DEFAULT '[]',
    api_token_hash    TEXT NOT NULL DEFAULT '',
    api_token_expires BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL CHECK (created_at > 0),
    -- a token and its expiry are set together or not at all
    CHECK ((api_token_hash = '') = (api_token_expires = 0))
);
CREATE UNIQUE INDEX users_api_token ON users (api_token_hash) WHERE api_token_hash <> '';

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE orgs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (name <> ''),
    slug        TEXT NOT NULL UNIQUE CHECK (slug <> ''),
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL CHECK (created_at > 0)
);

CREATE TABLE org_members (
    org_id  BIGINT NOT NULL REFERENCES orgs (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE projects (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE CHECK (name <> ''),
    slug       TEXT NOT NULL UNIQUE CHECK (slug <> ''),
    number     TEXT NOT NULL DEFAULT '',
    org_id     BIGINT REFERENCES orgs (id),
    created_at BIGINT NOT NULL CHECK (created_at > 0)
);
CREATE UNIQUE INDEX projects_number ON projects (number) WHERE number <> '';

CREATE TABLE project_members (
    project_id BIGINT NOT NULL REFERENCES projects (id),
    user_id    BIGINT NOT NULL REFERENCES users (id),
    roles      TEXT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);

CREATE TABLE workspaces (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE CHECK (name <> ''),
    project_id    BIGINT NOT NULL REFERENCES projects (id),
    repo_url      TEXT NOT NULL,
    branch        TEXT NOT NULL,
    is_archived   BOOLEAN NOT NULL DEFAULT FALSE,
    should_notify BOOLEAN NOT NULL DEFAULT FALSE,
    purpose       TEXT NOT NULL DEFAULT '',
    created_by    BIGINT REFERENCES users (id),
    created_at    BIGINT NOT NULL,
    -- created by/at: the time is always set; the creator is NULL only
    -- for rows the system made
    CHECK (created_at > 0)
);
CREATE INDEX workspaces_project ON workspaces (project_id);

CREATE TABLE backends (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug               TEXT NOT NULL UNIQUE CHECK (slug <> ''),
    name               TEXT NOT NULL,
    agent_token_hash   TEXT NOT NULL DEFAULT '',
    airlock_token_hash TEXT NOT NULL DEFAULT '',
    is_active          BOOLEAN NOT NULL DEFAULT TRUE,
    artificial_data    BOOLEAN NOT NULL DEFAULT FALSE,
    is_paused          BOOLEAN NOT NULL DEFAULT FALSE,
    db_maintenance     BOOLEAN NOT NULL DEFAULT FALSE,
    alert_timeout      BIGINT NOT NULL DEFAULT 0 CHECK (alert_timeout >= 0),
    last_seen_at       BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL CHECK (created_at > 0)
);
CREATE UNIQUE INDEX backends_agent_token ON backends (agent_token_hash) WHERE agent_token_hash <> '';
CREATE UNIQUE INDEX backends_airlock_token ON backends (airlock_token_hash) WHERE airlock_token_hash <> '';

CREATE TABLE backend_members (
    backend_id BIGINT NOT NULL REFERENCES backends (id),
    user_id    BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (backend_id, user_id)
);
CREATE INDEX backend_members_user ON backend_members (user_id);

-- The job request number is the integer primary key.
CREATE TABLE job_requests (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    identifier             TEXT NOT NULL UNIQUE CHECK (identifier <> ''),
    workspace_id           BIGINT NOT NULL REFERENCES workspaces (id),
    backend_id             BIGINT NOT NULL REFERENCES backends (id),
    requested_actions      TEXT NOT NULL,
    cancelled_actions      TEXT NOT NULL,
    force_run_dependencies BOOLEAN NOT NULL DEFAULT FALSE,
    will_notify            BOOLEAN NOT NULL DEFAULT FALSE,
    sha                    TEXT NOT NULL,
    project_definition     TEXT NOT NULL,
    codelists_ok           BOOLEAN NOT NULL DEFAULT TRUE,
    status                 TEXT NOT NULL,
    status_message         TEXT NOT NULL,
    created_by             BIGINT REFERENCES users (id),
    created_at             BIGINT NOT NULL,
    CHECK (status IN ('pending', 'running', 'failed', 'succeeded', 'nothing_to_do', 'unknown', 'unknown_error_creating_jobs')),
    -- created by/at: the time is always set; the creator is NULL only
    -- for rows the system made
    CHECK (created_at > 0)
);
CREATE INDEX job_requests_workspace_backend ON job_requests (workspace_id, backend_id, id);
CREATE INDEX job_requests_backend ON job_requests (backend_id, id);

-- Jobs: the planner's job plus the queue's lease columns (spec §2.5, §7).
CREATE TABLE jobs (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    identifier             TEXT NOT NULL UNIQUE CHECK (identifier <> ''),
    job_request_id         BIGINT NOT NULL REFERENCES job_requests (id),
    backend_id             BIGINT NOT NULL REFERENCES backends (id),
    workspace_id           BIGINT NOT NULL REFERENCES workspaces (id),
    request_identifier     TEXT NOT NULL,
    workspace              TEXT NOT NULL,
    action                 TEXT NOT NULL,
    state                  TEXT NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed')),
    status_code            TEXT NOT NULL,
    status_message         TEXT NOT NULL,
    cancelled              BOOLEAN NOT NULL DEFAULT FALSE,
    image                  TEXT NOT NULL,
    args                   TEXT NOT NULL,
    run_command            TEXT NOT NULL,
    requires_db            BOOLEAN NOT NULL DEFAULT FALSE,
    output_spec            TEXT NOT NULL,
    requires_outputs_from  TEXT NOT NULL,
    wait_for_job_ids       TEXT NOT NULL,
    outputs                TEXT NOT NULL,
    exit_code              INTEGER,
    metrics                TEXT NOT NULL,
    created_at             BIGINT NOT NULL,
    started_at             BIGINT NOT NULL,
    completed_at           BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    status_code_updated_at BIGINT NOT NULL,
    attempt                BIGINT NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    lease_id               TEXT NOT NULL DEFAULT '',
    lease_agent            TEXT NOT NULL DEFAULT '',
    lease_expires_at       BIGINT NOT NULL DEFAULT 0,
    needs_recovery         BOOLEAN NOT NULL DEFAULT FALSE,
    recovery_since         BIGINT NOT NULL DEFAULT 0,
    cancel_sent            BOOLEAN NOT NULL DEFAULT FALSE,
    last_update_seq        BIGINT NOT NULL DEFAULT 0,
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
    job_id    BIGINT NOT NULL REFERENCES jobs (id),
    waits_for TEXT NOT NULL,
    PRIMARY KEY (job_id, waits_for)
);
CREATE INDEX job_dependencies_waits_for ON job_dependencies (waits_for);

-- The audit log is append-only: the triggers refuse every change.
CREATE TABLE audit_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type       TEXT NOT NULL CHECK (type <> ''),
    user_id    BIGINT,
    target     TEXT NOT NULL,
    extra      TEXT NOT NULL,
    created_at BIGINT NOT NULL CHECK (created_at > 0)
);
CREATE INDEX audit_events_target ON audit_events (target, created_at);
CREATE INDEX audit_events_created ON audit_events (created_at);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: audit events cannot be changed or deleted (%)', TG_OP;
END
$$;

CREATE TRIGGER audit_events_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
