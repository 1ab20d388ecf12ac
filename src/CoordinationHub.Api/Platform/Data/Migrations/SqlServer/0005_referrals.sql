-- Referrals (issue 13): a person referred by a sender organisation to a receiver for a need.
-- The person's data lives apart, in referral_person and referral_message.body, read and written
-- by one class (ReferralPersonData) so that encryption at rest can wrap it in one place.

-- A convention may set, per covered competence, the days a receiver has to answer a referral.
ALTER TABLE convention_competence ADD referral_response_days int NULL;

CREATE TABLE referral (
    id                     uniqueidentifier NOT NULL PRIMARY KEY,
    sender_id              uniqueidentifier NOT NULL REFERENCES organisation (id),
    receiver_id            uniqueidentifier NOT NULL REFERENCES organisation (id),
    need                   varchar(32) NOT NULL,
    competence_code        varchar(32) NOT NULL REFERENCES competence (code),
    urgency                varchar(16) NOT NULL,
    status                 varchar(32) NOT NULL,
    commune_id             uniqueidentifier NOT NULL REFERENCES organisation (id),
    person_key             nvarchar(200) NOT NULL,
    sender_agent_reference nvarchar(100) NOT NULL,
    sender_agent_name      nvarchar(200) NOT NULL,
    assigned_agent_reference nvarchar(100) NULL,
    assigned_agent_name    nvarchar(200) NULL,
    statutory_basis        varchar(40) NULL,
    consent_purpose        nvarchar(500) NULL,
    consent_scope_need     varchar(32) NULL,
    consent_scope_receiver_id uniqueidentifier NULL,
    consent_method         varchar(16) NULL,
    consent_given_at       datetimeoffset NULL,
    consent_collected_by_reference nvarchar(100) NULL,
    consent_collected_by_name nvarchar(200) NULL,
    consent_expires_on     date NULL,
    consent_withdrawn_at   datetimeoffset NULL,
    routing_mode           varchar(16) NOT NULL,
    routing_chain          nvarchar(max) NOT NULL,
    deadline_at            datetimeoffset NOT NULL,
    deadline_source        varchar(16) NOT NULL,
    deadline_convention_id uniqueidentifier NULL,
    info_requested_at      datetimeoffset NULL,
    decline_reason         varchar(40) NULL,
    suggested_receiver_id  uniqueidentifier NULL,
    outcome                varchar(40) NULL,
    cancel_reason          varchar(40) NULL,
    forced_duplicate_of    uniqueidentifier NULL,
    reoriented_from_id     uniqueidentifier NULL,
    reoriented_to_id       uniqueidentifier NULL,
    sent_at                datetimeoffset NOT NULL,
    received_at            datetimeoffset NULL,
    responded_at           datetimeoffset NULL,
    closed_at              datetimeoffset NULL,
    version                int NOT NULL,
    updated_at             datetimeoffset NOT NULL
);
-- The two boxes, newest first (ids are UUIDv7): keyset pages walk these indexes.
CREATE INDEX ix_referral_receiver ON referral (receiver_id, id);
CREATE INDEX ix_referral_sender ON referral (sender_id, id);
CREATE INDEX ix_referral_duplicate ON referral (person_key, competence_code, receiver_id);

-- The person's data: one row per referral, behind ReferralPersonData.
CREATE TABLE referral_person (
    referral_id        uniqueidentifier NOT NULL PRIMARY KEY REFERENCES referral (id),
    family_name        nvarchar(200) NOT NULL,
    given_names        nvarchar(200) NOT NULL,
    birth_date         date NOT NULL,
    address            nvarchar(500) NULL,
    contact_channel    varchar(16) NULL,
    contact_value      nvarchar(200) NULL,
    allocataire_number varchar(32) NULL,
    context            nvarchar(max) NULL
);

-- Every organisation that has held the referral as receiver; left_at is set when it transferred it.
CREATE TABLE referral_receiver (
    referral_id     uniqueidentifier NOT NULL REFERENCES referral (id),
    organisation_id uniqueidentifier NOT NULL REFERENCES organisation (id),
    since_at        datetimeoffset NOT NULL,
    left_at         datetimeoffset NULL,
    transfer_reason varchar(40) NULL,
    PRIMARY KEY (referral_id, organisation_id, since_at)
);
CREATE INDEX ix_referral_receiver_organisation ON referral_receiver (organisation_id, referral_id);

-- The assigned agent (référent) inside the receiver, every change kept.
CREATE TABLE referral_assignment (
    id               uniqueidentifier NOT NULL PRIMARY KEY,
    referral_id      uniqueidentifier NOT NULL REFERENCES referral (id),
    organisation_id  uniqueidentifier NOT NULL REFERENCES organisation (id),
    agent_reference  nvarchar(100) NOT NULL,
    agent_name       nvarchar(200) NOT NULL,
    assigned_at      datetimeoffset NOT NULL
);
CREATE INDEX ix_referral_assignment_referral ON referral_assignment (referral_id, assigned_at);

-- The thread: messages, questions, answers and the texts of transitions, in order.
CREATE TABLE referral_message (
    id                     uniqueidentifier NOT NULL PRIMARY KEY,
    referral_id            uniqueidentifier NOT NULL REFERENCES referral (id),
    seq                    int NOT NULL,
    kind                   varchar(32) NOT NULL,
    author_organisation_id uniqueidentifier NOT NULL REFERENCES organisation (id),
    author_agent_reference nvarchar(100) NOT NULL,
    author_agent_name      nvarchar(200) NOT NULL,
    body                   nvarchar(max) NULL,
    created_at             datetimeoffset NOT NULL
);
CREATE UNIQUE INDEX ux_referral_message_seq ON referral_message (referral_id, seq);

-- An organisation's intake for a competence: paused (facultative only) or an expected response delay.
CREATE TABLE referral_intake (
    organisation_id        uniqueidentifier NOT NULL REFERENCES organisation (id),
    competence_code        varchar(32) NOT NULL REFERENCES competence (code),
    paused_until           date NULL,
    pause_reason           nvarchar(500) NULL,
    expected_response_days int NULL,
    updated_at             datetimeoffset NOT NULL,
    PRIMARY KEY (organisation_id, competence_code)
);
