-- The server's Ed25519 signing key, generated on first start. Every server instance signs with
-- it; pharmacies pin its public half at enrolment. Whoever can read this table can already change
-- every prescription, so it sits with the data it protects.
CREATE TABLE server_keys (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    secret     TEXT NOT NULL,   -- 32 bytes, hex
    public_key TEXT NOT NULL,   -- base64url, as pharmacies pin it
    created_at TEXT NOT NULL
);
