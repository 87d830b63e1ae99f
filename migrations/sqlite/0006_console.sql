-- The staff console: passwords, sessions, sign-in lock-out, and when each pharmacy was last heard.

-- Argon2id PHC string. NULL for token-only staff (integrations): they cannot sign in.
ALTER TABLE staff ADD COLUMN password_hash TEXT;

-- Only a SHA-256 of the session id is stored: a copy of the table cannot be used to sign in.
CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY,
    staff_id     TEXT NOT NULL REFERENCES staff(id),
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX console_sessions_staff ON console_sessions (staff_id);

-- Failed sign-ins per e-mail address (known or not, so lock-out reveals nothing).
CREATE TABLE sign_in_throttle (
    email            TEXT PRIMARY KEY,
    failures         BIGINT NOT NULL,
    first_failure_at TEXT NOT NULL,
    locked_until     TEXT
);

-- Telemetry, not clinical state: when a pharmacy's client last sent anything / asked to resync.
CREATE TABLE pharmacy_contact (
    pharmacy_id     TEXT PRIMARY KEY REFERENCES pharmacies(id),
    last_message_at TEXT NOT NULL,
    last_resync_at  TEXT
);
