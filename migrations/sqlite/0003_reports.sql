-- What pharmacies report: supplies, withheld instalments, missed doses and closed days.
-- reports_received makes every report idempotent: a retried report is recognised and only acked.
CREATE TABLE reports_received (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies(id),
    report_id   TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (pharmacy_id, report_id)
);

-- Dispense history: each instalment handed over or withheld at the counter.
CREATE TABLE dispenses (
    id               TEXT PRIMARY KEY,
    report_id        TEXT NOT NULL,
    pharmacy_id      TEXT NOT NULL REFERENCES pharmacies(id),
    service_user_id  TEXT NOT NULL REFERENCES service_users(id),
    collect_on       TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('supplied', 'withheld')),
    supervised_taken BIGINT NOT NULL,
    take_home_dates  TEXT NOT NULL,     -- JSON array of dates
    withheld_reason  TEXT,
    at               TEXT NOT NULL,     -- when it happened at the counter
    received_at      TEXT NOT NULL
);
CREATE INDEX dispenses_service_user ON dispenses (service_user_id, collect_on);

ALTER TABLE missed_doses ADD COLUMN report_id TEXT;

CREATE TABLE day_closures (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies(id),
    date        TEXT NOT NULL,
    closed_at   TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (pharmacy_id, date)
);

-- How a keyworker wants missed-dose alerts: one mail each, or one daily digest.
ALTER TABLE staff ADD COLUMN alert_mode TEXT NOT NULL DEFAULT 'each';

-- One "pharmacy has not closed its day" alert per pharmacy and day; one digest per keyworker and day.
CREATE TABLE silence_alerts (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies(id),
    date        TEXT NOT NULL,
    sent_at     TEXT NOT NULL,
    PRIMARY KEY (pharmacy_id, date)
);
CREATE TABLE digests_sent (
    staff_id TEXT NOT NULL REFERENCES staff(id),
    date     TEXT NOT NULL,
    sent_at  TEXT NOT NULL,
    PRIMARY KEY (staff_id, date)
);
