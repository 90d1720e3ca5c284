-- Review rounds (issue 15, item 3), SQLite. Mirrors migrations/postgres/0008_review_rounds.sql.
--
-- tasks.review          which review the dossier is in: 1, then one more each time a transition
--                       marked `opens_review` re-opens it (a new scale, a new year).
-- tasks.state_entries   JSON: how many times each state was entered in the current review (the
--                       round of a step, "cho ý kiến lần 2"). tasks.transition_counts now counts
--                       within the current review too, so `max_repeats` limits one review.
-- audit_log.review      the review and the round of the step entered, on every entry written
-- audit_log.round       from now on (NULL on older entries, whose hash does not cover them).
--
-- Existing tasks have had one review: their state entries are counted from their audit log.

ALTER TABLE tasks ADD COLUMN review INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN state_entries TEXT NOT NULL DEFAULT '{}';
ALTER TABLE audit_log ADD COLUMN review INTEGER;
ALTER TABLE audit_log ADD COLUMN round INTEGER;

UPDATE tasks SET state_entries = COALESCE(
    (SELECT json_group_object(to_state, n)
       FROM (SELECT to_state, COUNT(*) AS n FROM audit_log a WHERE a.task_id = tasks.id GROUP BY to_state)),
    '{}');
