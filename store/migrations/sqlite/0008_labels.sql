-- Labels (AIP-style key/value pairs) on customers and contracts, for
-- exposure selectors. A JSON object of strings; '{}' when there are none.
-- Selection reads them in Go, after the id and service filters in SQL.
ALTER TABLE customers ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
ALTER TABLE contracts ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
