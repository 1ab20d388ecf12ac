-- Competence catalogue, conventions with amendments, delegations with versions,
-- the precomputed competence map, audit trail and outbox.
CREATE TABLE competence (
    code          TEXT   NOT NULL PRIMARY KEY,
    label         TEXT  NOT NULL,
    holder_kind   TEXT   NOT NULL,
    legal_basis   TEXT  NOT NULL,
    is_legal      INTEGER  NOT NULL,
    sort_order    INTEGER   NOT NULL
);

CREATE TABLE convention (
    id                  TEXT  NOT NULL PRIMARY KEY,
    reference           TEXT   NOT NULL,
    type                TEXT   NOT NULL,
    status              TEXT   NOT NULL,
    created_by          TEXT  NOT NULL REFERENCES organisation (id),
    signed_at           TEXT    NULL,
    terminated_on       TEXT  NULL,
    termination_reason  TEXT  NULL,
    terminated_by       TEXT  NULL REFERENCES organisation (id),
    version             INTEGER   NOT NULL,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL
);
CREATE UNIQUE INDEX ux_convention_reference ON convention (reference);

CREATE TABLE convention_party (
    convention_id   TEXT  NOT NULL REFERENCES convention (id),
    organisation_id TEXT  NOT NULL REFERENCES organisation (id),
    role            TEXT  NOT NULL,
    PRIMARY KEY (convention_id, organisation_id)
);
CREATE INDEX ix_convention_party_organisation ON convention_party (organisation_id);

-- Version 0 is the convention as first signed; version n is amendment (avenant) n.
CREATE TABLE convention_version (
    convention_id        TEXT   NOT NULL REFERENCES convention (id),
    amendment_no         INTEGER    NOT NULL,
    status               TEXT    NOT NULL,
    effective_on         TEXT   NOT NULL,
    object               TEXT   NOT NULL,
    start_on             TEXT   NOT NULL,
    end_on               TEXT   NOT NULL,
    renewal_months       INTEGER    NULL,
    max_renewals         INTEGER    NULL,
    notice_days          INTEGER    NOT NULL,
    allows_subdelegation INTEGER   NOT NULL,
    amount               TEXT  NULL,
    periodicity          TEXT    NULL,
    payer_id             TEXT   NULL REFERENCES organisation (id),
    summary              TEXT   NULL,
    created_at           TEXT     NOT NULL,
    signed_at            TEXT     NULL,
    PRIMARY KEY (convention_id, amendment_no)
);

CREATE TABLE convention_signature (
    convention_id   TEXT  NOT NULL REFERENCES convention (id),
    amendment_no    INTEGER   NOT NULL,
    organisation_id TEXT  NOT NULL REFERENCES organisation (id),
    signer_name     TEXT  NOT NULL,
    signed_on       TEXT  NOT NULL,
    api_key_id      TEXT  NOT NULL,
    recorded_at     TEXT    NOT NULL,
    PRIMARY KEY (convention_id, amendment_no, organisation_id)
);

CREATE TABLE convention_competence (
    convention_id   TEXT  NOT NULL REFERENCES convention (id),
    amendment_no    INTEGER   NOT NULL,
    competence_code TEXT   NOT NULL REFERENCES competence (code),
    PRIMARY KEY (convention_id, amendment_no, competence_code)
);
CREATE INDEX ix_convention_competence_code ON convention_competence (competence_code);

CREATE TABLE convention_commune (
    convention_id   TEXT  NOT NULL REFERENCES convention (id),
    amendment_no    INTEGER   NOT NULL,
    commune_id      TEXT  NOT NULL REFERENCES organisation (id),
    PRIMARY KEY (convention_id, amendment_no, commune_id)
);
CREATE INDEX ix_convention_commune_commune ON convention_commune (commune_id);

CREATE TABLE delegation (
    id                   TEXT  NOT NULL PRIMARY KEY,
    delegator_id         TEXT  NOT NULL REFERENCES organisation (id),
    delegate_id          TEXT  NOT NULL REFERENCES organisation (id),
    competence_code      TEXT   NOT NULL REFERENCES competence (code),
    convention_id        TEXT  NOT NULL REFERENCES convention (id),
    external_ref         TEXT  NULL,
    current_version      INTEGER   NOT NULL,
    start_on             TEXT  NOT NULL,
    end_on               TEXT  NOT NULL,
    ended_reason         TEXT  NULL,
    version              INTEGER   NOT NULL,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL
);
CREATE UNIQUE INDEX ux_delegation_external_ref ON delegation (delegator_id, external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX ix_delegation_convention ON delegation (convention_id);
CREATE INDEX ix_delegation_delegate ON delegation (delegate_id, competence_code);

-- Every recorded state of a delegation; the delegation row mirrors the current one.
CREATE TABLE delegation_version (
    delegation_id  TEXT  NOT NULL REFERENCES delegation (id),
    version_no     INTEGER   NOT NULL,
    start_on       TEXT  NOT NULL,
    end_on         TEXT  NOT NULL,
    change         TEXT   NOT NULL,
    reason         TEXT  NULL,
    recorded_at    TEXT    NOT NULL,
    recorded_by    TEXT  NOT NULL,
    PRIMARY KEY (delegation_id, version_no)
);

CREATE TABLE delegation_commune (
    delegation_id  TEXT  NOT NULL REFERENCES delegation (id),
    version_no     INTEGER   NOT NULL,
    commune_id     TEXT  NOT NULL REFERENCES organisation (id),
    PRIMARY KEY (delegation_id, version_no, commune_id)
);
CREATE INDEX ix_delegation_commune_commune ON delegation_commune (commune_id);

-- The answer to "who is responsible for C in commune X on date D", precomputed for every
-- period a delegation changes it (outside these periods the holder by law answers).
-- Rewritten in the transaction that changes a delegation or a convention.
CREATE TABLE competence_map (
    commune_id      TEXT  NOT NULL REFERENCES organisation (id),
    competence_code TEXT   NOT NULL REFERENCES competence (code),
    valid_from      TEXT  NOT NULL,
    valid_to        TEXT  NOT NULL,
    responsible_id  TEXT  NOT NULL REFERENCES organisation (id),
    chain           TEXT  NOT NULL,
    PRIMARY KEY (commune_id, competence_code, valid_from)
);

CREATE TABLE map_generation (
    id          INTEGER   NOT NULL PRIMARY KEY,
    generation  INTEGER   NOT NULL
);
INSERT INTO map_generation (id, generation) VALUES (1, 0);

CREATE TABLE audit_event (
    id              TEXT  NOT NULL PRIMARY KEY,
    occurred_at     TEXT    NOT NULL,
    organisation_id TEXT  NULL,
    api_key_id      TEXT  NOT NULL,
    resource_type   TEXT   NOT NULL,
    resource_id     TEXT  NOT NULL,
    action          TEXT   NOT NULL,
    before_state    TEXT  NULL,
    after_state     TEXT  NULL
);
CREATE INDEX ix_audit_event_resource ON audit_event (resource_type, resource_id, id);

CREATE TABLE outbox_event (
    id             TEXT  NOT NULL PRIMARY KEY,
    occurred_at    TEXT    NOT NULL,
    event_type     TEXT   NOT NULL,
    resource_type  TEXT   NOT NULL,
    resource_id    TEXT  NOT NULL,
    payload        TEXT  NOT NULL,
    delivered_at   TEXT    NULL
);
CREATE INDEX ix_outbox_event_pending ON outbox_event (delivered_at, id);
