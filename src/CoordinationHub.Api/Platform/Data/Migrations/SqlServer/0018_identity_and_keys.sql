-- Identity and keys (#27). A key may expire; every change to a key bumps its version, so that an instance sees
-- within a second that one of its cached keys changed (revoked, rotated, rescoped); the expiry warning is sent once.
ALTER TABLE api_key ADD expires_at datetimeoffset NULL;
ALTER TABLE api_key ADD version int NOT NULL DEFAULT 0;
ALTER TABLE api_key ADD expiry_warned_at datetimeoffset NULL;
CREATE INDEX ix_api_key_organisation ON api_key (organisation_id, created_at);

-- What an organisation's agents and machine clients may be granted through tokens of an OpenID Connect issuer,
-- and whether reading the person's data needs an authenticated agent.
CREATE TABLE organisation_access (
    organisation_id             uniqueidentifier NOT NULL PRIMARY KEY REFERENCES organisation (id),
    scopes                      nvarchar(max)    NOT NULL,
    require_authenticated_agent bit              NOT NULL,
    version                     int              NOT NULL,
    updated_at                  datetimeoffset   NOT NULL
);

-- The issuer that authenticated the agent of an access (null: the agent was declared by the calling software).
ALTER TABLE person_access ADD agent_issuer nvarchar(400) NULL;

-- The agent an issuer authenticated behind an audited change ("<issuer>:<subject>", a pseudonymous id; null: none proven).
ALTER TABLE audit_event ADD agent_subject nvarchar(400) NULL;
