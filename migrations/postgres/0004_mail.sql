-- Outgoing e-mail, queued in the same transaction as the change that causes it (a transactional
-- outbox for mail) and delivered by the mail worker. Kept column-for-column identical to the other
-- backend's migration.
CREATE TABLE mail_queue (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,          -- "missed_dose", "safety_hold", ...: never personal
    to_address      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,          -- plain text from email::templates (no names, no doses)
    created_at      TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,          -- when due; while a worker sends, the end of its lease
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,                   -- never the recipient or the body
    sent_at         TEXT                    -- set once the relay (or the outbox folder) took it
);
CREATE INDEX mail_queue_due ON mail_queue (sent_at, next_attempt_at);
