-- Secret values at rest are sealed (store/crypto.rs). `encrypted` says which
-- rows are; the rows of an older database are sealed by the first process
-- that opens it with a key, and revisions' manifests_json is sealed the same
-- way (a sealed value starts with 'enc1:', JSON never does). store_meta
-- holds a sealed check value, so a wrong key is refused at open.
ALTER TABLE release_secrets ADD COLUMN encrypted INTEGER NOT NULL DEFAULT 0;
CREATE TABLE store_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
