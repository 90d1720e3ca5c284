-- Plans that span years (issue 14), PostgreSQL. Mirrors migrations/sqlite/0007_plan_listings.sql.
--
-- A task is a task, not a row of a plan: it is *listed* in one or more yearly plans.
-- `tasks.plan_id` stays as the plan the task first entered (its origin); which plans list a
-- task, and how, is `plan_listings`.
--
-- plan_listings     one row per (plan, task): the section it is printed in (the key the plan's
--                   layout gives it: "1".."4" for Plan 215, "II" for Plan 359 …), its category
--                   there (thuong_xuyen, chuyen_tiep, moi, dau_tu_cong …), the TT, unit and name
--                   as printed, the row's key for re-imports of that plan, its place in the file,
--                   and how the task did in that plan year (year_status), separately from its
--                   lifecycle.
-- budget_lines      one row per (task, year), as before; gains the plan that printed it, the
--                   funds carried over from the previous year (chuyển nguồn) and what was spent.
-- budget_history    every figure ever written to a budget line, append-only, with the date it
--                   is known from: a report "as of" a date reads the last one known by then.
-- budget_tranches   allocations in tranches (đợt 1, đợt 2 …) with their decision.
-- task_lineage      a task continues, replaces or is re-proposed from another (who and why).

CREATE TABLE plan_listings (
    plan_id           TEXT NOT NULL REFERENCES plans (id),
    task_id           TEXT NOT NULL REFERENCES tasks (id),
    section           TEXT NOT NULL,
    category          TEXT,
    printed_seq       TEXT,
    unit_printed      TEXT,
    name_printed      TEXT,
    source_key        TEXT,
    position          BIGINT,
    year_status       TEXT,
    year_status_note  TEXT,
    created_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (plan_id, task_id)
);
CREATE UNIQUE INDEX plan_listings_source_key ON plan_listings (plan_id, source_key);
CREATE INDEX plan_listings_task ON plan_listings (task_id);

-- Every task of today is listed in the plan it belongs to, in the appendix its funding source
-- is printed in (Plan 215's layout).
INSERT INTO plan_listings (plan_id, task_id, section, category, printed_seq, unit_printed, name_printed,
                           source_key, position, year_status, year_status_note, created_at)
SELECT t.plan_id, t.id,
       CASE t.funding_source
            WHEN 'thuong_xuyen' THEN '1'
            WHEN 'hoan_thanh_2025_cntt' THEN '2'
            WHEN 'hoan_thanh_2025_quy_phat_trien' THEN '2'
            WHEN 'su_nghiep_cntt' THEN '3'
            ELSE '4' END,
       CASE t.funding_source
            WHEN 'thuong_xuyen' THEN 'thuong_xuyen'
            WHEN 'hoan_thanh_2025_cntt' THEN 'hoan_thanh_trong_nam'
            WHEN 'hoan_thanh_2025_quy_phat_trien' THEN 'hoan_thanh_trong_nam'
            WHEN 'su_nghiep_cntt' THEN 'su_nghiep_cntt'
            ELSE 'dau_tu_cong' END,
       t.source_seq, t.unit_printed, t.name, t.source_key, t.position, NULL, NULL, t.created_at
FROM tasks t;

ALTER TABLE budget_lines ADD COLUMN plan_id TEXT REFERENCES plans (id);
ALTER TABLE budget_lines ADD COLUMN carried_over_vnd BIGINT;
ALTER TABLE budget_lines ADD COLUMN spent_vnd BIGINT;
UPDATE budget_lines SET plan_id = (SELECT t.plan_id FROM tasks t WHERE t.id = budget_lines.task_id);

CREATE TABLE budget_history (
    id                     BIGSERIAL PRIMARY KEY,
    task_id                TEXT NOT NULL REFERENCES tasks (id),
    year                   BIGINT NOT NULL,
    plan_id                TEXT REFERENCES plans (id),
    need_total_vnd         BIGINT,
    approved_estimate_vnd  BIGINT,
    need_year_vnd          BIGINT,
    allocated_year_vnd     BIGINT,
    carried_over_vnd       BIGINT,
    spent_vnd              BIGINT,
    -- the line was removed (a re-import without amounts)
    removed                BOOLEAN NOT NULL DEFAULT FALSE,
    known_from             DATE NOT NULL,
    recorded_at            TIMESTAMPTZ NOT NULL,
    recorded_by            TEXT NOT NULL
);
CREATE INDEX budget_history_task_year ON budget_history (task_id, year, known_from);
CREATE TRIGGER budget_history_append_only BEFORE UPDATE OR DELETE ON budget_history
    FOR EACH ROW EXECUTE FUNCTION tiendo_append_only();
CREATE TRIGGER budget_history_no_truncate BEFORE TRUNCATE ON budget_history
    FOR EACH STATEMENT EXECUTE FUNCTION tiendo_append_only();

-- Today's lines are known from the day (UTC) their task was created.
INSERT INTO budget_history (task_id, year, plan_id, need_total_vnd, approved_estimate_vnd, need_year_vnd,
                            allocated_year_vnd, carried_over_vnd, spent_vnd, removed, known_from, recorded_at,
                            recorded_by)
SELECT b.task_id, b.year, b.plan_id, b.need_total_vnd, b.approved_estimate_vnd, b.need_year_vnd,
       b.allocated_year_vnd, NULL, NULL, FALSE, (t.created_at AT TIME ZONE 'UTC')::date, t.created_at, 'migration:0007'
FROM budget_lines b JOIN tasks t ON t.id = b.task_id
ORDER BY t.created_at, b.task_id, b.year;

CREATE TABLE budget_tranches (
    task_id          TEXT NOT NULL REFERENCES tasks (id),
    year             BIGINT NOT NULL,
    tranche          BIGINT NOT NULL,
    amount_vnd       BIGINT NOT NULL,
    decision_number  TEXT,
    decision_on      DATE,
    recorded_at      TIMESTAMPTZ NOT NULL,
    recorded_by      TEXT NOT NULL,
    PRIMARY KEY (task_id, year, tranche)
);

CREATE TABLE task_lineage (
    id             BIGSERIAL PRIMARY KEY,
    task_id        TEXT NOT NULL REFERENCES tasks (id),
    relation       TEXT NOT NULL,
    other_task_id  TEXT NOT NULL REFERENCES tasks (id),
    reason         TEXT NOT NULL,
    actor_user     TEXT NOT NULL,
    at             TIMESTAMPTZ NOT NULL
);
CREATE INDEX task_lineage_task ON task_lineage (task_id);
CREATE INDEX task_lineage_other ON task_lineage (other_task_id);
