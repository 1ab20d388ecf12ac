-- Indicators (#26): rollups of referrals, maintained in each referral's own transaction (IndicatorRollup), so that
-- no indicator is recomputed from raw referrals. Counts only: no person, no agent, no free text.

-- One count per cell and measure. A cell is a month of sending, a commune, a competence, the need as sent, the sender
-- and one receiver's part (receiver_id; the nil UUID for the referral itself, counted once: measure 'referrals').
-- Measures: 'referrals', 'received', 'responded', 'responded_in_time', 'response_le_<hours>' (histogram),
-- 'outcome:<code>', 'outcome_le_<hours>' (histogram), 'declined:<reason>', 'transferred', 'reoriented',
-- 'closed_without_outcome', 'cancelled', 'consent_withdrawn'.
CREATE TABLE referral_stat (
    departement_code TEXT    NOT NULL,
    month_on         TEXT    NOT NULL,
    commune_id       TEXT    NOT NULL,
    competence_code  TEXT    NOT NULL,
    need             TEXT    NOT NULL,
    sender_id        TEXT    NOT NULL,
    receiver_id      TEXT    NOT NULL,
    measure          TEXT    NOT NULL,
    n                INTEGER NOT NULL,
    PRIMARY KEY (departement_code, month_on, commune_id, competence_code, need, sender_id, receiver_id, measure)
);
CREATE INDEX ix_referral_stat_sender ON referral_stat (sender_id, month_on);
CREATE INDEX ix_referral_stat_receiver ON referral_stat (receiver_id, month_on);

-- The same counts summed per département: a département's public indicators read this, not the cells above.
CREATE TABLE referral_stat_departement (
    departement_code TEXT    NOT NULL,
    month_on         TEXT    NOT NULL,
    competence_code  TEXT    NOT NULL,
    need             TEXT    NOT NULL,
    measure          TEXT    NOT NULL,
    n                INTEGER NOT NULL,
    PRIMARY KEY (departement_code, month_on, competence_code, need, measure)
);

-- Parts awaiting their receiver's response (SENT or RECEIVED), by deadline rounded up to the hour: "overdue now"
-- is the count whose deadline has passed.
CREATE TABLE referral_awaiting (
    departement_code TEXT    NOT NULL,
    month_on         TEXT    NOT NULL,
    commune_id       TEXT    NOT NULL,
    competence_code  TEXT    NOT NULL,
    need             TEXT    NOT NULL,
    sender_id        TEXT    NOT NULL,
    receiver_id      TEXT    NOT NULL,
    due_at           TEXT    NOT NULL,
    n                INTEGER NOT NULL,
    PRIMARY KEY (departement_code, month_on, commune_id, competence_code, need, sender_id, receiver_id, due_at)
);
CREATE INDEX ix_referral_awaiting_sender ON referral_awaiting (sender_id);
CREATE INDEX ix_referral_awaiting_receiver ON referral_awaiting (receiver_id);
