-- Web pages (issue 12), postgres. Mirrors the other backend's 0006_name_search.sql.
--
-- name_search  the task's name folded for searching (engine::domain::search_key: lowercase,
--              no diacritics, single spaces), so that "benh an" finds "bệnh án" on both
--              backends. Written with the name by every INSERT and name UPDATE; rows older than
--              this migration are filled in by Store::migrate.
ALTER TABLE tasks ADD COLUMN name_search TEXT;
