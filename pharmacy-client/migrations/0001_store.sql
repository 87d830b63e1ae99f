-- The pharmacy's local copy of what the server pushed: enough to answer the counter offline.

-- One row: where the ordered stream stands and when the server was last heard from.
CREATE TABLE meta (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    -- seq of the last snapshot/delta applied; NULL until the first snapshot.
    last_seq  INTEGER,
    -- RFC 3339 (UTC) of the last message that confirmed our data is current.
    synced_at TEXT,
    -- The protocol's PharmacyInfo as JSON; NULL until the first snapshot.
    pharmacy  TEXT
);
INSERT INTO meta (id) VALUES (1);

CREATE TABLE people (
    service_user_id TEXT PRIMARY KEY NOT NULL,
    -- Upper-cased, so a reference typed in any case is found.
    reference       TEXT NOT NULL,
    -- Lower-cased (Unicode-aware, in Rust): SQLite's NOCASE folds ASCII only.
    family_name     TEXT NOT NULL,
    date_of_birth   TEXT NOT NULL,
    -- The protocol's PersonState as JSON: the counter reads it whole.
    state           TEXT NOT NULL
);
CREATE INDEX people_reference ON people (reference);
CREATE INDEX people_family_name_dob ON people (family_name, date_of_birth);
