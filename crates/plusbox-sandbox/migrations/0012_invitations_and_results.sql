-- Invitations (store/invite.rs): a merchant invited to test, its link token (hashed), its own
-- buyer accounts and the cases it must pass. Status: revoked_at → Revoked; linked_at → Active;
-- else Inactive.
CREATE TABLE invite (
    id TEXT PRIMARY KEY,
    merchant TEXT NOT NULL,
    mid TEXT NOT NULL,
    email TEXT NOT NULL,
    products TEXT NOT NULL,
    cases TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    accounts TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    linked_at INTEGER,
    revoked_at INTEGER
);
-- The devices linked through an invite, with the device's Ed25519 public key (SPKI DER, Base64)
-- that signs its uploads; NULL for a browser device, whose runs the sandbox records itself.
CREATE TABLE invite_device (
    device_id INTEGER PRIMARY KEY REFERENCES device(id),
    invite_id TEXT NOT NULL REFERENCES invite(id),
    public_key TEXT
);
-- The collector (store/collector.rs): uploaded bundles, their runs (the companion's RunResult
-- JSON without photo bytes) and the photos. A bundle is stored once, whole, in one transaction.
CREATE TABLE result_bundle (
    id TEXT PRIMARY KEY,
    invite_id TEXT NOT NULL,
    device_id INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_at INTEGER NOT NULL,
    size INTEGER NOT NULL
);
CREATE TABLE result_run (
    id TEXT PRIMARY KEY,
    bundle_id TEXT NOT NULL REFERENCES result_bundle(id),
    invite_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    verdict TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    uploaded_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE result_photo (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES result_run(id),
    check_id TEXT NOT NULL,
    media_type TEXT NOT NULL,
    bytes BLOB NOT NULL
);
CREATE INDEX result_run_latest ON result_run(invite_id, case_id, ended_at);
CREATE INDEX invite_device_invite ON invite_device(invite_id);
CREATE INDEX result_photo_run ON result_photo(run_id);
