-- Opening hours per weekday (issue 12): one row per pharmacy and weekday it opens; a weekday
-- without a row is closed, and any weekday with a row is open (a half-day Saturday too). A close
-- at or before the opening time is after midnight, on the next calendar day (08:00 to 01:00).
-- The older closed_weekdays and closing_time columns stay, written as values derived from these
-- rows, so the API can keep returning them.
CREATE TABLE pharmacy_hours (
    pharmacy_id TEXT NOT NULL REFERENCES pharmacies(id),
    weekday     TEXT NOT NULL CHECK (weekday IN ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')),
    opens       TEXT NOT NULL,              -- HH:MM, pharmacy local time
    closes      TEXT NOT NULL,              -- HH:MM; at or before opens: the next morning
    PRIMARY KEY (pharmacy_id, weekday),
    CHECK (opens <> closes)
);

-- Existing pharmacies: every weekday not closed opens at 09:00 (at 00:00 if it closed by then)
-- and closes at its closing time (23:59 for a closing time of 00:00).
WITH days (weekday) AS (
    VALUES ('mon'), ('tue'), ('wed'), ('thu'), ('fri'), ('sat'), ('sun')
)
INSERT INTO pharmacy_hours (pharmacy_id, weekday, opens, closes)
SELECT p.id, days.weekday,
       CASE WHEN p.closing_time > '09:00' THEN '09:00' ELSE '00:00' END,
       CASE WHEN p.closing_time = '00:00' THEN '23:59' ELSE p.closing_time END
FROM pharmacies p CROSS JOIN days
WHERE ',' || p.closed_weekdays || ',' NOT LIKE '%,' || days.weekday || ',%';
