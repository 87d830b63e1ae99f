-- Sotto core schema (SQLite). kept column-for-column identical to migrations/postgres so one
-- set of SQL statements serves both: timestamps are RFC 3339 UTC text, dates YYYY-MM-DD text,
-- booleans 0/1 BIGINT, doses whole micrograms.

CREATE TABLE pharmacies (
    id                 TEXT PRIMARY KEY,
    ods_code           TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    closed_weekdays    TEXT NOT NULL,           -- comma-separated: "sun" or "sat,sun" or ""
    closing_time       TEXT NOT NULL,           -- HH:MM, pharmacy local time
    timezone           TEXT NOT NULL,           -- IANA name
    mqtt_username      TEXT NOT NULL UNIQUE,
    mqtt_password_hash TEXT NOT NULL,
    created_at         TEXT NOT NULL
);

CREATE TABLE closures (
    id          TEXT PRIMARY KEY,
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies(id),
    date        TEXT NOT NULL,
    note        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (pharmacy_id, date)
);

CREATE TABLE staff (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'clinician', 'keyworker', 'pharmacist')),
    pharmacy_id TEXT REFERENCES pharmacies(id),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    CHECK ((role = 'pharmacist') = (pharmacy_id IS NOT NULL))
);

CREATE TABLE service_users (
    id             TEXT PRIMARY KEY,
    reference      TEXT NOT NULL UNIQUE,
    given_name     TEXT NOT NULL,
    family_name    TEXT NOT NULL,
    date_of_birth  TEXT NOT NULL,
    pharmacy_id    TEXT NOT NULL REFERENCES pharmacies(id),
    keyworker_id   TEXT NOT NULL REFERENCES staff(id),
    prescriber_id  TEXT NOT NULL REFERENCES staff(id),
    heads_up_email TEXT,
    created_at     TEXT NOT NULL
);
CREATE INDEX service_users_pharmacy ON service_users (pharmacy_id);
CREATE INDEX service_users_family_dob ON service_users (family_name, date_of_birth);

CREATE TABLE prescriptions (
    id                         TEXT PRIMARY KEY,
    service_user_id            TEXT NOT NULL REFERENCES service_users(id),
    medicine                   TEXT NOT NULL,
    start_date                 TEXT NOT NULL,
    end_date                   TEXT NOT NULL,
    closed_days_prior          BIGINT NOT NULL,
    supply_remaining_if_missed BIGINT NOT NULL,
    consult_after_missed_days  BIGINT NOT NULL,
    created_by                 TEXT NOT NULL REFERENCES staff(id),
    created_at                 TEXT NOT NULL,
    CHECK (end_date >= start_date)
);
CREATE INDEX prescriptions_service_user ON prescriptions (service_user_id, start_date);

-- Regime 0 of each prescription is its base dose and pattern; later rows are regime changes.
CREATE TABLE regimes (
    id              TEXT PRIMARY KEY,
    prescription_id TEXT NOT NULL REFERENCES prescriptions(id),
    effective_from  TEXT NOT NULL,
    daily_dose_ug   BIGINT NOT NULL CHECK (daily_dose_ug > 0),
    collections     TEXT NOT NULL,              -- JSON array of {weekday, days, supervised}
    reason          TEXT,                       -- NULL for the base regime
    created_by      TEXT NOT NULL REFERENCES staff(id),
    created_at      TEXT NOT NULL,
    UNIQUE (prescription_id, effective_from)
);

CREATE TABLE holds (
    id              TEXT PRIMARY KEY,
    service_user_id TEXT NOT NULL REFERENCES service_users(id),
    kind            TEXT NOT NULL CHECK (kind IN ('attend', 'safety')),
    reason          TEXT NOT NULL,              -- the service's business; never sent to a pharmacy
    placed_by       TEXT NOT NULL,              -- staff id, or 'system' for the missed-dose rule
    placed_at       TEXT NOT NULL,
    lifted_by       TEXT,
    lifted_at       TEXT,
    lift_note       TEXT
);
CREATE INDEX holds_service_user ON holds (service_user_id, lifted_at);

CREATE TABLE missed_doses (
    id              TEXT PRIMARY KEY,
    service_user_id TEXT NOT NULL REFERENCES service_users(id),
    pharmacy_id     TEXT NOT NULL REFERENCES pharmacies(id),
    date            TEXT NOT NULL,
    dose_ug         BIGINT NOT NULL,
    reported_at     TEXT NOT NULL,
    UNIQUE (service_user_id, date)
);

-- Append-only, hash-chained. audit_head is the single row every writing transaction updates
-- first: it serialises writers (so the chain never forks) and records the tip, so that deleting
-- the newest entries is detected too.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
