-- Request ids bound to their request (README, "Stored resources"): the
-- digest of method, parent, body and caller of the request that first used
-- the id. Rows written before this migration have none and keep answering
-- a retry as before. The index finds an id reused under another method.
ALTER TABLE request_ids ADD COLUMN digest TEXT NOT NULL DEFAULT '';
CREATE INDEX request_ids_by_id ON request_ids (request_id);
