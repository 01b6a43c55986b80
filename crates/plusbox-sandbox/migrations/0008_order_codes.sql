CREATE TABLE order_code (
    code TEXT PRIMARY KEY,
    payment_row INTEGER NOT NULL UNIQUE REFERENCES payment(id),
    user_agent TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    scanned_by TEXT,
    scanned_at INTEGER
);
