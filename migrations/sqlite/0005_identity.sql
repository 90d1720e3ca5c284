-- What a request's identity is made of: its credential, its user, the user's roles and the
-- units the user acts for.

-- Every authenticated request asks whether the user's unit has absorbed others, and the merge
-- tree is walked by `merged_into`: index it.
CREATE INDEX units_merged_into ON units (merged_into) WHERE merged_into IS NOT NULL;

-- PostgreSQL's migration also adds triggers that notify servers of identity changes, for their
-- token cache. SQLite cannot notify another process, so on SQLite servers keep no such cache
-- and read every request's credential (adapters/src/store/identities.rs).
