-- What a request's identity is made of: its credential, its user, the user's roles and the
-- units the user acts for.

-- Every authenticated request asks whether the user's unit has absorbed others, and the merge
-- tree is walked by `merged_into`: index it.
CREATE INDEX units_merged_into ON units (merged_into) WHERE merged_into IS NOT NULL;

-- A server remembers the identities behind API tokens (adapters/src/store/identities.rs) and
-- forgets them all when told that any of these tables changed, whoever changed them: the CLI,
-- another instance, an operator's SQL. The notification is sent when the changing transaction
-- commits, and not at all if it rolls back.
CREATE FUNCTION tiendo_identity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tiendo_identity', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

-- A new user has no token yet, and a new unit absorbs nobody: inserting either changes no
-- identity, unless the unit is inserted already merged into another.
CREATE TRIGGER users_identity_changed
    AFTER UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION tiendo_identity_changed();
CREATE TRIGGER user_roles_identity_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION tiendo_identity_changed();
CREATE TRIGGER units_identity_changed
    AFTER UPDATE OF id, merged_into OR DELETE OR TRUNCATE ON units
    FOR EACH STATEMENT EXECUTE FUNCTION tiendo_identity_changed();
CREATE TRIGGER units_inserted_merged
    AFTER INSERT ON units
    FOR EACH ROW WHEN (NEW.merged_into IS NOT NULL) EXECUTE FUNCTION tiendo_identity_changed();
-- Not `last_used_at`: it is written as tokens are used, and changes no identity. Nor INSERT: a
-- new token is looked up on its first use.
CREATE TRIGGER api_tokens_identity_changed
    AFTER UPDATE OF id, user_id, token_hash, scope, expires_at, revoked_at OR DELETE OR TRUNCATE
    ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION tiendo_identity_changed();
