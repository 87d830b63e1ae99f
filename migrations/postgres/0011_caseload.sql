-- Caseload access (issue 14). A keyworker or clinician acts on the people they are keyworker or
-- prescriber of record for, and on those of colleagues in the same team (cover); anyone else
-- only after "breaking glass" with a stated reason, which opens the record for a limited time,
-- is audited and is mailed to the service.
ALTER TABLE staff ADD COLUMN team TEXT;

CREATE TABLE break_glass (
    id              TEXT PRIMARY KEY,
    staff_id        TEXT NOT NULL REFERENCES staff(id),
    service_user_id TEXT NOT NULL REFERENCES service_users(id),
    reason          TEXT NOT NULL,
    opened_at       TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);
CREATE INDEX break_glass_by_staff ON break_glass (staff_id, service_user_id, expires_at);

-- Who read whose record, when and through what (API, console, FHIR): "access is audited like any
-- read of a person". Reads change nothing, so they are kept apart from the chained audit log.
CREATE TABLE access_log (
    id              TEXT PRIMARY KEY,
    at              TEXT NOT NULL,
    staff_id        TEXT NOT NULL,
    service_user_id TEXT NOT NULL,
    via             TEXT NOT NULL,
    relation        TEXT NOT NULL
);
CREATE INDEX access_log_by_person ON access_log (service_user_id, at);
