-- Plan import (issue 6), PostgreSQL. Mirrors migrations/sqlite/0004_import.sql column for column.
--
-- What a task keeps of the printed plan row it was imported from. The appendix and the funding
-- group (A/B of appendix 2) are not stored: both follow from `funding_source`, and the importer
-- refuses a row whose appendix disagrees with its funding source.
--
-- source_key              sha256 of (appendix, unit id, normalised task name): how a re-import
--                         finds the task again; NULL for tasks not created by an import
-- source_seq              TT as printed (blank where the plan printed none)
-- source_stage            the lifecycle_stage of the row as last imported
-- unit_printed            the unit's name as spelled on the row ("Uỷ"/"Ủy" …)
-- progress_text           the printed progress text ("Tiến độ") as last imported
-- expected_completion     "Thời gian dự kiến hoàn thành" as printed ("31/12/2025", "Hoàn thành" …)
-- expected_completion_on  the same as a date, where it is one (and a plausible one)
-- notes                   the catalogue's notes on the row
-- position                the row's place in the imported file, for reports in printed order
ALTER TABLE tasks ADD COLUMN source_key TEXT;
ALTER TABLE tasks ADD COLUMN source_seq TEXT;
ALTER TABLE tasks ADD COLUMN source_stage TEXT;
ALTER TABLE tasks ADD COLUMN unit_printed TEXT;
ALTER TABLE tasks ADD COLUMN progress_text TEXT;
ALTER TABLE tasks ADD COLUMN expected_completion TEXT;
ALTER TABLE tasks ADD COLUMN expected_completion_on DATE;
ALTER TABLE tasks ADD COLUMN notes TEXT;
ALTER TABLE tasks ADD COLUMN position BIGINT;

-- One task per printed row of a plan; two concurrent imports of one file cannot both insert it.
CREATE UNIQUE INDEX tasks_source_key ON tasks (plan_id, source_key);
