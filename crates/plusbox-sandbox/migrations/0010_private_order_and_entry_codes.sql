CREATE TABLE poc_registration (
    app_id INTEGER PRIMARY KEY REFERENCES app(id),
    url TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE poc_domain (
    domain TEXT PRIMARY KEY,
    app_id INTEGER NOT NULL REFERENCES app(id),
    digits INTEGER NOT NULL DEFAULT 0
);
ALTER TABLE order_code ADD COLUMN kind TEXT NOT NULL DEFAULT 'order';
