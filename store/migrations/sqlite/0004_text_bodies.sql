-- Nothing to do: bodies are TEXT in SQLite already (see the PostgreSQL
-- migration of the same number). Kept so both engines share versions.
SELECT 1;
