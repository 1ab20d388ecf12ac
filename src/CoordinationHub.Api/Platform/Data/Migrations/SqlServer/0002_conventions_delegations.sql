-- Competence catalogue, conventions with amendments, delegations with versions,
-- the precomputed competence map, audit trail and outbox.
CREATE TABLE competence (
    code          varchar(32)   NOT NULL PRIMARY KEY,
    label         nvarchar(200)  NOT NULL,
    holder_kind   varchar(16)   NOT NULL,
    legal_basis   nvarchar(200)  NOT NULL,
    is_legal      bit  NOT NULL,
    sort_order    int   NOT NULL
);

CREATE TABLE convention (
    id                  uniqueidentifier  NOT NULL PRIMARY KEY,
    reference           varchar(40)   NOT NULL,
    type                varchar(24)   NOT NULL,
    status              varchar(16)   NOT NULL,
    created_by          uniqueidentifier  NOT NULL REFERENCES organisation (id),
    signed_at           datetimeoffset    NULL,
    terminated_on       date  NULL,
    termination_reason  nvarchar(500)  NULL,
    terminated_by       uniqueidentifier  NULL REFERENCES organisation (id),
    version             int   NOT NULL,
    created_at          datetimeoffset    NOT NULL,
    updated_at          datetimeoffset    NOT NULL
);
CREATE UNIQUE INDEX ux_convention_reference ON convention (reference);

CREATE TABLE convention_party (
    convention_id   uniqueidentifier  NOT NULL REFERENCES convention (id),
    organisation_id uniqueidentifier  NOT NULL REFERENCES organisation (id),
    role            nvarchar(200)  NOT NULL,
    PRIMARY KEY (convention_id, organisation_id)
);
CREATE INDEX ix_convention_party_organisation ON convention_party (organisation_id);

-- Version 0 is the convention as first signed; version n is amendment (avenant) n.
CREATE TABLE convention_version (
    convention_id        uniqueidentifier   NOT NULL REFERENCES convention (id),
    amendment_no         int    NOT NULL,
    status               varchar(16)    NOT NULL,
    effective_on         date   NOT NULL,
    object               nvarchar(max)   NOT NULL,
    start_on             date   NOT NULL,
    end_on               date   NOT NULL,
    renewal_months       int    NULL,
    max_renewals         int    NULL,
    notice_days          int    NOT NULL,
    allows_subdelegation bit   NOT NULL,
    amount               decimal(14,2)  NULL,
    periodicity          varchar(16)    NULL,
    payer_id             uniqueidentifier   NULL REFERENCES organisation (id),
    summary              nvarchar(500)   NULL,
    created_at           datetimeoffset     NOT NULL,
    signed_at            datetimeoffset     NULL,
    PRIMARY KEY (convention_id, amendment_no)
);

CREATE TABLE convention_signature (
    convention_id   uniqueidentifier  NOT NULL REFERENCES convention (id),
    amendment_no    int   NOT NULL,
    organisation_id uniqueidentifier  NOT NULL REFERENCES organisation (id),
    signer_name     nvarchar(200)  NOT NULL,
    signed_on       date  NOT NULL,
    api_key_id      uniqueidentifier  NOT NULL,
    recorded_at     datetimeoffset    NOT NULL,
    PRIMARY KEY (convention_id, amendment_no, organisation_id)
);

CREATE TABLE convention_competence (
    convention_id   uniqueidentifier  NOT NULL REFERENCES convention (id),
    amendment_no    int   NOT NULL,
    competence_code varchar(32)   NOT NULL REFERENCES competence (code),
    PRIMARY KEY (convention_id, amendment_no, competence_code)
);
CREATE INDEX ix_convention_competence_code ON convention_competence (competence_code);

CREATE TABLE convention_commune (
    convention_id   uniqueidentifier  NOT NULL REFERENCES convention (id),
    amendment_no    int   NOT NULL,
    commune_id      uniqueidentifier  NOT NULL REFERENCES organisation (id),
    PRIMARY KEY (convention_id, amendment_no, commune_id)
);
CREATE INDEX ix_convention_commune_commune ON convention_commune (commune_id);

