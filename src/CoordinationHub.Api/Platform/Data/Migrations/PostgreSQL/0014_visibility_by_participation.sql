-- Visibility by participation (#23).
-- Whom a receiver transferred the referral to: an earlier receiver sees that it transferred, to whom and when,
-- and nothing later (NULL on rows written before: the receiver whose span began when this one ended).
ALTER TABLE referral_receiver ADD COLUMN transferred_to_id uuid NULL;

-- Who may see an event, decided when it is written, in the same transaction (ids, comma-separated): a
-- receiver that transferred the referral before the sequencer ran still gets its own events, the new one
-- none from before it was involved. NULL (rows written before, resources whose audience never changes):
-- resolved when sequenced, as before.
ALTER TABLE outbox_event ADD COLUMN audience text NULL;

-- The duplicate guard's blind index now covers every given name, not the first: the key of each
-- referral written before is recomputed once, at start-up, from its sealed person (ReferralPersonKeys).
-- The default marks the existing rows only: new rows are written with the new key.
ALTER TABLE referral ADD COLUMN rekey_pending integer NULL DEFAULT 1;
ALTER TABLE referral ALTER COLUMN rekey_pending DROP DEFAULT;
CREATE INDEX ix_referral_rekey_pending ON referral (id) WHERE rekey_pending IS NOT NULL;
