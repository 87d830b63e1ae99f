-- The local audit of closing a day: who asked (the automatic close at closing time, the counter
-- page, or the local API) and whether today was closed before its closing time on purpose.
ALTER TABLE closed_days ADD COLUMN closed_by TEXT NOT NULL DEFAULT 'automatic';
ALTER TABLE closed_days ADD COLUMN early INTEGER NOT NULL DEFAULT 0 CHECK (early IN (0, 1));
