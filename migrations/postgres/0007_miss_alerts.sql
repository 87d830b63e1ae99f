-- Every missed dose is mailed to a keyworker exactly once: on its own as it is reported (alert
-- mode 'each'), or as one line of one morning digest (mode 'digest'), whatever its date and
-- whenever it was reported. A row here says it has been, and is written in the same transaction
-- as the queued mail, so a restart or a second scheduler pass can neither send it twice nor skip
-- it. Kept by day (not by missed_doses.id), as missed doses are one per person per day.
-- Kept column-for-column identical to the other backend's migration.
CREATE TABLE missed_dose_alerts (
    service_user_id TEXT NOT NULL REFERENCES service_users(id),
    date            TEXT NOT NULL,
    via             TEXT NOT NULL CHECK (via IN ('each', 'digest', 'before_0007')),
    staff_id        TEXT REFERENCES staff(id),  -- the keyworker of record it went to
    digest_date     TEXT,                       -- via 'digest': digests_sent.date of that digest
    mail_id         TEXT,                       -- mail_queue.id (NULL only for 'before_0007')
    queued_at       TEXT NOT NULL,
    PRIMARY KEY (service_user_id, date)
);
CREATE INDEX missed_dose_alerts_digest ON missed_dose_alerts (staff_id, digest_date);

-- Misses stored before this migration count as mailed (the old rules mailed them, or can no
-- longer tell), except those the old digest skipped: a miss that reached a keyworker now in
-- digest mode after they last chose it (so no per-dose mail went) and that its own day's
-- digest did not carry (reported after that digest went, or that digest not yet sent). Those
-- go in the next digest.
INSERT INTO missed_dose_alerts (service_user_id, date, via, staff_id, digest_date, mail_id, queued_at)
SELECT m.service_user_id, m.date, 'before_0007', NULL, NULL, NULL, m.reported_at
FROM missed_doses m
JOIN service_users su ON su.id = m.service_user_id
JOIN staff k ON k.id = su.keyworker_id
WHERE NOT (
    k.alert_mode = 'digest'
    AND m.reported_at >= COALESCE((SELECT MAX(a.at) FROM audit_log a
                                   WHERE a.action = 'staff.alert_mode'
                                     AND a.subject = 'staff:' || k.id), '')
    AND NOT EXISTS (SELECT 1 FROM digests_sent d
                    WHERE d.staff_id = k.id AND d.date = m.date AND d.sent_at >= m.reported_at)
);
