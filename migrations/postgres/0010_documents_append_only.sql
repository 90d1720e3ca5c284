-- Documents are evidence (issue 13, security 3): a recorded document, its sha256 and where its file
-- is, never change and never go away; a correction is a new document. Mirrors
-- migrations/sqlite/0009_documents_append_only.sql; tiendo_append_only() is migration 0001's.
CREATE TRIGGER documents_append_only BEFORE UPDATE OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION tiendo_append_only();
CREATE TRIGGER documents_no_truncate BEFORE TRUNCATE ON documents
    FOR EACH STATEMENT EXECUTE FUNCTION tiendo_append_only();
