-- Push safety (#25). A job's attempts (bounded: then FAILED with the reason), the heartbeat of the worker
-- running it, the reason of its last failed attempt, and the confirmations a snapshot was sent with.
ALTER TABLE import_job ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE import_job ADD COLUMN heartbeat_at TEXT NULL;
ALTER TABLE import_job ADD COLUMN failure_reason TEXT NULL;
ALTER TABLE import_job ADD COLUMN allow_empty INTEGER NOT NULL DEFAULT 0;
ALTER TABLE import_job ADD COLUMN confirm_ended INTEGER NULL;

-- Every delegation has a reference the push layout exports and a push matches: CH-<id> when none was given.
UPDATE delegation SET external_ref = 'CH-' || lower(id) WHERE external_ref IS NULL;
