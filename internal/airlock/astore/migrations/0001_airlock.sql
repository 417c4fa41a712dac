-- Airlock's own database.
--
-- requests holds each release request as one JSON document (data: the
-- review.Request aggregate and the per-file metadata) plus the columns
-- queries need. version grows by one on every write and guards against
-- lost updates. active is 1 while the request's state is owned by its
-- authors or by reviewers; the partial unique index allows at most one
-- active request per author per workspace.
--
-- request_users and request_files are indexes derived from data; every
-- write of a request rewrites its rows.
--
-- audit_log is append-only: the triggers refuse every change.
--
-- Times are UTC RFC 3339 text with nine fraction digits, so text order is
-- time order.

CREATE TABLE requests (
    id         TEXT PRIMARY KEY CHECK (id <> ''),
    workspace  TEXT NOT NULL CHECK (workspace <> ''),
    author     TEXT NOT NULL CHECK (author <> ''),
    status     TEXT NOT NULL,
    active     INTEGER NOT NULL CHECK (active IN (0, 1)),
    version    INTEGER NOT NULL CHECK (version > 0),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX requests_workspace ON requests (workspace, created_at);
CREATE INDEX requests_created ON requests (created_at);
CREATE UNIQUE INDEX requests_one_active ON requests (workspace, author) WHERE active = 1;

-- role: author, coauthor or former_coauthor.
CREATE TABLE request_users (
    request_id TEXT NOT NULL REFERENCES requests (id),
    username   TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('author', 'coauthor', 'former_coauthor')),
    PRIMARY KEY (request_id, username, role)
);
CREATE INDEX request_users_username ON request_users (username, request_id);

CREATE TABLE request_files (
    request_id  TEXT NOT NULL REFERENCES requests (id),
    name        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    released_at TEXT,
    uploaded_at TEXT,
    PRIMARY KEY (request_id, name)
);
CREATE INDEX request_files_sha256 ON request_files (sha256);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    type       TEXT NOT NULL CHECK (type <> ''),
    user       TEXT NOT NULL,
    workspace  TEXT NOT NULL,
    request    TEXT NOT NULL,
    path       TEXT NOT NULL,
    extra      TEXT NOT NULL CHECK (json_valid(extra) AND json_extract(extra, '$.review_turn') IS NOT NULL),
    created_at TEXT NOT NULL
);
CREATE INDEX audit_log_user ON audit_log (user, id);
CREATE INDEX audit_log_workspace ON audit_log (workspace, id);
CREATE INDEX audit_log_request ON audit_log (request, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the Airlock audit log is append-only: its events cannot be changed');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the Airlock audit log is append-only: its events cannot be deleted');
END;

-- Sessions are keyed by a hash of the cookie value; the value itself is
-- never stored.
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY CHECK (id_hash <> ''),
    username     TEXT NOT NULL CHECK (username <> ''),
    profile      TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    refreshed_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_username ON sessions (username);
