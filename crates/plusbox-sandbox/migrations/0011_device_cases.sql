-- The acceptance cases a device may run from the companion (`plusbox app pair --cases ID,..`), as
-- a JSON list; a device without a row may run every case. A pairing ticket carries the list to
-- the device it creates.
CREATE TABLE device_cases (
    device_id INTEGER PRIMARY KEY REFERENCES device(id),
    cases TEXT NOT NULL
);
ALTER TABLE pairing ADD COLUMN cases TEXT;
