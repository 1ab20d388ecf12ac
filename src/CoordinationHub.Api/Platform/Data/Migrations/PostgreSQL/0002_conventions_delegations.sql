-- Competence catalogue, conventions with amendments, delegations with versions,
-- the precomputed competence map, audit trail and outbox.
CREATE TABLE competence (
    code          varchar(32)   NOT NULL PRIMARY KEY,
    label         varchar(200)  NOT NULL,
    holder_kind   varchar(16)   NOT NULL,
    legal_basis   varchar(200)  NOT NULL,
    is_legal      boolean  NOT NULL,
    sort_order    integer   NOT NULL
);

CREATE TABLE convention (
    id                  uuid  NOT NULL PRIMARY KEY,
    reference           varchar(40)   NOT NULL,
    type                varchar(24)   NOT NULL,
    status              varchar(16)   NOT NULL,
    created_by          uuid  NOT NULL REFERENCES organisation (id),
    signed_at           timestamptz    NULL,
    terminated_on       date  NULL,
    termination_reason  varchar(500)  NULL,
    terminated_by       uuid  NULL REFERENCES organisation (id),
    version             integer   NOT NULL,
    created_at          timestamptz    NOT NULL,
    updated_at          timestamptz    NOT NULL
);
CREATE UNIQUE INDEX ux_convention_reference ON convention (reference);

CREATE TABLE convention_party (
    convention_id   uuid  NOT NULL REFERENCES convention (id),
    organisation_id uuid  NOT NULL REFERENCES organisation (id),
    role            varchar(200)  NOT NULL,
    PRIMARY KEY (convention_id, organisation_id)
);
CREATE INDEX ix_convention_party_organisation ON convention_party (organisation_id);

-- Version 0 is the convention as first signed; version n is amendment (avenant) n.
CREATE TABLE convention_version (
    convention_id        uuid   NOT NULL REFERENCES convention (id),
    amendment_no         integer    NOT NULL,
    status               varchar(16)    NOT NULL,
    effective_on         date   NOT NULL,
    object               text   NOT NULL,
    start_on             date   NOT NULL,
    end_on               date   NOT NULL,
    renewal_months       integer    NULL,
    max_renewals         integer    NULL,
    notice_days          integer    NOT NULL,
    allows_subdelegation boolean   NOT NULL,
    amount               numeric(14,2)  NULL,
    periodicity          varchar(16)    NULL,
    payer_id             uuid   NULL REFERENCES organisation (id),
    summary              varchar(500)   NULL,
    created_at           timestamptz     NOT NULL,
    signed_at            timestamptz     NULL,
    PRIMARY KEY (convention_id, amendment_no)
);

CREATE TABLE convention_signature (
    convention_id   uuid  NOT NULL REFERENCES convention (id),
    amendment_no    integer   NOT NULL,
    organisation_id uuid  NOT NULL REFERENCES organisation (id),
    signer_name     varchar(200)  NOT NULL,
    signed_on       date  NOT NULL,
    api_key_id      uuid  NOT NULL,
    recorded_at     timestamptz    NOT NULL,
    PRIMARY KEY (convention_id, amendment_no, organisation_id)
);

CREATE TABLE convention_competence (
    convention_id   uuid  NOT NULL REFERENCES convention (id),
    amendment_no    integer   NOT NULL,
    competence_code varchar(32)   NOT NULL REFERENCES competence (code),
    PRIMARY KEY (convention_id, amendment_no, competence_code)
);
CREATE INDEX ix_convention_competence_code ON convention_competence (competence_code);

CREATE TABLE convention_commune (
    convention_id   uuid  NOT NULL REFERENCES convention (id),
    amendment_no    integer   NOT NULL,
    commune_id      uuid  NOT NULL REFERENCES organisation (id),
    PRIMARY KEY (convention_id, amendment_no, commune_id)
);
CREATE INDEX ix_convention_commune_commune ON convention_commune (commune_id);

CREATE TABLE delegation (
    id                   uuid  NOT NULL PRIMARY KEY,
    delegator_id         uuid  NOT NULL REFERENCES organisation (id),
    delegate_id          uuid  NOT NULL REFERENCES organisation (id),
    competence_code      varchar(32)   NOT NULL REFERENCES competence (code),
    convention_id        uuid  NOT NULL REFERENCES convention (id),
    external_ref         varchar(100)  NULL,
    current_version      integer   NOT NULL,
    start_on             date  NOT NULL,
    end_on               date  NOT NULL,
    ended_reason         varchar(500)  NULL,
    version              integer   NOT NULL,
    created_at           timestamptz    NOT NULL,
    updated_at           timestamptz    NOT NULL
);
CREATE UNIQUE INDEX ux_delegation_external_ref ON delegation (delegator_id, external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX ix_delegation_convention ON delegation (convention_id);
CREATE INDEX ix_delegation_delegate ON delegation (delegate_id, competence_code);

-- Every recorded state of a delegation; the delegation row mirrors the current one.
CREATE TABLE delegation_version (
    delegation_id  uuid  NOT NULL REFERENCES delegation (id),
    version_no     integer   NOT NULL,
    start_on       date  NOT NULL,
    end_on         date  NOT NULL,
    change         varchar(24)   NOT NULL,
    reason         varchar(500)  NULL,
    recorded_at    timestamptz    NOT NULL,
    recorded_by    uuid  NOT NULL,
    PRIMARY KEY (delegation_id, version_no)
);

CREATE TABLE delegation_commune (
    delegation_id  uuid  NOT NULL REFERENCES delegation (id),
    version_no     integer   NOT NULL,
    commune_id     uuid  NOT NULL REFERENCES organisation (id),
    PRIMARY KEY (delegation_id, version_no, commune_id)
);
CREATE INDEX ix_delegation_commune_commune ON delegation_commune (commune_id);

-- The answer to "who is responsible for C in commune X on date D", precomputed for every
-- period a delegation changes it (outside these periods the holder by law answers).
-- Rewritten in the transaction that changes a delegation or a convention.
CREATE TABLE competence_map (
    commune_id      uuid  NOT NULL REFERENCES organisation (id),
    competence_code varchar(32)   NOT NULL REFERENCES competence (code),
    valid_from      date  NOT NULL,
    valid_to        date  NOT NULL,
    responsible_id  uuid  NOT NULL REFERENCES organisation (id),
    chain           text  NOT NULL,
    PRIMARY KEY (commune_id, competence_code, valid_from)
);

CREATE TABLE map_generation (
    id          integer   NOT NULL PRIMARY KEY,
    generation  bigint   NOT NULL
);
INSERT INTO map_generation (id, generation) VALUES (1, 0);

CREATE TABLE audit_event (
    id              uuid  NOT NULL PRIMARY KEY,
    occurred_at     timestamptz    NOT NULL,
    organisation_id uuid  NULL,
    api_key_id      uuid  NOT NULL,
    resource_type   varchar(32)   NOT NULL,
    resource_id     uuid  NOT NULL,
    action          varchar(40)   NOT NULL,
    before_state    text  NULL,
    after_state     text  NULL
);
CREATE INDEX ix_audit_event_resource ON audit_event (resource_type, resource_id, id);

CREATE TABLE outbox_event (
    id             uuid  NOT NULL PRIMARY KEY,
    occurred_at    timestamptz    NOT NULL,
    event_type     varchar(40)   NOT NULL,
    resource_type  varchar(32)   NOT NULL,
    resource_id    uuid  NOT NULL,
    payload        text  NOT NULL,
    delivered_at   timestamptz    NULL
);
CREATE INDEX ix_outbox_event_pending ON outbox_event (delivered_at, id);
