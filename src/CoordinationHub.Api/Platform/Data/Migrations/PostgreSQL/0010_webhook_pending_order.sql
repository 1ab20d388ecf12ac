-- Webhooks (#15), performance: a delivery is leased only when no older delivery of its resource is
-- pending for that subscription. That check now reads the pending rows of the resource only, not its
-- whole delivered history (which grows with every event until the retention purge).
CREATE INDEX ix_webhook_delivery_pending_order ON webhook_delivery (subscription_id, resource_id, position) WHERE status = 'PENDING';
DROP INDEX ix_webhook_delivery_order;
