-- Directory of organisations, API keys, idempotency records.
CREATE TABLE organisation (
    id               TEXT    NOT NULL PRIMARY KEY,
    kind             TEXT    NOT NULL,
    code             TEXT    NULL,
    name             TEXT    NOT NULL,
    search_name      TEXT    NOT NULL,
    siren            TEXT    NULL,
    siret            TEXT    NULL,
    departement_code TEXT    NULL,
    region_code      TEXT    NULL,
    commune_id       TEXT    NULL REFERENCES organisation (id),
    epci_id          TEXT    NULL REFERENCES organisation (id),
    partner_category TEXT    NULL,
    epci_type        TEXT    NULL,
    population       INTEGER NULL,
    email            TEXT    NULL,
    phone            TEXT    NULL,
    address          TEXT    NULL,
    is_active        INTEGER NOT NULL,
    successor_id     TEXT    NULL REFERENCES organisation (id),
    version          INTEGER NOT NULL,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL
);
CREATE UNIQUE INDEX ux_organisation_kind_code ON organisation (kind, code) WHERE code IS NOT NULL;
CREATE UNIQUE INDEX ux_organisation_siret ON organisation (siret) WHERE siret IS NOT NULL;
CREATE INDEX ix_organisation_siren ON organisation (siren);
CREATE INDEX ix_organisation_search_name ON organisation (search_name, id);
CREATE INDEX ix_organisation_departement ON organisation (departement_code, kind);
CREATE INDEX ix_organisation_commune ON organisation (commune_id);
CREATE INDEX ix_organisation_epci ON organisation (epci_id);

CREATE TABLE referential_import (
    id          TEXT    NOT NULL PRIMARY KEY,
    source      TEXT    NOT NULL,
    imported_at TEXT    NOT NULL,
    created     INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    deactivated INTEGER NOT NULL
);

CREATE TABLE api_key (
    id                TEXT    NOT NULL PRIMARY KEY,
    organisation_id   TEXT    NULL REFERENCES organisation (id),
    name              TEXT    NOT NULL,
    prefix            TEXT    NOT NULL,
    key_hash          TEXT    NOT NULL,
    scopes            TEXT    NOT NULL,
    is_platform_admin INTEGER NOT NULL,
    created_at        TEXT    NOT NULL,
    revoked_at        TEXT    NULL,
    last_used_at      TEXT    NULL
);
CREATE UNIQUE INDEX ux_api_key_hash ON api_key (key_hash);

CREATE TABLE idempotency_record (
    api_key_id      TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    request_hash    TEXT    NOT NULL,
    status_code     INTEGER NULL,
    content_type    TEXT    NULL,
    location        TEXT    NULL,
    body            TEXT    NULL,
    created_at      TEXT    NOT NULL,
    PRIMARY KEY (api_key_id, idempotency_key)
);

-- One active CCAS per commune, one active CIAS per EPCI (CASF L123-4, L123-4-1).
CREATE UNIQUE INDEX ux_organisation_ccas ON organisation (commune_id) WHERE kind = 'CCAS' AND is_active = 1;
CREATE UNIQUE INDEX ux_organisation_cias ON organisation (epci_id) WHERE kind = 'CIAS' AND is_active = 1;
