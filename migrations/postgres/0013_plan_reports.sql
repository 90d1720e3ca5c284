-- Plan reports by layout, budgets with tranches, lineage and year status with history (issue 14),
-- PostgreSQL. Mirrors migrations/sqlite/0013_plan_reports.sql (see there for the tables).

ALTER TABLE plans ADD COLUMN layout TEXT;
ALTER TABLE budget_history ADD COLUMN tranches TEXT;

CREATE TABLE year_status_history (
    id           BIGSERIAL PRIMARY KEY,
    plan_id      TEXT NOT NULL REFERENCES plans (id),
    task_id      TEXT NOT NULL REFERENCES tasks (id),
    year_status  TEXT,
    note         TEXT,
    recorded_at  TIMESTAMPTZ NOT NULL,
    recorded_by  TEXT NOT NULL
);
CREATE INDEX year_status_history_listing ON year_status_history (plan_id, task_id, recorded_at);
CREATE TRIGGER year_status_history_append_only BEFORE UPDATE OR DELETE ON year_status_history
    FOR EACH ROW EXECUTE FUNCTION tiendo_append_only();
CREATE TRIGGER year_status_history_no_truncate BEFORE TRUNCATE ON year_status_history
    FOR EACH STATEMENT EXECUTE FUNCTION tiendo_append_only();

INSERT INTO year_status_history (plan_id, task_id, year_status, note, recorded_at, recorded_by)
SELECT plan_id, task_id, year_status, year_status_note, created_at, 'migration:0013'
FROM plan_listings WHERE year_status IS NOT NULL ORDER BY created_at, plan_id, task_id;

CREATE TABLE task_renames (
    id          BIGSERIAL PRIMARY KEY,
    task_id     TEXT NOT NULL REFERENCES tasks (id),
    old_name    TEXT NOT NULL,
    new_name    TEXT NOT NULL,
    old_kind    TEXT,
    new_kind    TEXT,
    reason      TEXT NOT NULL,
    actor_user  TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX task_renames_task ON task_renames (task_id, at);
