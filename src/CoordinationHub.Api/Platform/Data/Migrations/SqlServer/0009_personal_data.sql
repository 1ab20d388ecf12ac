-- The person's data as the law wants it (issue 14).
-- The person is stored sealed (AES-GCM, key ring outside the database), one row per version: the
-- sender may correct it, and the receiver sees what changed. referral_person (plaintext, 0005) is
-- emptied into it by the migrator's code step, then dropped.
CREATE TABLE referral_person_version (
    referral_id            uniqueidentifier NOT NULL REFERENCES referral (id),
    version                int NOT NULL,
    payload                nvarchar(max) NOT NULL,
    changed_fields         nvarchar(300) NULL,
    author_organisation_id uniqueidentifier NOT NULL REFERENCES organisation (id),
    author_agent_reference nvarchar(100) NOT NULL,
    author_agent_name      nvarchar(200) NOT NULL,
    created_at             datetimeoffset NOT NULL,
    PRIMARY KEY (referral_id, version)
);

-- Retention: the days a convention sets for the person's data (else configuration), and when it was purged.
ALTER TABLE convention ADD person_data_retention_days int NULL;
ALTER TABLE referral ADD retention_days int NULL;
ALTER TABLE referral ADD person_purged_at datetimeoffset NULL;
CREATE INDEX ix_referral_closed ON referral (closed_at);

-- Every answer that carried a person's data: who, when, which operation, for what purpose.
CREATE TABLE person_access (
    id              uniqueidentifier NOT NULL PRIMARY KEY,
    accessed_at     datetimeoffset NOT NULL,
    referral_id     uniqueidentifier NOT NULL,
    organisation_id uniqueidentifier NULL,
    api_key_id      uniqueidentifier NOT NULL,
    agent_reference nvarchar(100) NULL,
    operation       nvarchar(64) NOT NULL,
    purpose         nvarchar(200) NOT NULL
);
CREATE INDEX ix_person_access_referral ON person_access (referral_id, accessed_at);
CREATE INDEX ix_person_access_at ON person_access (accessed_at, id);

-- Each purge: what, when, how many (never silent).
CREATE TABLE person_purge (
    id           uniqueidentifier NOT NULL PRIMARY KEY,
    purged_at    datetimeoffset NOT NULL,
    trigger_kind nvarchar(16) NOT NULL,
    referral_id  uniqueidentifier NULL,
    referrals    int NOT NULL,
    versions     int NOT NULL,
    messages     int NOT NULL
);

-- The person's rights exercised through an organisation: erasure and objection requests, and the answer.
CREATE TABLE person_request (
    id                     uniqueidentifier NOT NULL PRIMARY KEY,
    referral_id            uniqueidentifier NOT NULL REFERENCES referral (id),
    kind                   nvarchar(16) NOT NULL,
    organisation_id        uniqueidentifier NOT NULL REFERENCES organisation (id),
    agent_reference        nvarchar(100) NOT NULL,
    agent_name             nvarchar(200) NOT NULL,
    received_at            datetimeoffset NOT NULL,
    outcome                nvarchar(32) NOT NULL,
    legal_reference        nvarchar(200) NULL
);
CREATE INDEX ix_person_request_referral ON person_request (referral_id, received_at);
