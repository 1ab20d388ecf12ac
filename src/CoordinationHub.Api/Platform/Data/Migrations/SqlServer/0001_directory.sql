-- Directory of organisations, API keys, idempotency records.
CREATE TABLE organisation (
    id               uniqueidentifier NOT NULL PRIMARY KEY NONCLUSTERED,
    kind             varchar(16)      NOT NULL,
    code             varchar(16)      NULL,
    name             nvarchar(200)    NOT NULL,
    search_name      varchar(200)     NOT NULL,
    siren            char(9)          NULL,
    siret            char(14)         NULL,
    departement_code varchar(3)       NULL,
    region_code      varchar(3)       NULL,
    commune_id       uniqueidentifier NULL REFERENCES organisation (id),
    epci_id          uniqueidentifier NULL REFERENCES organisation (id),
    partner_category varchar(20)      NULL,
    epci_type        varchar(8)       NULL,
    population       int              NULL,
    email            nvarchar(254)    NULL,
    phone            varchar(32)      NULL,
    address          nvarchar(300)    NULL,
    is_active        bit              NOT NULL,
    successor_id     uniqueidentifier NULL REFERENCES organisation (id),
    version          int              NOT NULL,
    created_at       datetimeoffset   NOT NULL,
    updated_at       datetimeoffset   NOT NULL
);
CREATE UNIQUE INDEX ux_organisation_kind_code ON organisation (kind, code) WHERE code IS NOT NULL;
CREATE UNIQUE INDEX ux_organisation_siret ON organisation (siret) WHERE siret IS NOT NULL;
CREATE INDEX ix_organisation_siren ON organisation (siren);
CREATE INDEX ix_organisation_search_name ON organisation (search_name, id);
CREATE INDEX ix_organisation_departement ON organisation (departement_code, kind);
CREATE INDEX ix_organisation_commune ON organisation (commune_id);
CREATE INDEX ix_organisation_epci ON organisation (epci_id);

CREATE TABLE referential_import (
    id          uniqueidentifier NOT NULL PRIMARY KEY,
    source      varchar(100)     NOT NULL,
    imported_at datetimeoffset   NOT NULL,
    created     int              NOT NULL,
    updated     int              NOT NULL,
    deactivated int              NOT NULL
);

CREATE TABLE api_key (
    id                uniqueidentifier NOT NULL PRIMARY KEY,
    organisation_id   uniqueidentifier NULL REFERENCES organisation (id),
    name              nvarchar(100)    NOT NULL,
    prefix            varchar(16)      NOT NULL,
    key_hash          char(64)         NOT NULL,
    scopes            varchar(500)     NOT NULL,
    is_platform_admin bit              NOT NULL,
    created_at        datetimeoffset   NOT NULL,
    revoked_at        datetimeoffset   NULL,
    last_used_at      datetimeoffset   NULL
);
CREATE UNIQUE INDEX ux_api_key_hash ON api_key (key_hash);

CREATE TABLE idempotency_record (
    api_key_id      uniqueidentifier NOT NULL,
    idempotency_key varchar(100)     NOT NULL,
    request_hash    char(64)         NOT NULL,
    status_code     int              NULL,
    content_type    varchar(100)     NULL,
    location        nvarchar(500)    NULL,
    body            nvarchar(max)    NULL,
    created_at      datetimeoffset   NOT NULL,
    PRIMARY KEY (api_key_id, idempotency_key)
);

-- One active CCAS per commune, one active CIAS per EPCI (CASF L123-4, L123-4-1).
CREATE UNIQUE INDEX ux_organisation_ccas ON organisation (commune_id) WHERE kind = 'CCAS' AND is_active = 1;
CREATE UNIQUE INDEX ux_organisation_cias ON organisation (epci_id) WHERE kind = 'CIAS' AND is_active = 1;
