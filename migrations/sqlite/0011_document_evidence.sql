-- Documents inside the tamper evidence (issue 13, security 3), SQLite. Mirrors
-- migrations/postgres/0011_document_evidence.sql.
-- audit_log.evidence  JSON text, hashed into the entry's chain when present (NULL on older
--                     entries, whose hash does not cover it):
--                     an upload's entry (kind `document`): {"document": {id, type, number,
--                     issued_on, issuer, file_name, size_bytes, sha256, uploaded_by}};
--                     a transition citing documents: {"documents": [{id, sha256}, …]}.
ALTER TABLE audit_log ADD COLUMN evidence TEXT;
