-- The procedure as the city runs it (issue 15, items 1, 2, 9), SQLite. Mirrors
-- migrations/postgres/0012_procedure.sql.
--
-- tasks.own_fund     the task spends the unit's own revenue (quỹ phát triển hoạt động sự nghiệp):
--                    an approval authority's rules look at it ([approvals.NAME] own_fund).
-- task_proposals     a unit's proposal to postpone or withdraw a task (its letter number and date),
--                    pending until UBND accepts or refuses it; at most one pending per task.
-- task_transfers     a task moved to another owning unit by a decision (not a unit merge).
ALTER TABLE tasks ADD COLUMN own_fund INTEGER NOT NULL DEFAULT 0;

CREATE TABLE task_proposals (
    id                TEXT PRIMARY KEY,
    task_id           TEXT NOT NULL REFERENCES tasks (id),
    kind              TEXT NOT NULL,
    letter_number     TEXT NOT NULL,
    letter_date       TEXT,
    comment           TEXT,
    -- the state the task was in when the unit proposed
    from_state        TEXT NOT NULL,
    proposed_by       TEXT NOT NULL,
    proposed_at       TEXT NOT NULL,
    status            TEXT NOT NULL,
    decided_by        TEXT,
    decided_at        TEXT,
    decision_comment  TEXT
);
CREATE INDEX task_proposals_task ON task_proposals (task_id);
CREATE UNIQUE INDEX task_proposals_one_pending ON task_proposals (task_id) WHERE status = 'pending';

CREATE TABLE task_transfers (
    id                TEXT PRIMARY KEY,
    task_id           TEXT NOT NULL REFERENCES tasks (id),
    from_unit         TEXT NOT NULL REFERENCES units (id),
    to_unit           TEXT NOT NULL REFERENCES units (id),
    decision_number   TEXT NOT NULL,
    decision_date     TEXT,
    comment           TEXT,
    decided_by        TEXT NOT NULL,
    decided_at        TEXT NOT NULL
);
CREATE INDEX task_transfers_task ON task_transfers (task_id);
