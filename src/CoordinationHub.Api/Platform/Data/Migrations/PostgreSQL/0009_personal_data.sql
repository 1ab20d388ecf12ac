-- The person's data as the law wants it (issue 14).
-- The person is stored sealed (AES-GCM, key ring outside the database), one row per version: the
-- sender may correct it, and the receiver sees what changed. referral_person (plaintext, 0005) is
-- emptied into it by the migrator's code step, then dropped.
CREATE TABLE referral_person_version (
    referral_id            uuid NOT NULL REFERENCES referral (id),
    version                integer NOT NULL,
    payload                text NOT NULL,
    changed_fields         varchar(300) NULL,
    author_organisation_id uuid NOT NULL REFERENCES organisation (id),
    author_agent_reference varchar(100) NOT NULL,
    author_agent_name      varchar(200) NOT NULL,
    created_at             timestamptz NOT NULL,
    PRIMARY KEY (referral_id, version)
);

-- Retention: the days a convention sets for the person's data (else configuration), and when it was purged.
ALTER TABLE convention ADD COLUMN person_data_retention_days integer NULL;
ALTER TABLE referral ADD COLUMN retention_days integer NULL;
ALTER TABLE referral ADD COLUMN person_purged_at timestamptz NULL;
CREATE INDEX ix_referral_closed ON referral (closed_at);

-- Every answer that carried a person's data: who, when, which operation, for what purpose.
CREATE TABLE person_access (
    id              uuid NOT NULL PRIMARY KEY,
    accessed_at     timestamptz NOT NULL,
    referral_id     uuid NOT NULL,
    organisation_id uuid NULL,
    api_key_id      uuid NOT NULL,
    agent_reference varchar(100) NULL,
    operation       varchar(64) NOT NULL,
    purpose         varchar(200) NOT NULL
);
CREATE INDEX ix_person_access_referral ON person_access (referral_id, accessed_at);
CREATE INDEX ix_person_access_at ON person_access (accessed_at, id);

-- Each purge: what, when, how many (never silent).
CREATE TABLE person_purge (
    id           uuid NOT NULL PRIMARY KEY,
    purged_at    timestamptz NOT NULL,
    trigger_kind varchar(16) NOT NULL,
    referral_id  uuid NULL,
    referrals    integer NOT NULL,
    versions     integer NOT NULL,
    messages     integer NOT NULL
);

-- The person's rights exercised through an organisation: erasure and objection requests, and the answer.
CREATE TABLE person_request (
    id                     uuid NOT NULL PRIMARY KEY,
    referral_id            uuid NOT NULL REFERENCES referral (id),
    kind                   varchar(16) NOT NULL,
    organisation_id        uuid NOT NULL REFERENCES organisation (id),
    agent_reference        varchar(100) NOT NULL,
    agent_name             varchar(200) NOT NULL,
    received_at            timestamptz NOT NULL,
    outcome                varchar(32) NOT NULL,
    legal_reference        varchar(200) NULL
);
CREATE INDEX ix_person_request_referral ON person_request (referral_id, received_at);
