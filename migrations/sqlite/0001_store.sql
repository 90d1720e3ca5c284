-- tiendo store, SQLite. Mirrors migrations/postgres/0001_store.sql column for column: the same
-- SQL statements run on both backends, so types are chosen to decode to the same Rust types
-- (TEXT ids, INTEGER integers, TEXT instants as sqlx writes chrono values, TEXT JSON).

CREATE TABLE units (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    parent_id     TEXT REFERENCES units (id),
    merged_into   TEXT REFERENCES units (id),
    merged_on     TEXT,
    created_at    TEXT NOT NULL
);

-- Effective-dated names: a unit renamed in July 2025 keeps its old name for older documents.
CREATE TABLE unit_names (
    unit_id       TEXT NOT NULL REFERENCES units (id),
    name          TEXT NOT NULL,
    valid_from    TEXT NOT NULL,
    PRIMARY KEY (unit_id, valid_from)
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    email         TEXT,
    unit_id       TEXT REFERENCES units (id),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

CREATE TABLE user_roles (
    user_id       TEXT NOT NULL REFERENCES users (id),
    role          TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE plans (
    id            TEXT PRIMARY KEY,
    number        TEXT NOT NULL UNIQUE,
    year          INTEGER NOT NULL,
    title         TEXT NOT NULL,
    issued_on     TEXT,
    created_at    TEXT NOT NULL
);

CREATE TABLE tasks (
    id                TEXT PRIMARY KEY,
    plan_id           TEXT NOT NULL REFERENCES plans (id),
    unit_id           TEXT NOT NULL REFERENCES units (id),
    name              TEXT NOT NULL,
    funding_source    TEXT NOT NULL,
    kind              TEXT NOT NULL,
    workflow          TEXT NOT NULL,
    workflow_version  INTEGER NOT NULL,
    state             TEXT NOT NULL,
    phase             TEXT NOT NULL,
    state_entered_at  TEXT NOT NULL,
    version           INTEGER NOT NULL,
    period            TEXT,
    is_rental         INTEGER NOT NULL DEFAULT 0,
    -- deadline clocks and revision-round counts, as decide() reads them (JSON)
    clock             TEXT,
    paused_clock      TEXT,
    transition_counts TEXT NOT NULL DEFAULT '{}',
    due_at            TEXT,
    -- head of this task's audit hash chain
    audit_seq         INTEGER NOT NULL DEFAULT 0,
    audit_head        TEXT NOT NULL DEFAULT '',
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX tasks_plan ON tasks (plan_id);
CREATE INDEX tasks_unit ON tasks (unit_id);
CREATE INDEX tasks_phase_state ON tasks (phase, state);

-- Per-year budget lines, in đồng (exact integers; reports show million VND).
CREATE TABLE budget_lines (
    task_id                TEXT NOT NULL REFERENCES tasks (id),
    year                   INTEGER NOT NULL,
    need_total_vnd         INTEGER,
    approved_estimate_vnd  INTEGER,
    need_year_vnd          INTEGER,
    allocated_year_vnd     INTEGER,
    PRIMARY KEY (task_id, year)
);

CREATE TABLE documents (
    id            TEXT PRIMARY KEY,
    task_id       TEXT NOT NULL REFERENCES tasks (id),
    doc_type      TEXT NOT NULL,
    number        TEXT,
    issued_on     TEXT,
    issuer        TEXT,
    file_name     TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    stored_path   TEXT NOT NULL,
    uploaded_by   TEXT NOT NULL,
    uploaded_at   TEXT NOT NULL
);
CREATE INDEX documents_task ON documents (task_id);

CREATE TABLE audit_log (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id           TEXT NOT NULL REFERENCES tasks (id),
    seq               INTEGER NOT NULL,
    kind              TEXT NOT NULL,
    at                TEXT NOT NULL,
    actor_user        TEXT NOT NULL,
    actor_role        TEXT,
    transition        TEXT NOT NULL,
    from_state        TEXT,
    to_state          TEXT NOT NULL,
    from_phase        TEXT,
    to_phase          TEXT NOT NULL,
    comment           TEXT,
    documents         TEXT NOT NULL DEFAULT '[]',
    workflow          TEXT NOT NULL,
    workflow_version  INTEGER NOT NULL,
    idempotency_key   TEXT,
    prev_hash         TEXT NOT NULL,
    hash              TEXT NOT NULL,
    UNIQUE (task_id, seq)
);

-- A seal commits to the head of every task's chain at one moment, and chains to the seal before.
CREATE TABLE audit_seals (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    at                TEXT NOT NULL,
    through_audit_id  INTEGER NOT NULL,
    task_count        INTEGER NOT NULL,
    heads_digest      TEXT NOT NULL,
    prev_hash         TEXT NOT NULL,
    hash              TEXT NOT NULL,
    -- two instances sealing at once cannot fork the chain: the second insert fails
    UNIQUE (prev_hash)
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END;
CREATE TRIGGER audit_seals_no_update BEFORE UPDATE ON audit_seals
BEGIN SELECT RAISE(ABORT, 'audit_seals is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_seals_no_delete BEFORE DELETE ON audit_seals
BEGIN SELECT RAISE(ABORT, 'audit_seals is append-only: DELETE refused'); END;

-- The heads a seal commits to: every task whose chain grew since the previous seal.
CREATE TABLE audit_seal_heads (
    seal_id       INTEGER NOT NULL REFERENCES audit_seals (id),
    task_id       TEXT NOT NULL REFERENCES tasks (id),
    seq           INTEGER NOT NULL,
    hash          TEXT NOT NULL,
    PRIMARY KEY (seal_id, task_id)
);
CREATE TRIGGER audit_seal_heads_no_update BEFORE UPDATE ON audit_seal_heads
BEGIN SELECT RAISE(ABORT, 'audit_seal_heads is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_seal_heads_no_delete BEFORE DELETE ON audit_seal_heads
BEGIN SELECT RAISE(ABORT, 'audit_seal_heads is append-only: DELETE refused'); END;

CREATE TABLE timers (
    id            TEXT PRIMARY KEY,
    task_id       TEXT NOT NULL REFERENCES tasks (id),
    state         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    spec          TEXT NOT NULL,
    fire_at       TEXT NOT NULL,
    due_at        TEXT NOT NULL,
    status        TEXT NOT NULL,
    lease_owner   TEXT,
    lease_until   TEXT,
    fired_at      TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX timers_due ON timers (status, fire_at);
CREATE INDEX timers_task ON timers (task_id, status);

CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    task_id          TEXT REFERENCES tasks (id),
    template         TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    sent_at          TEXT
);
CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);

CREATE TABLE idempotency (
    actor_user    TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    task_id       TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (actor_user, key)
);
