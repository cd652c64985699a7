-- Each audit row holds the stored row of its resource before and after the
-- write, as JSON ("" when there is none: before a create, after a delete).
ALTER TABLE audit_log ADD COLUMN before_value TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN after_value TEXT NOT NULL DEFAULT '';
