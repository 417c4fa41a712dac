-- Jobs: one row per action run for a job request. JSON columns hold lists
-- and maps; times are nanoseconds since the epoch (0 when unset), UTC.
CREATE TABLE jobs (
    id                     TEXT PRIMARY KEY,
    request_id             TEXT NOT NULL,
    workspace              TEXT NOT NULL,
    action                 TEXT NOT NULL,
    state                  TEXT NOT NULL,
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
    created_at             INTEGER NOT NULL,
    started_at             INTEGER NOT NULL,
    completed_at           INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    status_code_updated_at INTEGER NOT NULL
);
CREATE INDEX jobs_workspace_action ON jobs (workspace, action, created_at);
CREATE INDEX jobs_active ON jobs (state) WHERE state IN ('pending', 'running');
