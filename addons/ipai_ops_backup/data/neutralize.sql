-- A neutralized copy of a control-plane database must never write backups into
-- production's storage or restore anything: no scheduled backups, no targets.
UPDATE ipai_ops_environment SET backup_enabled = false;
UPDATE ipai_ops_backup_target SET active = false;
-- Storage credentials stored in the database do not travel into copies (references do).
UPDATE ipai_ops_backup_target SET storage_options = NULL
 WHERE storage_options NOT LIKE 'env:%' AND storage_options NOT LIKE 'file:%';
