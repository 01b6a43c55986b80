-- TSP mode (alipayplus-api.md §14, store/tsp.rs). Several ACQP applications share one sandbox:
-- each has a unique name for `--app`; the first one is "default".
ALTER TABLE app ADD COLUMN name TEXT;
UPDATE app SET name = 'default' WHERE id = (SELECT MIN(id) FROM app);
UPDATE app SET name = client_id WHERE name IS NULL;
CREATE UNIQUE INDEX app_name ON app(name);
-- An application in TSP mode is called by a TSP on its behalf: every call must carry the
-- Agent-Token of one of its ACTIVE authorizations (F ACCESS_DENIED otherwise).
ALTER TABLE app ADD COLUMN tsp_mode INTEGER NOT NULL DEFAULT 0;
-- One authorization URL the TSP made for an ACQP application and chosen products; the ACQP
-- authorizes it (PENDING → ACTIVE, an Agent-Token is issued), and may cancel it (INACTIVE) or
-- change its products later.
CREATE TABLE tsp_authorization (
    id INTEGER PRIMARY KEY,
    authorization_id TEXT NOT NULL UNIQUE,
    app_id INTEGER NOT NULL REFERENCES app(id),
    products TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'ACTIVE', 'INACTIVE')),
    agent_token TEXT UNIQUE,
    created_at INTEGER NOT NULL,
    authorized_at INTEGER,
    cancelled_at INTEGER
);
CREATE INDEX tsp_authorization_app ON tsp_authorization(app_id, status);
