-- Directory of organisations, API keys, idempotency records.
CREATE TABLE organisation (
    id               uuid         NOT NULL PRIMARY KEY,
    kind             varchar(16)  NOT NULL,
    code             varchar(16)  NULL,
    name             varchar(200) NOT NULL,
    search_name      varchar(200) NOT NULL,
    siren            char(9)      NULL,
    siret            char(14)     NULL,
    departement_code varchar(3)   NULL,
    region_code      varchar(3)   NULL,
    commune_id       uuid         NULL REFERENCES organisation (id),
    epci_id          uuid         NULL REFERENCES organisation (id),
    partner_category varchar(20)  NULL,
    epci_type        varchar(8)   NULL,
    population       integer      NULL,
    email            varchar(254) NULL,
    phone            varchar(32)  NULL,
    address          varchar(300) NULL,
    is_active        boolean      NOT NULL,
    successor_id     uuid         NULL REFERENCES organisation (id),
    version          integer      NOT NULL,
    created_at       timestamptz  NOT NULL,
    updated_at       timestamptz  NOT NULL
);
CREATE UNIQUE INDEX ux_organisation_kind_code ON organisation (kind, code) WHERE code IS NOT NULL;
CREATE UNIQUE INDEX ux_organisation_siret ON organisation (siret) WHERE siret IS NOT NULL;
CREATE INDEX ix_organisation_siren ON organisation (siren);
CREATE INDEX ix_organisation_search_name ON organisation (search_name varchar_pattern_ops, id);
CREATE INDEX ix_organisation_departement ON organisation (departement_code, kind);
CREATE INDEX ix_organisation_commune ON organisation (commune_id);
CREATE INDEX ix_organisation_epci ON organisation (epci_id);

CREATE TABLE referential_import (
    id          uuid         NOT NULL PRIMARY KEY,
    source      varchar(100) NOT NULL,
    imported_at timestamptz  NOT NULL,
    created     integer      NOT NULL,
    updated     integer      NOT NULL,
    deactivated integer      NOT NULL
);

CREATE TABLE api_key (
    id                uuid         NOT NULL PRIMARY KEY,
    organisation_id   uuid         NULL REFERENCES organisation (id),
    name              varchar(100) NOT NULL,
    prefix            varchar(16)  NOT NULL,
    key_hash          char(64)     NOT NULL,
    scopes            varchar(500) NOT NULL,
    is_platform_admin boolean      NOT NULL,
    created_at        timestamptz  NOT NULL,
    revoked_at        timestamptz  NULL,
    last_used_at      timestamptz  NULL
);
CREATE UNIQUE INDEX ux_api_key_hash ON api_key (key_hash);

CREATE TABLE idempotency_record (
    api_key_id      uuid         NOT NULL,
    idempotency_key varchar(100) NOT NULL,
    request_hash    char(64)     NOT NULL,
    status_code     integer      NULL,
    content_type    varchar(100) NULL,
    location        varchar(500) NULL,
    body            text         NULL,
    created_at      timestamptz  NOT NULL,
    PRIMARY KEY (api_key_id, idempotency_key)
);

-- One active CCAS per commune, one active CIAS per EPCI (CASF L123-4, L123-4-1).
CREATE UNIQUE INDEX ux_organisation_ccas ON organisation (commune_id) WHERE kind = 'CCAS' AND is_active;
CREATE UNIQUE INDEX ux_organisation_cias ON organisation (epci_id) WHERE kind = 'CIAS' AND is_active;
