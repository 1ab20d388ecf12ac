-- Crypto-shredding (issue 23): each referral's person data is sealed with a data key of its own, stored
-- here wrapped by a key of the ring (ring_key_id names it, for rotation and retirement). Erasure and purge
-- delete the row: every copy of what it sealed, anywhere, stops opening. owner_id is the referral's id, or
-- the nil id for the platform's own data key (webhook secrets, the access log's free texts). No foreign
-- key: the nil owner is no referral.
CREATE TABLE data_key (
    owner_id    uuid NOT NULL PRIMARY KEY,
    ring_key_id varchar(40) NOT NULL,
    wrapped     varchar(200) NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX ix_data_key_ring_key ON data_key (ring_key_id);

-- Sealed values are longer than the text they hold.
ALTER TABLE webhook_subscription ALTER COLUMN secret TYPE varchar(400);
ALTER TABLE webhook_subscription ALTER COLUMN previous_secret TYPE varchar(400);
ALTER TABLE person_access ALTER COLUMN agent_reference TYPE text;
ALTER TABLE person_access ALTER COLUMN purpose TYPE text;
ALTER TABLE referral ALTER COLUMN consent_purpose TYPE text;
