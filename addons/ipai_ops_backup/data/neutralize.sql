-- A neutralized copy of a control-plane database must never write backups into
-- production's storage or restore anything: no scheduled backups, no targets.
UPDATE ipai_ops_environment SET backup_enabled = false;
UPDATE ipai_ops_backup_target SET active = false;
