-- Webhooks and the event feed (#15). outbox_event gains:
--   seq       insertion order (two events of one transaction share a time and their UUIDv7 order is random);
--   position  commit order, given by the sequencer after commit: the feed cursor and the delivery order.
ALTER TABLE outbox_event ADD COLUMN seq INTEGER NULL;
ALTER TABLE outbox_event ADD COLUMN position INTEGER NULL;
UPDATE outbox_event SET seq = rowid;
CREATE TRIGGER tr_outbox_event_seq AFTER INSERT ON outbox_event FOR EACH ROW WHEN NEW.seq IS NULL
BEGIN
    UPDATE outbox_event SET seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox_event) WHERE id = NEW.id;
END;
CREATE UNIQUE INDEX ux_outbox_event_seq ON outbox_event (seq);
CREATE UNIQUE INDEX ux_outbox_event_position ON outbox_event (position) WHERE position IS NOT NULL;
CREATE INDEX ix_outbox_event_unsequenced ON outbox_event (seq) WHERE position IS NULL;

-- One row: the last position given. The sequencer locks it, so sequencers of several instances take turns.
CREATE TABLE event_sequencer (
    id             INTEGER NOT NULL PRIMARY KEY,
    last_position  INTEGER NOT NULL
);
INSERT INTO event_sequencer (id, last_position) VALUES (1, 0);

-- Who may see each event (resolved once, when sequenced): the feed and the subscriptions read it.
CREATE TABLE event_audience (
    organisation_id  TEXT    NOT NULL,
    position         INTEGER NOT NULL,
    event_id         TEXT    NOT NULL REFERENCES outbox_event (id),
    PRIMARY KEY (organisation_id, position)
);
CREATE INDEX ix_event_audience_event ON event_audience (event_id);

CREATE TABLE webhook_subscription (
    id                     TEXT    NOT NULL PRIMARY KEY,
    organisation_id        TEXT    NOT NULL REFERENCES organisation (id),
    url                    TEXT    NOT NULL,
    event_types            TEXT    NOT NULL,
    description            TEXT    NULL,
    secret                 TEXT    NOT NULL,
    previous_secret        TEXT    NULL,
    previous_secret_until  TEXT    NULL,
    status                 TEXT    NOT NULL,
    disabled_reason        TEXT    NULL,
    disabled_at            TEXT    NULL,
    failing_since          TEXT    NULL,
    version                INTEGER NOT NULL,
    created_at             TEXT    NOT NULL,
    updated_at             TEXT    NOT NULL
);
CREATE INDEX ix_webhook_subscription_organisation ON webhook_subscription (organisation_id, status);

CREATE TABLE webhook_delivery (
    id                TEXT    NOT NULL PRIMARY KEY,
    subscription_id   TEXT    NOT NULL REFERENCES webhook_subscription (id),
    event_id          TEXT    NOT NULL REFERENCES outbox_event (id),
    position          INTEGER NOT NULL,
    resource_id       TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    attempts          INTEGER NOT NULL,
    next_attempt_at   TEXT    NOT NULL,
    leased_until      TEXT    NULL,
    lease_owner       TEXT    NULL,
    last_status_code  INTEGER NULL,
    last_error        TEXT    NULL,
    created_at        TEXT    NOT NULL,
    delivered_at      TEXT    NULL
);
CREATE UNIQUE INDEX ux_webhook_delivery_event ON webhook_delivery (subscription_id, event_id);
CREATE INDEX ix_webhook_delivery_due ON webhook_delivery (subscription_id, status, next_attempt_at, position);
CREATE INDEX ix_webhook_delivery_order ON webhook_delivery (subscription_id, resource_id, position);

CREATE TABLE webhook_attempt (
    id                TEXT    NOT NULL PRIMARY KEY,
    delivery_id       TEXT    NOT NULL REFERENCES webhook_delivery (id),
    subscription_id   TEXT    NOT NULL,
    event_id          TEXT    NOT NULL,
    attempt_no        INTEGER NOT NULL,
    attempted_at      TEXT    NOT NULL,
    outcome           TEXT    NOT NULL,
    status_code       INTEGER NULL,
    latency_ms        INTEGER NOT NULL,
    error             TEXT    NULL,
    response_excerpt  TEXT    NULL,
    dispatcher        TEXT    NOT NULL
);
CREATE INDEX ix_webhook_attempt_subscription ON webhook_attempt (subscription_id, attempted_at, id);
CREATE INDEX ix_webhook_attempt_delivery ON webhook_attempt (delivery_id);
