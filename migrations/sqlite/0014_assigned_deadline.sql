-- The assigned deadline (thời hạn giao; issue 15, item 6), SQLite. Mirrors migrations/postgres/0014_assigned_deadline.sql.
--
-- tasks.assigned_deadline_on  a deadline a leader set by a decision; it replaces the plan's
--                             expected completion (tasks.expected_completion_on) as the deadline
--                             the status report judges. NULL: the plan's date, if any, applies.
-- tasks.deadline_doc_number   the deciding document of the last change of the assigned deadline
-- tasks.deadline_doc_date     (set or cleared), as the audit entry "deadline" records it too.

ALTER TABLE tasks ADD COLUMN assigned_deadline_on TEXT;
ALTER TABLE tasks ADD COLUMN deadline_doc_number TEXT;
ALTER TABLE tasks ADD COLUMN deadline_doc_date TEXT;
