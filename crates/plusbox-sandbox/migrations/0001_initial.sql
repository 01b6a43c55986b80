CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE app (
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    acquirer_id TEXT NOT NULL,
    sandbox_private_key TEXT NOT NULL,
    sandbox_key_version INTEGER NOT NULL DEFAULT 1,
    notify_url TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE acqp_key (
    app_id INTEGER NOT NULL REFERENCES app(id),
    key_version INTEGER NOT NULL,
    public_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, key_version)
);
CREATE TABLE merchant (
    id TEXT PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES app(id),
    name TEXT NOT NULL,
    store_id TEXT NOT NULL,
    store_name TEXT NOT NULL
);
CREATE TABLE account (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scenario TEXT NOT NULL DEFAULT 'success',
    pin TEXT NOT NULL,
    wallet TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE balance (
    account_id TEXT NOT NULL REFERENCES account(id),
    currency TEXT NOT NULL,
    value INTEGER NOT NULL CHECK (value >= 0),
    PRIMARY KEY (account_id, currency)
);
CREATE TABLE ledger (
    id INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    delta INTEGER NOT NULL,
    kind TEXT NOT NULL,
    reference TEXT,
    at INTEGER NOT NULL
);
CREATE TABLE code (
    code TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_by TEXT
);
CREATE TABLE payment (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL,
    payment_request_id TEXT NOT NULL,
    payment_id TEXT NOT NULL UNIQUE,
    key_fields TEXT NOT NULL,
    account_id TEXT,
    code TEXT,
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL,
    state TEXT NOT NULL,
    fail_code TEXT,
    fail_message TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    paid_at INTEGER,
    closed_at INTEGER,
    notify_url TEXT,
    psp_id TEXT NOT NULL,
    wallet_brand_name TEXT NOT NULL,
    customer_id TEXT,
    request_body TEXT,
    UNIQUE (app_id, payment_request_id)
);
CREATE INDEX payment_processing ON payment(state, expires_at);
CREATE TABLE refund (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL,
    refund_request_id TEXT NOT NULL,
    refund_id TEXT NOT NULL UNIQUE,
    payment_row INTEGER NOT NULL REFERENCES payment(id),
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL,
    result_code TEXT NOT NULL,
    reason TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (app_id, refund_request_id)
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    payment_row INTEGER NOT NULL REFERENCES payment(id),
    url TEXT,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox(status, next_at);
CREATE TABLE mock (
    id INTEGER PRIMARY KEY,
    api TEXT NOT NULL,
    result_code TEXT NOT NULL,
    remaining INTEGER,
    until INTEGER,
    hits INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE traffic (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    direction TEXT NOT NULL,
    api TEXT NOT NULL,
    client_id TEXT,
    payment_request_id TEXT,
    payment_id TEXT,
    method TEXT NOT NULL,
    uri TEXT NOT NULL,
    request_headers TEXT NOT NULL,
    request_body BLOB NOT NULL,
    response_status INTEGER,
    response_headers TEXT NOT NULL,
    response_body BLOB NOT NULL,
    result_code TEXT,
    result_status TEXT,
    signature TEXT NOT NULL,
    findings TEXT NOT NULL,
    mock_id INTEGER,
    duration_ms REAL NOT NULL,
    note TEXT
);
CREATE INDEX traffic_payment ON traffic(payment_request_id);
CREATE TABLE device (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
