-- Départements' bulk pushes of delegations: one row per push, with its report. A large push is a job:
-- QUEUED with its body spooled to body_file, RUNNING under a lease (a killed process's job is taken again).
CREATE TABLE import_job (
    id              TEXT    NOT NULL PRIMARY KEY,
    delegator_id    TEXT    NOT NULL REFERENCES organisation (id),
    organisation_id TEXT    NULL,
    api_key_id      TEXT    NOT NULL,
    format          TEXT    NOT NULL,
    mode            TEXT    NOT NULL,
    competences     TEXT    NOT NULL,
    effective_on    TEXT    NOT NULL,
    dry_run         INTEGER NOT NULL,
    content_sha256  TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    report          TEXT    NULL,
    is_admin        INTEGER NOT NULL,
    body_file       TEXT    NULL,
    lease_until     TEXT    NULL,
    created_at      TEXT    NOT NULL,
    finished_at     TEXT    NULL
);
CREATE INDEX ix_import_job_content ON import_job (delegator_id, content_sha256);
CREATE INDEX ix_import_job_status ON import_job (status, created_at);

-- What each applied push sent, record by record: for reconciliation (what was never sent, what is held differently since).
CREATE TABLE import_record (
    job_id          TEXT NOT NULL,
    line            INTEGER NOT NULL,
    external_ref    TEXT NOT NULL,
    delegation_id   TEXT NOT NULL,
    start_on        TEXT NOT NULL,
    end_on          TEXT NOT NULL,
    communes_sha256 TEXT NOT NULL,
    PRIMARY KEY (job_id, line)
);
CREATE INDEX ix_import_record_ref ON import_record (external_ref);
