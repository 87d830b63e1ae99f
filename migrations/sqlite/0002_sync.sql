-- Lossless push to pharmacies: a per-pharmacy sequence and a transactional outbox.
-- `seq` is bumped in the same transaction as each change; `sent_seq` is the highest seq the broker
-- has acknowledged (heartbeats advertise it, so a client notices a lost last delta).
ALTER TABLE pharmacies ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE pharmacies ADD COLUMN sent_seq BIGINT NOT NULL DEFAULT 0;
-- Mosquitto's password-file hash of the broker password ($6$ salted SHA-512), so
-- `admin mosquitto-config` can write Mosquitto's files without ever storing the password.
ALTER TABLE pharmacies ADD COLUMN mqtt_password_mosquitto TEXT NOT NULL DEFAULT '';

CREATE TABLE outbox (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies(id),
    seq         BIGINT NOT NULL,
    payload     TEXT NOT NULL,        -- the encoded protocol message
    created_at  TEXT NOT NULL,
    sent_at     TEXT,                 -- set only after the broker's PUBACK
    PRIMARY KEY (pharmacy_id, seq)
);
CREATE INDEX outbox_unsent ON outbox (sent_at, pharmacy_id, seq);
