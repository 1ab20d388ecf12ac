-- Départements' bulk pushes of delegations: one row per push, with its report. A large push is a job:
-- QUEUED with its body spooled to body_file, RUNNING under a lease (a killed process's job is taken again).
CREATE TABLE import_job (
    id              uniqueidentifier NOT NULL PRIMARY KEY,
    delegator_id    uniqueidentifier NOT NULL REFERENCES organisation (id),
    organisation_id uniqueidentifier NULL,
    api_key_id      uniqueidentifier NOT NULL,
    format          varchar(8)       NOT NULL,
    mode            varchar(16)      NOT NULL,
    competences     varchar(2000)    NOT NULL,
    effective_on    date             NOT NULL,
    dry_run         bit              NOT NULL,
    content_sha256  char(64)         NOT NULL,
    status          varchar(16)      NOT NULL,
    report          nvarchar(max)    NULL,
    is_admin        bit              NOT NULL,
    body_file       nvarchar(500)    NULL,
    lease_until     datetimeoffset   NULL,
    created_at      datetimeoffset   NOT NULL,
    finished_at     datetimeoffset   NULL
);
CREATE INDEX ix_import_job_content ON import_job (delegator_id, content_sha256);
CREATE INDEX ix_import_job_status ON import_job (status, created_at);

-- What each applied push sent, record by record: for reconciliation (what was never sent, what is held differently since).
CREATE TABLE import_record (
    job_id          uniqueidentifier NOT NULL,
    line            int NOT NULL,
    external_ref    nvarchar(100) NOT NULL,
    delegation_id   uniqueidentifier NOT NULL,
    start_on        date NOT NULL,
    end_on          date NOT NULL,
    communes_sha256 char(64) NOT NULL,
    PRIMARY KEY (job_id, line)
);
CREATE INDEX ix_import_record_ref ON import_record (external_ref);
