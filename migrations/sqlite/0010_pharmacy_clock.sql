-- How far the pharmacy PC's clock was from the server's when its last message arrived (its
-- `sent_at` minus the server's time of receipt, in milliseconds; positive: the PC is ahead). A
-- counter whose clock is more than a couple of minutes out supplies nothing and closes no day,
-- so the console shows it to the service.
ALTER TABLE pharmacy_contact ADD COLUMN clock_skew_ms BIGINT;
