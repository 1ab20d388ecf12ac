-- Idempotency (#24): the ETag the first answer carried, so that its replay carries it too (NULL when none).
ALTER TABLE idempotency_record ADD etag TEXT NULL;
