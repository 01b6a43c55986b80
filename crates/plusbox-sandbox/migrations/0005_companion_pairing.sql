ALTER TABLE device ADD COLUMN revoked_at INTEGER;
ALTER TABLE device ADD COLUMN last_seen_at INTEGER;
CREATE TABLE pairing (
    id INTEGER PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    link_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    device_id INTEGER
);
CREATE TABLE pairing_failure (at INTEGER NOT NULL);
