-- keygate schema, SQLite flavour. Times are unix seconds (BIGINT) so both
-- engines store and compare them the same way; flags are nullable times
-- ("disabled_at", "used_at") or 0/1 integers. Bearer things are stored only
-- as SHA-256 hashes; secrets the server must read back are AES-GCM sealed.
-- migrations/postgres/0001_initial.sql is the same schema for PostgreSQL.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    name                TEXT NOT NULL UNIQUE,
    display_name        TEXT,
    password_hash       TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL,
    disabled_at         BIGINT
);

CREATE TABLE credentials (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id             BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    rp_id               TEXT NOT NULL,
    key_handle          BLOB NOT NULL,
    public_key          BLOB NOT NULL,
    counter             BIGINT NOT NULL DEFAULT 0,
    label               TEXT NOT NULL,
    attestation_subject TEXT,
    transports          TEXT NOT NULL DEFAULT '',
    webauthn            TEXT,
    created_at          BIGINT NOT NULL,
    last_used_at        BIGINT,
    possible_clone      BIGINT NOT NULL DEFAULT 0,
    UNIQUE (rp_id, key_handle)
);
CREATE INDEX credentials_user ON credentials(user_id);

CREATE TABLE challenges (
    id          TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id  BIGINT,
    challenge   BLOB NOT NULL,
    for_app     TEXT,
    state       TEXT,
    attempts    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX challenges_expiry ON challenges(expires_at);

CREATE TABLE apps (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    name               TEXT NOT NULL UNIQUE,
    api_key            TEXT NOT NULL UNIQUE,
    secret_sealed      BLOB NOT NULL,
    desktop            BIGINT NOT NULL DEFAULT 0,
    redirect_uris      TEXT NOT NULL DEFAULT '[]',
    allowed_ips        TEXT NOT NULL DEFAULT '[]',
    rate_limit_per_min BIGINT,
    created_at         BIGINT NOT NULL,
    secret_rotated_at  BIGINT NOT NULL
);

CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash    BLOB NOT NULL UNIQUE,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    app_id        BIGINT REFERENCES apps(id) ON DELETE CASCADE,
    secret_sealed BLOB,
    last_call_id  DOUBLE PRECISION,
    user_agent    TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE recovery_codes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    UNIQUE (user_id, code_hash)
);

CREATE TABLE app_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    app_id      BIGINT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    user_id     BIGINT REFERENCES users(id) ON DELETE CASCADE,
    data        TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    bound_at    BIGINT,
    consumed_at BIGINT,
    -- Kept (not deleted) when revoked, so token checks can say why:
    -- 'password_changed', 'user_disabled', 'revoked'.
    revoked_at     BIGINT,
    revoked_reason TEXT
);
CREATE INDEX app_tokens_user ON app_tokens(user_id, app_id);
CREATE INDEX app_tokens_expiry ON app_tokens(expires_at);

CREATE TABLE permissions (
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    app_id     BIGINT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, app_id, permission)
);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        BIGINT NOT NULL,
    user_id   BIGINT,
    user_name TEXT,
    event     TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT '',
    source    TEXT
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_user ON audit_log(user_name, at);

CREATE TABLE rate_limits (
    bucket       TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL
);
