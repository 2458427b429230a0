-- deckhand's first schema: intents with their append-only events, releases,
-- revisions, generated secrets, API tokens and chat conversations.

CREATE TABLE intents (
    id              TEXT PRIMARY KEY,
    command         TEXT NOT NULL,
    status          TEXT NOT NULL,
    requested_by    TEXT NOT NULL,
    options_json    TEXT NOT NULL DEFAULT '{}',
    intent_json     TEXT,
    plan_json       TEXT,
    plan_text       TEXT,
    action          TEXT,
    applications    TEXT NOT NULL DEFAULT '[]',
    platform        TEXT,
    namespace       TEXT,
    executor        TEXT,
    error           TEXT,
    suggestions     TEXT NOT NULL DEFAULT '[]',
    resources_json  TEXT NOT NULL DEFAULT '[]',
    conversation_id TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    finished_at     TEXT
);
CREATE INDEX intents_by_status ON intents(status);
CREATE INDEX intents_by_created ON intents(created_at);

CREATE TABLE intent_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    intent_id   TEXT NOT NULL REFERENCES intents(id),
    at          TEXT NOT NULL,
    step        TEXT NOT NULL,
    status      TEXT NOT NULL,
    message     TEXT NOT NULL,
    duration_ms INTEGER
);
CREATE INDEX intent_events_by_intent ON intent_events(intent_id, id);
CREATE TRIGGER intent_events_are_append_only_update BEFORE UPDATE ON intent_events
BEGIN SELECT RAISE(ABORT, 'intent events are append-only'); END;
CREATE TRIGGER intent_events_are_append_only_delete BEFORE DELETE ON intent_events
BEGIN SELECT RAISE(ABORT, 'intent events are append-only'); END;

CREATE TABLE releases (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    platform         TEXT NOT NULL,
    namespace        TEXT NOT NULL,
    name             TEXT NOT NULL,
    blueprint        TEXT NOT NULL,
    status           TEXT NOT NULL,
    current_revision INTEGER,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (platform, namespace, name)
);

CREATE TABLE revisions (
    release_id        INTEGER NOT NULL REFERENCES releases(id),
    number            INTEGER NOT NULL,
    intent_id         TEXT REFERENCES intents(id),
    action            TEXT NOT NULL,
    version           TEXT NOT NULL,
    parameters_json   TEXT NOT NULL,
    manifests_json    TEXT NOT NULL,
    dependencies_json TEXT NOT NULL DEFAULT '[]',
    created_by        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    PRIMARY KEY (release_id, number)
);

CREATE TABLE release_secrets (
    platform   TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    release    TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (platform, namespace, release, name)
);

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'deployer', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE conversations (
    id                TEXT PRIMARY KEY,
    created_by        TEXT NOT NULL,
    pending_intent_id TEXT REFERENCES intents(id),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);

CREATE TABLE conversation_messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    at              TEXT NOT NULL,
    author          TEXT NOT NULL,
    text            TEXT NOT NULL
);
CREATE INDEX conversation_messages_by_conversation ON conversation_messages(conversation_id, id);
