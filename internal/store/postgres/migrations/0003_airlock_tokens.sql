-- Airlock sign-in tokens (spec §8.1): one per user, stored as the hex
-- sha256 of the token's normalised text, valid until expires_at, used
-- once (used_at set). window_start and window_count count the tokens the
-- user created in the current rate-limit window. Times are nanoseconds
-- since the epoch, UTC (0 when unset).

CREATE TABLE airlock_login_tokens (
    user_id      BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL CHECK (length(token_hash) = 64),
    created_at   BIGINT NOT NULL CHECK (created_at > 0),
    expires_at   BIGINT NOT NULL CHECK (expires_at > created_at),
    used_at      BIGINT NOT NULL DEFAULT 0,
    window_start BIGINT NOT NULL CHECK (window_start > 0),
    window_count BIGINT NOT NULL CHECK (window_count >= 0)
);
