-- Webhooks and the event feed (#15). outbox_event gains:
--   seq       insertion order (two events of one transaction share a time and their UUIDv7 order is random);
--   position  commit order, given by the sequencer after commit: the feed cursor and the delivery order.
ALTER TABLE outbox_event ADD seq bigint IDENTITY(1,1) NOT NULL;
ALTER TABLE outbox_event ADD position bigint NULL;
CREATE UNIQUE INDEX ux_outbox_event_seq ON outbox_event (seq);
CREATE UNIQUE INDEX ux_outbox_event_position ON outbox_event (position) WHERE position IS NOT NULL;
CREATE INDEX ix_outbox_event_unsequenced ON outbox_event (seq) WHERE position IS NULL;

CREATE TABLE event_sequencer (
    id             integer NOT NULL PRIMARY KEY,
    last_position  bigint NOT NULL
);
INSERT INTO event_sequencer (id, last_position) VALUES (1, 0);

-- Who may see each event (resolved once, when sequenced): the feed and the subscriptions read it.
CREATE TABLE event_audience (
    organisation_id  uniqueidentifier    NOT NULL,
    position         bigint NOT NULL,
    event_id         uniqueidentifier    NOT NULL REFERENCES outbox_event (id),
    PRIMARY KEY (organisation_id, position)
);
CREATE INDEX ix_event_audience_event ON event_audience (event_id);

CREATE TABLE webhook_subscription (
    id                     uniqueidentifier    NOT NULL PRIMARY KEY,
    organisation_id        uniqueidentifier    NOT NULL REFERENCES organisation (id),
    url                    varchar(2000)    NOT NULL,
    event_types            varchar(1000)    NOT NULL,
    description            nvarchar(500)    NULL,
    secret                 varchar(100)    NOT NULL,
    previous_secret        varchar(100)    NULL,
    previous_secret_until  datetimeoffset    NULL,
    status                 varchar(16)    NOT NULL,
    disabled_reason        nvarchar(500)    NULL,
    disabled_at            datetimeoffset    NULL,
    failing_since          datetimeoffset    NULL,
    version                integer NOT NULL,
    created_at             datetimeoffset    NOT NULL,
    updated_at             datetimeoffset    NOT NULL
);
CREATE INDEX ix_webhook_subscription_organisation ON webhook_subscription (organisation_id, status);

CREATE TABLE webhook_delivery (
    id                uniqueidentifier    NOT NULL PRIMARY KEY,
    subscription_id   uniqueidentifier    NOT NULL REFERENCES webhook_subscription (id),
    event_id          uniqueidentifier    NOT NULL REFERENCES outbox_event (id),
    position          bigint NOT NULL,
    resource_id       uniqueidentifier    NOT NULL,
    status            varchar(16)    NOT NULL,
    attempts          integer NOT NULL,
    next_attempt_at   datetimeoffset    NOT NULL,
    leased_until      datetimeoffset    NULL,
    lease_owner       varchar(100)    NULL,
    last_status_code  integer NULL,
    last_error        nvarchar(500)    NULL,
    created_at        datetimeoffset    NOT NULL,
    delivered_at      datetimeoffset    NULL
);
CREATE UNIQUE INDEX ux_webhook_delivery_event ON webhook_delivery (subscription_id, event_id);
CREATE INDEX ix_webhook_delivery_due ON webhook_delivery (subscription_id, status, next_attempt_at, position);
CREATE INDEX ix_webhook_delivery_order ON webhook_delivery (subscription_id, resource_id, position);

CREATE TABLE webhook_attempt (
    id                uniqueidentifier    NOT NULL PRIMARY KEY,
    delivery_id       uniqueidentifier    NOT NULL REFERENCES webhook_delivery (id),
    subscription_id   uniqueidentifier    NOT NULL,
    event_id          uniqueidentifier    NOT NULL,
    attempt_no        integer NOT NULL,
    attempted_at      datetimeoffset    NOT NULL,
    outcome           varchar(16)    NOT NULL,
    status_code       integer NULL,
    latency_ms        integer NOT NULL,
    error             nvarchar(500)    NULL,
    response_excerpt  nvarchar(500)    NULL,
    dispatcher        varchar(100)    NOT NULL
);
CREATE INDEX ix_webhook_attempt_subscription ON webhook_attempt (subscription_id, attempted_at, id);
CREATE INDEX ix_webhook_attempt_delivery ON webhook_attempt (delivery_id);
