-- Départements' bulk pushes of delegations: one row per push, with its report.
CREATE TABLE import_job (
    id              TEXT    NOT NULL PRIMARY KEY,
    delegator_id    TEXT    NOT NULL REFERENCES organisation (id),
    organisation_id TEXT    NULL,
    api_key_id      TEXT    NOT NULL,
    mode            TEXT    NOT NULL,
    competences     TEXT    NOT NULL,
    effective_on    TEXT    NOT NULL,
    dry_run         INTEGER NOT NULL,
    content_sha256  TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    report          TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    finished_at     TEXT    NOT NULL
);
CREATE INDEX ix_import_job_content ON import_job (delegator_id, content_sha256);
