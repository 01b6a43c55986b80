CREATE TABLE recon_setting (
    app_id INTEGER PRIMARY KEY REFERENCES app(id),
    default_currency TEXT,
    sftp_password TEXT
);
CREATE TABLE recon_currency (
    app_id INTEGER NOT NULL REFERENCES app(id),
    currency TEXT NOT NULL,
    agreement_id TEXT NOT NULL,
    PRIMARY KEY (app_id, currency)
);
CREATE TABLE recon_file (
    app_id INTEGER NOT NULL REFERENCES app(id),
    clearing_date TEXT NOT NULL,
    generation_date TEXT NOT NULL,
    currency TEXT NOT NULL,
    name TEXT NOT NULL,
    content BLOB NOT NULL,
    generated_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, generation_date, name)
);
CREATE INDEX recon_file_date ON recon_file(app_id, clearing_date);
CREATE INDEX payment_paid ON payment(app_id, paid_at);
CREATE INDEX refund_created ON refund(app_id, created_at);
