-- Push safety (#25). A job's attempts (bounded: then FAILED with the reason), the heartbeat of the worker
-- running it, the reason of its last failed attempt, and the confirmations a snapshot was sent with.
ALTER TABLE import_job ADD attempts integer NOT NULL DEFAULT 0;
ALTER TABLE import_job ADD heartbeat_at timestamptz NULL;
ALTER TABLE import_job ADD failure_reason text NULL;
ALTER TABLE import_job ADD allow_empty boolean NOT NULL DEFAULT false;
ALTER TABLE import_job ADD confirm_ended integer NULL;

-- Every delegation has a reference the push layout exports and a push matches: CH-<id> when none was given.
UPDATE delegation SET external_ref = 'CH-' || id::text WHERE external_ref IS NULL;
