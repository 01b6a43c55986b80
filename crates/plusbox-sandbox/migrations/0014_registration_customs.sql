-- Merchant registration (alipayplus-api.md §13.1, store/registrations.rs): one row per accepted
-- registration request, the application's registration settings, and an outbox that carries
-- notifyRegistrationStatus beside notifyPayment.
CREATE TABLE registration (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES app(id),
    registration_request_id TEXT NOT NULL,
    -- Canonical JSON of the request body: a repeat must match it exactly.
    key_fields TEXT NOT NULL,
    reference_merchant_id TEXT NOT NULL,
    reference_store_id TEXT,
    merchant_name TEXT NOT NULL,
    product_codes TEXT NOT NULL,
    notify_url TEXT,
    pass_through_info TEXT,
    status TEXT NOT NULL,
    reject_reason TEXT,
    created_at INTEGER NOT NULL,
    resolve_at INTEGER NOT NULL,
    resolved_at INTEGER,
    UNIQUE (app_id, registration_request_id)
);
CREATE INDEX registration_merchant ON registration(app_id, reference_merchant_id, created_at);
CREATE INDEX registration_due ON registration(status, resolve_at);
CREATE TABLE registration_setting (
    app_id INTEGER PRIMARY KEY REFERENCES app(id),
    notify_url TEXT,
    -- `pay` refuses merchants without a completed registration (F MERCHANT_NOT_REGISTERED).
    require_registration INTEGER NOT NULL DEFAULT 0,
    -- Sandbox-time seconds a registration stays PROCESSING.
    review_seconds INTEGER NOT NULL DEFAULT 600
);
-- The outbox carried only notifyPayment (payment_row NOT NULL); SQLite cannot relax a NOT NULL,
-- so the table is rebuilt with the same rows, an `api` column and an optional registration.
CREATE TABLE outbox_new (
    id INTEGER PRIMARY KEY,
    api TEXT NOT NULL DEFAULT 'notifyPayment',
    payment_row INTEGER REFERENCES payment(id),
    registration_row INTEGER REFERENCES registration(id),
    url TEXT,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK ((payment_row IS NULL) <> (registration_row IS NULL))
);
INSERT INTO outbox_new (id, api, payment_row, url, body, attempts, next_at, status, last_error, created_at, updated_at)
    SELECT id, 'notifyPayment', payment_row, url, body, attempts, next_at, status, last_error, created_at, updated_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(status, next_at);
CREATE INDEX outbox_payment ON outbox(payment_row);
CREATE INDEX outbox_registration ON outbox(registration_row);
-- Customs declarations (alipayplus-api.md §13.2, store/customs.rs): one row per accepted
-- declaration of an Alipay (CN) payment; its status follows from its age on the sandbox clock.
CREATE TABLE declaration (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES app(id),
    customs_declaration_request_id TEXT NOT NULL,
    key_fields TEXT NOT NULL,
    payment_row INTEGER NOT NULL REFERENCES payment(id),
    psp_declaration_request_id TEXT NOT NULL,
    customs_code TEXT NOT NULL,
    region TEXT NOT NULL,
    merchant_customs_code TEXT NOT NULL,
    merchant_customs_name TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL,
    is_split TEXT,
    reference_order_id TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (app_id, customs_declaration_request_id)
);
CREATE INDEX declaration_payment ON declaration(payment_row);
