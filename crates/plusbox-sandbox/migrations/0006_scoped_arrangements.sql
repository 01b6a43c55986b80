ALTER TABLE mock ADD COLUMN scope_merchant TEXT;
ALTER TABLE mock ADD COLUMN scope_account TEXT;
CREATE TABLE notify_hold (account_id TEXT PRIMARY KEY, delay_ms INTEGER NOT NULL, until INTEGER NOT NULL);
