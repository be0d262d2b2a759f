-- A neutralized copy of a control-plane database must not sample production's
-- servers or page anyone: monitoring off, alerts closed.
UPDATE ipai_ops_environment SET monitoring_enabled = false;
UPDATE ipai_ops_alert SET state = 'closed' WHERE state = 'open';
