CREATE TABLE device_scope (
    device_id INTEGER PRIMARY KEY REFERENCES device(id),
    merchant TEXT,
    account TEXT,
    clock_control INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE test_run (
    id INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    touched_at INTEGER NOT NULL,
    ended_at INTEGER
);
CREATE INDEX test_run_active ON test_run(account_id, ended_at);
