-- Visibility by participation (#23).
-- Whom a receiver transferred the referral to: an earlier receiver sees that it transferred, to whom and when,
-- and nothing later (NULL on rows written before: the receiver whose span began when this one ended).
ALTER TABLE referral_receiver ADD transferred_to_id uniqueidentifier NULL;

-- Who may see an event, decided when it is written, in the same transaction (ids, comma-separated): a
-- receiver that transferred the referral before the sequencer ran still gets its own events, the new one
-- none from before it was involved. NULL (rows written before, resources whose audience never changes):
-- resolved when sequenced, as before.
ALTER TABLE outbox_event ADD audience varchar(max) NULL;

-- The duplicate guard's blind index now covers every given name, not the first: the key of each
-- referral written before is recomputed once, at start-up, from its sealed person (ReferralPersonKeys).
-- The default, dropped at once, marks the existing rows only (WITH VALUES): new rows are written with the new key.
ALTER TABLE referral ADD rekey_pending int NULL CONSTRAINT df_referral_rekey_pending DEFAULT 1 WITH VALUES;
ALTER TABLE referral DROP CONSTRAINT df_referral_rekey_pending;
CREATE INDEX ix_referral_rekey_pending ON referral (id) WHERE rekey_pending IS NOT NULL;
