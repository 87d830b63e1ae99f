-- The dose ledger (issue: the dose ledger). The double-dispense guard becomes "no date's dose
-- handed over twice" instead of "one supply per day": a closure posted after a collection can
-- move a later day's dose onto a day already supplied, and that dose is still to be handed
-- over (an extra take-home dose), while a dose already in hand can never be handed over again.
CREATE TABLE supplied_dates (
    service_user_id TEXT NOT NULL,
    -- The day the dose is for (YYYY-MM-DD).
    date            TEXT NOT NULL,
    supply_id       INTEGER NOT NULL REFERENCES supplies(id),
    PRIMARY KEY (service_user_id, date)
);
INSERT OR IGNORE INTO supplied_dates (service_user_id, date, supply_id)
    SELECT service_user_id, collect_on, id FROM supplies WHERE withheld = 0 AND supervised_taken = 1;
INSERT OR IGNORE INTO supplied_dates (service_user_id, date, supply_id)
    SELECT s.service_user_id, j.value, s.id FROM supplies s, json_each(s.take_home_dates) j
    WHERE s.withheld = 0;
DROP INDEX supplies_once_a_day;

-- Missed doses are now one row per day without a dose in hand, with why.
ALTER TABLE missed ADD COLUMN why TEXT NOT NULL DEFAULT 'collection_missed';

-- The counter's E now comes from the dose ledger itself (the server sends the last review).
DROP TABLE local_reviews;
