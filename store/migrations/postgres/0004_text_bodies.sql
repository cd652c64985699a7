-- Estimate and statement bodies become TEXT, as in SQLite. They are the
-- engine's output, stored and returned whole, never queried inside; JSONB
-- made PostgreSQL parse every body on write and print it on read, which
-- was most of a recompute's database time (1,000,000 estimates: the bodies
-- of 10,000 incidents and a million statements). A statement converted
-- here is spelled differently from Go's encoding of the same statement,
-- so the next recompute that rewrites it bumps its revision once.
ALTER TABLE incident_estimates ALTER COLUMN body TYPE TEXT USING body::text;
ALTER TABLE sla_statements ALTER COLUMN body TYPE TEXT USING body::text;