CREATE TABLE delegation (
    id                   uniqueidentifier  NOT NULL PRIMARY KEY,
    delegator_id         uniqueidentifier  NOT NULL REFERENCES organisation (id),
    delegate_id          uniqueidentifier  NOT NULL REFERENCES organisation (id),
    competence_code      varchar(32)   NOT NULL REFERENCES competence (code),
    convention_id        uniqueidentifier  NOT NULL REFERENCES convention (id),
    external_ref         varchar(100)  NULL,
    current_version      int   NOT NULL,
    start_on             date  NOT NULL,
    end_on               date  NOT NULL,
    ended_reason         nvarchar(500)  NULL,
    version              int   NOT NULL,
    created_at           datetimeoffset    NOT NULL,
    updated_at           datetimeoffset    NOT NULL
);
CREATE UNIQUE INDEX ux_delegation_external_ref ON delegation (delegator_id, external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX ix_delegation_convention ON delegation (convention_id);
CREATE INDEX ix_delegation_delegate ON delegation (delegate_id, competence_code);

-- Every recorded state of a delegation; the delegation row mirrors the current one.
CREATE TABLE delegation_version (
    delegation_id  uniqueidentifier  NOT NULL REFERENCES delegation (id),
    version_no     int   NOT NULL,
    start_on       date  NOT NULL,
    end_on         date  NOT NULL,
    change         varchar(24)   NOT NULL,
    reason         nvarchar(500)  NULL,
    recorded_at    datetimeoffset    NOT NULL,
    recorded_by    uniqueidentifier  NOT NULL,
    PRIMARY KEY (delegation_id, version_no)
);

CREATE TABLE delegation_commune (
    delegation_id  uniqueidentifier  NOT NULL REFERENCES delegation (id),
    version_no     int   NOT NULL,
    commune_id     uniqueidentifier  NOT NULL REFERENCES organisation (id),
    PRIMARY KEY (delegation_id, version_no, commune_id)
);
CREATE INDEX ix_delegation_commune_commune ON delegation_commune (commune_id);

-- The answer to "who is responsible for C in commune X on date D", precomputed for every
-- period a delegation changes it (outside these periods the holder by law answers).
-- Rewritten in the transaction that changes a delegation or a convention.
CREATE TABLE competence_map (
    commune_id      uniqueidentifier  NOT NULL REFERENCES organisation (id),
    competence_code varchar(32)   NOT NULL REFERENCES competence (code),
    valid_from      date  NOT NULL,
    valid_to        date  NOT NULL,
    responsible_id  uniqueidentifier  NOT NULL REFERENCES organisation (id),
    chain           nvarchar(max)  NOT NULL,
    PRIMARY KEY (commune_id, competence_code, valid_from)
);

CREATE TABLE map_generation (
    id          int   NOT NULL PRIMARY KEY,
    generation  bigint   NOT NULL
);
INSERT INTO map_generation (id, generation) VALUES (1, 0);

CREATE TABLE audit_event (
    id              uniqueidentifier  NOT NULL PRIMARY KEY,
    occurred_at     datetimeoffset    NOT NULL,
    organisation_id uniqueidentifier  NULL,
    api_key_id      uniqueidentifier  NOT NULL,
    resource_type   varchar(32)   NOT NULL,
    resource_id     uniqueidentifier  NOT NULL,
    action          varchar(40)   NOT NULL,
    before_state    nvarchar(max)  NULL,
    after_state     nvarchar(max)  NULL
);
CREATE INDEX ix_audit_event_resource ON audit_event (resource_type, resource_id, id);

CREATE TABLE outbox_event (
    id             uniqueidentifier  NOT NULL PRIMARY KEY,
    occurred_at    datetimeoffset    NOT NULL,
    event_type     varchar(40)   NOT NULL,
    resource_type  varchar(32)   NOT NULL,
    resource_id    uniqueidentifier  NOT NULL,
    payload        nvarchar(max)  NOT NULL,
    delivered_at   datetimeoffset    NULL
);
CREATE INDEX ix_outbox_event_pending ON outbox_event (delivered_at, id);
