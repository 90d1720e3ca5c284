-- Plan reports by layout, budgets with tranches, lineage and year status with history (issue 14),
-- SQLite. Mirrors migrations/postgres/0013_plan_reports.sql.
--
-- plans.layout          the plan's layout (TOML, as `data/plan-*/layout.toml` declares it): the
--                       reports print its sections, titles and column sets. NULL: Plan 215's four
--                       appendices by funding source.
-- budget_history.tranches  the allocations in tranches known with that figure (JSON array of
--                       {tranche, amount_vnd, decision_number, decision_on}), so "as of" a date
--                       shows the tranches known then.
-- year_status_history   every year-level status written to a listing, append-only: a report "as of"
--                       a date reads the last one recorded by then.
-- task_renames          a task's name or kind changed across years: the old and new values, who
--                       and why (also an audit entry in the task's chain).

ALTER TABLE plans ADD COLUMN layout TEXT;
ALTER TABLE budget_history ADD COLUMN tranches TEXT;

CREATE TABLE year_status_history (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id      TEXT NOT NULL REFERENCES plans (id),
    task_id      TEXT NOT NULL REFERENCES tasks (id),
    year_status  TEXT,
    note         TEXT,
    recorded_at  TEXT NOT NULL,
    recorded_by  TEXT NOT NULL
);
CREATE INDEX year_status_history_listing ON year_status_history (plan_id, task_id, recorded_at);
CREATE TRIGGER year_status_history_no_update BEFORE UPDATE ON year_status_history
BEGIN SELECT RAISE(ABORT, 'year_status_history is append-only: UPDATE refused'); END;
CREATE TRIGGER year_status_history_no_delete BEFORE DELETE ON year_status_history
BEGIN SELECT RAISE(ABORT, 'year_status_history is append-only: DELETE refused'); END;

-- Statuses recorded before this migration are known from when their listing was made.
INSERT INTO year_status_history (plan_id, task_id, year_status, note, recorded_at, recorded_by)
SELECT plan_id, task_id, year_status, year_status_note, created_at, 'migration:0013'
FROM plan_listings WHERE year_status IS NOT NULL ORDER BY created_at, plan_id, task_id;

CREATE TABLE task_renames (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id     TEXT NOT NULL REFERENCES tasks (id),
    old_name    TEXT NOT NULL,
    new_name    TEXT NOT NULL,
    old_kind    TEXT,
    new_kind    TEXT,
    reason      TEXT NOT NULL,
    actor_user  TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX task_renames_task ON task_renames (task_id, at);
