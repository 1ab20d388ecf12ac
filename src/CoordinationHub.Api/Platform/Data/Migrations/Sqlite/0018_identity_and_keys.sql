-- Identity and keys (#27). A key may expire; every change to a key bumps its version, so that an instance sees
-- within a second that one of its cached keys changed (revoked, rotated, rescoped); the expiry warning is sent once.
ALTER TABLE api_key ADD COLUMN expires_at TEXT NULL;
ALTER TABLE api_key ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_key ADD COLUMN expiry_warned_at TEXT NULL;
CREATE INDEX ix_api_key_organisation ON api_key (organisation_id, created_at);

-- What an organisation's agents and machine clients may be granted through tokens of an OpenID Connect issuer,
-- and whether reading the person's data needs an authenticated agent.
CREATE TABLE organisation_access (
    organisation_id             TEXT    NOT NULL PRIMARY KEY REFERENCES organisation (id),
    scopes                      TEXT    NOT NULL,
    require_authenticated_agent INTEGER NOT NULL,
    version                     INTEGER NOT NULL,
    updated_at                  TEXT    NOT NULL
);

-- The issuer that authenticated the agent of an access (null: the agent was declared by the calling software).
ALTER TABLE person_access ADD COLUMN agent_issuer TEXT NULL;

-- The agent an issuer authenticated behind an audited change ("<issuer>:<subject>", a pseudonymous id; null: none proven).
ALTER TABLE audit_event ADD COLUMN agent_subject TEXT NULL;
