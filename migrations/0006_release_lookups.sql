-- Lookups a deploy makes, by index instead of by reading every release: a
-- release by name (the parser asks whether a word names one), and by
-- platform and namespace with its current revision (the UNIQUE index on
-- releases already serves that).
CREATE INDEX releases_by_name ON releases(name);
