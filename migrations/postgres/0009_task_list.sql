-- The task list (issue 12's numbers), postgres. Mirrors the other backend's 0009_task_list.sql.
--
-- tasks_due      the search's deadline order (nearest first, tasks without a deadline last:
--                ORDER BY (due_at IS NULL), due_at, id), so that the first page of the task list
--                and of "my turn" is read from the index instead of sorting every visible task.
-- tasks_created  the default order of the API's and the CLI's lists (created_at, id).
CREATE INDEX tasks_due ON tasks ((due_at IS NULL), due_at, id);
CREATE INDEX tasks_created ON tasks (created_at, id);
