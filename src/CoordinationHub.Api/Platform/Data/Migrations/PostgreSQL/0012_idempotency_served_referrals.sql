-- Idempotency (#14): the referrals whose person an answer carried, as the first request logged them, so
-- that a replay of the stored answer logs exactly those (ids, comma-separated; NULL when none).
ALTER TABLE idempotency_record ADD served_referrals text NULL;
