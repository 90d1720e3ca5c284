-- Sign-in (issue 5), SQLite. Mirrors migrations/postgres/0003_auth.sql column for column.
-- Secrets are never stored: passwords as argon2id PHC strings, session ids and API tokens as the
-- sha256 of their (high-entropy, random) value.

CREATE TABLE user_passwords (
    user_id       TEXT PRIMARY KEY REFERENCES users (id),
    hash          TEXT NOT NULL,
    changed_at    TEXT NOT NULL
);

-- A signed-in session: expires when idle (expires_at slides forward on use, never past
-- absolute_until) and is revoked by signing out, a password change or disabling the user.
CREATE TABLE sessions (
    id_hash         TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    created_at      TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    absolute_until  TEXT NOT NULL,
    revoked_at      TEXT,
    address         TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- API tokens for integrations: shown once, scoped to a user (and to `full` or `metrics`).
CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    prefix        TEXT NOT NULL,
    scope         TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT,
    last_used_at  TEXT,
    revoked_at    TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Failed sign-ins, counted per user name and per address over a sliding window.
CREATE TABLE sign_in_failures (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    address       TEXT NOT NULL,
    at            TEXT NOT NULL
);
CREATE INDEX sign_in_failures_user ON sign_in_failures (username, at);
CREATE INDEX sign_in_failures_address ON sign_in_failures (address, at);
