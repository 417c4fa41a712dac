-- Releases (spec §2.7, §11): the files an Airlock released. A release is
-- created with each file's expected sha256 and no bytes; each file's
-- bytes arrive later, once, and are stored under the release storage
-- root at path. Times are nanoseconds since the epoch, UTC (0 when
-- unset); a user reference of NULL means "no user" (the system).

CREATE TABLE releases (
    id              TEXT PRIMARY KEY CHECK (length(id) = 26),
    workspace_id    BIGINT NOT NULL REFERENCES workspaces (id),
    backend_id      BIGINT NOT NULL REFERENCES backends (id),
    status          TEXT NOT NULL CHECK (status IN ('REQUESTED', 'APPROVED', 'REJECTED')),
    requested_files TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    review          TEXT NOT NULL,
    created_by      BIGINT REFERENCES users (id),
    created_at      BIGINT NOT NULL CHECK (created_at > 0)
);
CREATE INDEX releases_workspace ON releases (workspace_id, created_at);

CREATE TABLE release_files (
    id           TEXT PRIMARY KEY CHECK (length(id) = 26),
    release_id   TEXT NOT NULL REFERENCES releases (id),
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id),
    name         TEXT NOT NULL CHECK (name <> ''),
    path         TEXT NOT NULL DEFAULT '',
    filehash     TEXT NOT NULL CHECK (length(filehash) = 64),
    size         BIGINT NOT NULL CHECK (size >= 0),
    mtime        BIGINT NOT NULL DEFAULT 0,
    metadata     TEXT NOT NULL,
    created_by   BIGINT REFERENCES users (id),
    created_at   BIGINT NOT NULL CHECK (created_at > 0),
    uploaded_at  BIGINT NOT NULL DEFAULT 0,
    deleted_by   BIGINT REFERENCES users (id),
    deleted_at   BIGINT NOT NULL DEFAULT 0,
    UNIQUE (release_id, name),
    -- the storage path and the upload time are set together, once
    CHECK ((path = '') = (uploaded_at = 0)),
    -- redaction: deleted by/at are set together or not at all
    CHECK ((deleted_by IS NULL) = (deleted_at = 0))
);
CREATE INDEX release_files_workspace ON release_files (workspace_id, name);
