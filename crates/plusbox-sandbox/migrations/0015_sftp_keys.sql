CREATE TABLE sftp_key (
    app_id INTEGER NOT NULL REFERENCES app(id),
    fingerprint TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    public_key TEXT NOT NULL,
    comment TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, fingerprint)
);
