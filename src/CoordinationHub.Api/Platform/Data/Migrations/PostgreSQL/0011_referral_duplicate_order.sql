-- Referrals (#13): the duplicate guard reads the open referrals of one person, need and receiver in id
-- order. With the id in the index, the planner takes it even without statistics (a fresh SQLite file
-- has none), instead of walking the receiver's whole box by (receiver_id, id) to avoid a sort.
CREATE INDEX ix_referral_duplicate_id ON referral (person_key, competence_code, receiver_id, id);
DROP INDEX ix_referral_duplicate;
