-- Documents are evidence (issue 13, security 3): a recorded document, its sha256 and where its file
-- is, never change and never go away; a correction is a new document. Mirrors
-- migrations/postgres/0009_documents_append_only.sql.
CREATE TRIGGER documents_no_update BEFORE UPDATE ON documents
BEGIN SELECT RAISE(ABORT, 'documents is append-only: UPDATE refused'); END;
CREATE TRIGGER documents_no_delete BEFORE DELETE ON documents
BEGIN SELECT RAISE(ABORT, 'documents is append-only: DELETE refused'); END;
