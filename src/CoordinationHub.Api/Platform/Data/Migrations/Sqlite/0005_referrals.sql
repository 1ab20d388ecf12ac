-- Referrals (issue 13): a person referred by a sender organisation to a receiver for a need.
-- The person's data lives apart, in referral_person and referral_message.body, read and written
-- by one class (ReferralPersonData) so that encryption at rest can wrap it in one place.

-- A convention may set, per covered competence, the days a receiver has to answer a referral.
ALTER TABLE convention_competence ADD COLUMN referral_response_days INTEGER NULL;

CREATE TABLE referral (
    id                     TEXT NOT NULL PRIMARY KEY,
    sender_id              TEXT NOT NULL REFERENCES organisation (id),
    receiver_id            TEXT NOT NULL REFERENCES organisation (id),
    need                   TEXT NOT NULL,
    competence_code        TEXT NOT NULL REFERENCES competence (code),
    urgency                TEXT NOT NULL,
    status                 TEXT NOT NULL,
    commune_id             TEXT NOT NULL REFERENCES organisation (id),
    person_key             TEXT NOT NULL,
    sender_agent_reference TEXT NOT NULL,
    sender_agent_name      TEXT NOT NULL,
    assigned_agent_reference TEXT NULL,
    assigned_agent_name    TEXT NULL,
    statutory_basis        TEXT NULL,
    consent_purpose        TEXT NULL,
    consent_scope_need     TEXT NULL,
    consent_scope_receiver_id TEXT NULL,
    consent_method         TEXT NULL,
    consent_given_at       TEXT NULL,
    consent_collected_by_reference TEXT NULL,
    consent_collected_by_name TEXT NULL,
    consent_expires_on     TEXT NULL,
    consent_withdrawn_at   TEXT NULL,
    routing_mode           TEXT NOT NULL,
    routing_chain          TEXT NOT NULL,
    deadline_at            TEXT NOT NULL,
    deadline_source        TEXT NOT NULL,
    deadline_convention_id TEXT NULL,
    info_requested_at      TEXT NULL,
    decline_reason         TEXT NULL,
    suggested_receiver_id  TEXT NULL,
    outcome                TEXT NULL,
    cancel_reason          TEXT NULL,
    forced_duplicate_of    TEXT NULL,
    reoriented_from_id     TEXT NULL,
    reoriented_to_id       TEXT NULL,
    sent_at                TEXT NOT NULL,
    received_at            TEXT NULL,
    responded_at           TEXT NULL,
    closed_at              TEXT NULL,
    version                INTEGER NOT NULL,
    updated_at             TEXT NOT NULL
);
-- The two boxes, newest first (ids are UUIDv7): keyset pages walk these indexes.
CREATE INDEX ix_referral_receiver ON referral (receiver_id, id);
CREATE INDEX ix_referral_sender ON referral (sender_id, id);
CREATE INDEX ix_referral_duplicate ON referral (person_key, competence_code, receiver_id);

-- The person's data: one row per referral, behind ReferralPersonData.
CREATE TABLE referral_person (
    referral_id        TEXT NOT NULL PRIMARY KEY REFERENCES referral (id),
    family_name        TEXT NOT NULL,
    given_names        TEXT NOT NULL,
    birth_date         TEXT NOT NULL,
    address            TEXT NULL,
    contact_channel    TEXT NULL,
    contact_value      TEXT NULL,
    allocataire_number TEXT NULL,
    context            TEXT NULL
);

-- Every organisation that has held the referral as receiver; left_at is set when it transferred it.
CREATE TABLE referral_receiver (
    referral_id     TEXT NOT NULL REFERENCES referral (id),
    organisation_id TEXT NOT NULL REFERENCES organisation (id),
    since_at        TEXT NOT NULL,
    left_at         TEXT NULL,
    transfer_reason TEXT NULL,
    PRIMARY KEY (referral_id, organisation_id, since_at)
);
CREATE INDEX ix_referral_receiver_organisation ON referral_receiver (organisation_id, referral_id);

-- The assigned agent (référent) inside the receiver, every change kept.
CREATE TABLE referral_assignment (
    id               TEXT NOT NULL PRIMARY KEY,
    referral_id      TEXT NOT NULL REFERENCES referral (id),
    organisation_id  TEXT NOT NULL REFERENCES organisation (id),
    agent_reference  TEXT NOT NULL,
    agent_name       TEXT NOT NULL,
    assigned_at      TEXT NOT NULL
);
CREATE INDEX ix_referral_assignment_referral ON referral_assignment (referral_id, assigned_at);

-- The thread: messages, questions, answers and the texts of transitions, in order.
CREATE TABLE referral_message (
    id                     TEXT NOT NULL PRIMARY KEY,
    referral_id            TEXT NOT NULL REFERENCES referral (id),
    seq                    INTEGER NOT NULL,
    kind                   TEXT NOT NULL,
    author_organisation_id TEXT NOT NULL REFERENCES organisation (id),
    author_agent_reference TEXT NOT NULL,
    author_agent_name      TEXT NOT NULL,
    body                   TEXT NULL,
    created_at             TEXT NOT NULL
);
CREATE UNIQUE INDEX ux_referral_message_seq ON referral_message (referral_id, seq);

-- An organisation's intake for a competence: paused (facultative only) or an expected response delay.
CREATE TABLE referral_intake (
    organisation_id        TEXT NOT NULL REFERENCES organisation (id),
    competence_code        TEXT NOT NULL REFERENCES competence (code),
    paused_until           TEXT NULL,
    pause_reason           TEXT NULL,
    expected_response_days INTEGER NULL,
    updated_at             TEXT NOT NULL,
    PRIMARY KEY (organisation_id, competence_code)
);
