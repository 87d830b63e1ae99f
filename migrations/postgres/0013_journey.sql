-- A person's journey (issue 16): which pharmacy holds them, over time. `service_users.pharmacy_id`
-- stays "the pharmacy holding the person today" (what access, reports and the ledger read); a
-- transfer closes the current placement the day before it takes effect and opens the new one.
-- `from_date` NULL: since the record began; `to_date` NULL: for good. `removal_sent_at`: when the
-- pharmacy was told, after `to_date`, that the person left it.
CREATE TABLE placements (
    id              TEXT PRIMARY KEY,
    service_user_id TEXT NOT NULL REFERENCES service_users(id),
    pharmacy_id     TEXT NOT NULL REFERENCES pharmacies(id),
    kind            TEXT NOT NULL,
    from_date       TEXT,
    to_date         TEXT,
    removal_sent_at TEXT,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX placements_by_person ON placements (service_user_id);
CREATE INDEX placements_by_pharmacy ON placements (pharmacy_id, to_date);

INSERT INTO placements (id, service_user_id, pharmacy_id, kind, from_date, to_date,
                        removal_sent_at, created_by, created_at)
SELECT 'placement-' || id, id, pharmacy_id, 'home', NULL, NULL, NULL, 'system', created_at
FROM service_users;

-- An attend hold may name the appointment it waits for (RFC 3339); recording attendance lifts it.
ALTER TABLE holds ADD COLUMN appointment_at TEXT;
