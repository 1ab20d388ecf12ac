-- Operators see inside (#27). An event keeps the W3C traceparent of the request that wrote it, so that its webhook
-- deliveries are traced in the same trace; and audit rows are purged by age (Retention:AuditDays), in batches, by date; events
-- by position, their deliveries found by event.
ALTER TABLE outbox_event ADD trace_parent varchar(55) NULL;
CREATE INDEX ix_audit_event_occurred ON audit_event (occurred_at);
CREATE INDEX ix_webhook_delivery_event ON webhook_delivery (event_id);
