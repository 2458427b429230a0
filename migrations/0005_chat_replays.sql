-- Chat request signatures seen recently (Slack's replay protection), kept
-- in the database so a request replayed after a restart is still refused.
-- Rows older than the replay window are deleted as new ones arrive.
CREATE TABLE chat_replays (
    key     TEXT PRIMARY KEY,
    seen_at INTEGER NOT NULL
);
CREATE INDEX chat_replays_by_age ON chat_replays(seen_at);
