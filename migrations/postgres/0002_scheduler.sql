-- Scheduler and email relay (issue 4). Mirrors migrations/sqlite/0002_scheduler.sql.

-- The outbox relay resolves recipients when it sends and records what it did.
ALTER TABLE outbox ADD COLUMN message_id TEXT;
ALTER TABLE outbox ADD COLUMN recipients TEXT;
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until TIMESTAMPTZ;

-- Timers are fired in batches by due time; a partial index keeps the scan to pending rows.
CREATE INDEX timers_pending_due ON timers (fire_at) WHERE status = 'pending';
CREATE INDEX outbox_pending_due ON outbox (next_attempt_at) WHERE status = 'pending';

-- One stall alert per task and version: a task that moves and stalls again is alerted again.
CREATE TABLE stall_alerts (
    task_id      TEXT NOT NULL REFERENCES tasks (id),
    version      BIGINT NOT NULL,
    alerted_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (task_id, version)
);

-- One row per cron slot that ran: several instances never send the same digest twice.
CREATE TABLE schedule_runs (
    name         TEXT NOT NULL,
    slot         TIMESTAMPTZ NOT NULL,
    owner        TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    ran_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (name, slot)
);

-- A named lease, for work that must run in one instance only (the SQLite scheduler).
CREATE TABLE leases (
    name         TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    until        TIMESTAMPTZ NOT NULL
);
