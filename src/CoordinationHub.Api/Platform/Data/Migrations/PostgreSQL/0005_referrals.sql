-- Referrals (issue 13): a person referred by a sender organisation to a receiver for a need.
-- The person's data lives apart, in referral_person and referral_message.body, read and written
-- by one class (ReferralPersonData) so that encryption at rest can wrap it in one place.

-- A convention may set, per covered competence, the days a receiver has to answer a referral.
ALTER TABLE convention_competence ADD COLUMN referral_response_days integer NULL;

CREATE TABLE referral (
    id                     uuid NOT NULL PRIMARY KEY,
    sender_id              uuid NOT NULL REFERENCES organisation (id),
    receiver_id            uuid NOT NULL REFERENCES organisation (id),
    need                   varchar(32) NOT NULL,
    competence_code        varchar(32) NOT NULL REFERENCES competence (code),
    urgency                varchar(16) NOT NULL,
    status                 varchar(32) NOT NULL,
    commune_id             uuid NOT NULL REFERENCES organisation (id),
    person_key             varchar(200) NOT NULL,
    sender_agent_reference varchar(100) NOT NULL,
    sender_agent_name      varchar(200) NOT NULL,
    assigned_agent_reference varchar(100) NULL,
    assigned_agent_name    varchar(200) NULL,
    statutory_basis        varchar(40) NULL,
    consent_purpose        varchar(500) NULL,
    consent_scope_need     varchar(32) NULL,
    consent_scope_receiver_id uuid NULL,
    consent_method         varchar(16) NULL,
    consent_given_at       timestamptz NULL,
    consent_collected_by_reference varchar(100) NULL,
    consent_collected_by_name varchar(200) NULL,
    consent_expires_on     date NULL,
    consent_withdrawn_at   timestamptz NULL,
    routing_mode           varchar(16) NOT NULL,
    routing_chain          text NOT NULL,
    deadline_at            timestamptz NOT NULL,
    deadline_source        varchar(16) NOT NULL,
    deadline_convention_id uuid NULL,
    info_requested_at      timestamptz NULL,
    decline_reason         varchar(40) NULL,
    suggested_receiver_id  uuid NULL,
    outcome                varchar(40) NULL,
    cancel_reason          varchar(40) NULL,
    forced_duplicate_of    uuid NULL,
    reoriented_from_id     uuid NULL,
    reoriented_to_id       uuid NULL,
    sent_at                timestamptz NOT NULL,
    received_at            timestamptz NULL,
    responded_at           timestamptz NULL,
    closed_at              timestamptz NULL,
    version                integer NOT NULL,
    updated_at             timestamptz NOT NULL
);
-- The two boxes, newest first (ids are UUIDv7): keyset pages walk these indexes.
CREATE INDEX ix_referral_receiver ON referral (receiver_id, id);
CREATE INDEX ix_referral_sender ON referral (sender_id, id);
CREATE INDEX ix_referral_duplicate ON referral (person_key, competence_code, receiver_id);

-- The person's data: one row per referral, behind ReferralPersonData.
CREATE TABLE referral_person (
    referral_id        uuid NOT NULL PRIMARY KEY REFERENCES referral (id),
    family_name        varchar(200) NOT NULL,
    given_names        varchar(200) NOT NULL,
    birth_date         date NOT NULL,
    address            varchar(500) NULL,
    contact_channel    varchar(16) NULL,
    contact_value      varchar(200) NULL,
    allocataire_number varchar(32) NULL,
    context            text NULL
);

-- Every organisation that has held the referral as receiver; left_at is set when it transferred it.
CREATE TABLE referral_receiver (
    referral_id     uuid NOT NULL REFERENCES referral (id),
    organisation_id uuid NOT NULL REFERENCES organisation (id),
    since_at        timestamptz NOT NULL,
    left_at         timestamptz NULL,
    transfer_reason varchar(40) NULL,
    PRIMARY KEY (referral_id, organisation_id, since_at)
);
CREATE INDEX ix_referral_receiver_organisation ON referral_receiver (organisation_id, referral_id);

-- The assigned agent (référent) inside the receiver, every change kept.
CREATE TABLE referral_assignment (
    id               uuid NOT NULL PRIMARY KEY,
    referral_id      uuid NOT NULL REFERENCES referral (id),
    organisation_id  uuid NOT NULL REFERENCES organisation (id),
    agent_reference  varchar(100) NOT NULL,
    agent_name       varchar(200) NOT NULL,
    assigned_at      timestamptz NOT NULL
);
CREATE INDEX ix_referral_assignment_referral ON referral_assignment (referral_id, assigned_at);

-- The thread: messages, questions, answers and the texts of transitions, in order.
CREATE TABLE referral_message (
    id                     uuid NOT NULL PRIMARY KEY,
    referral_id            uuid NOT NULL REFERENCES referral (id),
    seq                    integer NOT NULL,
    kind                   varchar(32) NOT NULL,
    author_organisation_id uuid NOT NULL REFERENCES organisation (id),
    author_agent_reference varchar(100) NOT NULL,
    author_agent_name      varchar(200) NOT NULL,
    body                   text NULL,
    created_at             timestamptz NOT NULL
);
CREATE UNIQUE INDEX ux_referral_message_seq ON referral_message (referral_id, seq);

-- An organisation's intake for a competence: paused (facultative only) or an expected response delay.
CREATE TABLE referral_intake (
    organisation_id        uuid NOT NULL REFERENCES organisation (id),
    competence_code        varchar(32) NOT NULL REFERENCES competence (code),
    paused_until           date NULL,
    pause_reason           varchar(500) NULL,
    expected_response_days integer NULL,
    updated_at             timestamptz NOT NULL,
    PRIMARY KEY (organisation_id, competence_code)
);
