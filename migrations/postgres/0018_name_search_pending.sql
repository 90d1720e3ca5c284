-- Start-up without a scan (issue 18), PostgreSQL. Mirrors migrations/sqlite/0018_name_search_pending.sql.
--
-- Every start (`Store::migrate`) looks for tasks whose `name_search` is not filled yet (stored by
-- a binary older than 0006, or written by one). Without an index that look is a scan of every
-- task: on a 100,000-task database it cost every command, every report, a second or so. The
-- partial index holds only the rows still to fill, so the look is one probe of an index that is
-- almost always empty, and the writes that fill `name_search` (every write of this binary) do
-- not add to it.

CREATE INDEX tasks_name_search_pending ON tasks (id) WHERE name_search IS NULL;
