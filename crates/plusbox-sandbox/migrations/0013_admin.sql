-- The TSP dashboard's admin login (store/dashboard.rs). One admin password, as an Argon2id PHC
-- string (`plusbox admin set-password`); sessions stored as the SHA-256 of their cookie token,
-- each with its expiry; failed logins with the client address, for rate limiting per address
-- and over all addresses. Times are real time (not the sandbox clock a test run may jump).
CREATE TABLE admin (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    password_hash TEXT NOT NULL,
    set_at INTEGER NOT NULL
);
CREATE TABLE admin_session (
    token_hash TEXT PRIMARY KEY,
    client TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX admin_session_expiry ON admin_session(expires_at);
CREATE TABLE admin_login_failure (
    at INTEGER NOT NULL,
    client TEXT NOT NULL
);
CREATE INDEX admin_login_failure_client ON admin_login_failure(client, at);
CREATE INDEX admin_login_failure_at ON admin_login_failure(at);
-- The traffic monitor reads a time window of the log from this index alone (it covers the
-- columns the monitor counts), never the rows with their bodies.
CREATE INDEX traffic_at ON traffic(at, direction, duration_ms, response_status, result_status, result_code);
-- The dashboard's matrix reads each invite's newest upload.
CREATE INDEX result_bundle_invite ON result_bundle(invite_id, uploaded_at);
