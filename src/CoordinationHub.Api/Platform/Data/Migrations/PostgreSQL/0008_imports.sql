-- Départements' bulk pushes of delegations: one row per push, with its report.
CREATE TABLE import_job (
    id              uuid         NOT NULL PRIMARY KEY,
    delegator_id    uuid         NOT NULL REFERENCES organisation (id),
    organisation_id uuid         NULL,
    api_key_id      uuid         NOT NULL,
    mode            varchar(16)  NOT NULL,
    competences     varchar(2000) NOT NULL,
    effective_on    date         NOT NULL,
    dry_run         boolean      NOT NULL,
    content_sha256  char(64)     NOT NULL,
    status          varchar(16)  NOT NULL,
    report          text         NOT NULL,
    created_at      timestamptz  NOT NULL,
    finished_at     timestamptz  NOT NULL
);
CREATE INDEX ix_import_job_content ON import_job (delegator_id, content_sha256);
