-- Disputes (alipayplus-api.md §13.3, store/disputes.rs): one row per retrieval or escalation
-- the TSP started against a payment, with its answer; the per-application dispute URL; and an
-- outbox column linking the queued initiateRetrieval / initiateEscalation to its dispute (such a
-- row also names the disputed payment, which keeps the outbox's payment-or-registration CHECK).
CREATE TABLE dispute (
    id INTEGER PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES app(id),
    dispute_request_id TEXT NOT NULL UNIQUE,
    -- RETRIEVAL or ESCALATION.
    kind TEXT NOT NULL,
    -- 1-based number among the payment's disputes of this kind.
    sequence INTEGER NOT NULL,
    payment_row INTEGER NOT NULL REFERENCES payment(id),
    reason_code TEXT NOT NULL,
    -- The escalated amount (escalations only).
    currency TEXT,
    amount INTEGER,
    -- OPEN, ANSWERED or CLOSED (an OPEN row past respond_by reads as EXPIRED).
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    respond_by INTEGER NOT NULL,
    acknowledged_at INTEGER,
    answered_at INTEGER,
    closed_at INTEGER,
    -- Canonical JSON of the accepted answer (a repeat must match it) and the answer as received.
    response_key TEXT,
    response_body TEXT,
    UNIQUE (payment_row, kind, sequence)
);
CREATE INDEX dispute_app ON dispute(app_id, created_at);
CREATE TABLE dispute_setting (
    app_id INTEGER PRIMARY KEY REFERENCES app(id),
    dispute_url TEXT
);
ALTER TABLE outbox ADD COLUMN dispute_row INTEGER REFERENCES dispute(id);
CREATE INDEX outbox_dispute ON outbox(dispute_row);
