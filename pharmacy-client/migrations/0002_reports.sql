-- What happens at the counter, and the reports that tell the server: supplies (and withheld
-- instalments), missed doses, closed days, and the outbox that carries them until acked.

-- The pharmacy's local date of the first snapshot ever applied: days from then on are closed
-- by themselves (at closing time, or at start-up if the client was down); earlier days only on
-- request.
ALTER TABLE meta ADD COLUMN enrolled_on TEXT;

-- One row per instalment handed over, or withheld, at this counter.
CREATE TABLE supplies (
    id               INTEGER PRIMARY KEY,
    service_user_id  TEXT NOT NULL,
    -- The day of the hand-over (YYYY-MM-DD, the pharmacy's local date).
    collect_on       TEXT NOT NULL,
    supervised_taken INTEGER NOT NULL CHECK (supervised_taken IN (0, 1)),
    -- JSON array of the dates the take-home doses are for.
    take_home_dates  TEXT NOT NULL,
    withheld         INTEGER NOT NULL CHECK (withheld IN (0, 1)),
    -- intoxicated | unwell | identity_not_confirmed | other; NULL unless withheld.
    withheld_reason  TEXT,
    -- RFC 3339 UTC.
    at               TEXT NOT NULL,
    report_id        TEXT NOT NULL
);
-- The double-dispense guard: one supply per person per day, whatever the network does. A
-- withheld instalment doesn't count (the pharmacist may re-assess the same day).
CREATE UNIQUE INDEX supplies_once_a_day ON supplies (service_user_id, collect_on) WHERE withheld = 0;
CREATE INDEX supplies_by_day ON supplies (collect_on);

-- Days this client reported a person as having no dose in hand.
CREATE TABLE missed (
    service_user_id TEXT NOT NULL,
    date            TEXT NOT NULL,
    dose_ug         INTEGER NOT NULL,
    report_id       TEXT NOT NULL,
    PRIMARY KEY (service_user_id, date)
);

-- Days closed: each is closed (and reported) once.
CREATE TABLE closed_days (
    date      TEXT PRIMARY KEY NOT NULL,
    closed_at TEXT NOT NULL,
    missed    INTEGER NOT NULL
);

-- The local stand-in for the server's safety hold (code E) after consecutive missed days.
CREATE TABLE local_reviews (
    service_user_id TEXT PRIMARY KEY NOT NULL,
    needed          INTEGER NOT NULL CHECK (needed IN (0, 1)),
    -- The missed day that reached the limit.
    last_missed     TEXT NOT NULL,
    -- Missed days on or before this no longer count (the server has had its say since).
    reset_after     TEXT
);

-- Reports for the server, written in the same transaction as what they report; sent until the
-- server acks them after its commit. report_id is the idempotency key.
CREATE TABLE outbox (
    client_seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id       TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    service_user_id TEXT,
    -- The protocol's Report as JSON.
    payload         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    acked_at        TEXT
);
CREATE INDEX outbox_pending ON outbox (client_seq) WHERE acked_at IS NULL;
