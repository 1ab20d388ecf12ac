-- The person's data as the law wants it (issue 14).
-- The person is stored sealed (AES-GCM, key ring outside the database), one row per version: the
-- sender may correct it, and the receiver sees what changed. referral_person (plaintext, 0005) is
-- emptied into it by the migrator's code step, then dropped.
CREATE TABLE referral_person_version (
    referral_id            TEXT NOT NULL REFERENCES referral (id),
    version                INTEGER NOT NULL,
    payload                TEXT NOT NULL,
    changed_fields         TEXT NULL,
    author_organisation_id TEXT NOT NULL REFERENCES organisation (id),
    author_agent_reference TEXT NOT NULL,
    author_agent_name      TEXT NOT NULL,
    created_at             TEXT NOT NULL,
    PRIMARY KEY (referral_id, version)
);

-- Retention: the days a convention sets for the person's data (else configuration), and when it was purged.
ALTER TABLE convention ADD COLUMN person_data_retention_days INTEGER NULL;
ALTER TABLE referral ADD COLUMN retention_days INTEGER NULL;
ALTER TABLE referral ADD COLUMN person_purged_at TEXT NULL;
CREATE INDEX ix_referral_closed ON referral (closed_at);

-- Every answer that carried a person's data: who, when, which operation, for what purpose.
CREATE TABLE person_access (
    id              TEXT NOT NULL PRIMARY KEY,
    accessed_at     TEXT NOT NULL,
    referral_id     TEXT NOT NULL,
    organisation_id TEXT NULL,
    api_key_id      TEXT NOT NULL,
    agent_reference TEXT NULL,
    operation       TEXT NOT NULL,
    purpose         TEXT NOT NULL
);
CREATE INDEX ix_person_access_referral ON person_access (referral_id, accessed_at);
CREATE INDEX ix_person_access_at ON person_access (accessed_at, id);

-- Each purge: what, when, how many (never silent).
CREATE TABLE person_purge (
    id           TEXT NOT NULL PRIMARY KEY,
    purged_at    TEXT NOT NULL,
    trigger_kind TEXT NOT NULL,
    referral_id  TEXT NULL,
    referrals    INTEGER NOT NULL,
    versions     INTEGER NOT NULL,
    messages     INTEGER NOT NULL
);

-- The person's rights exercised through an organisation: erasure and objection requests, and the answer.
CREATE TABLE person_request (
    id                     TEXT NOT NULL PRIMARY KEY,
    referral_id            TEXT NOT NULL REFERENCES referral (id),
    kind                   TEXT NOT NULL,
    organisation_id        TEXT NOT NULL REFERENCES organisation (id),
    agent_reference        TEXT NOT NULL,
    agent_name             TEXT NOT NULL,
    received_at            TEXT NOT NULL,
    outcome                TEXT NOT NULL,
    legal_reference        TEXT NULL
);
CREATE INDEX ix_person_request_referral ON person_request (referral_id, received_at);
