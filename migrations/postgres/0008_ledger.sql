-- The dose ledger: missed doses are one row per calendar day without a dose in hand (a missed
-- two-day instalment is two rows), each with why. Rows stored before this were one per missed
-- collection day; they keep the default reason. The safety rule no longer reads these rows: it
-- computes the ledger from prescriptions, dispenses, holds and closed days.
ALTER TABLE missed_doses ADD COLUMN why TEXT NOT NULL DEFAULT 'collection_missed';
