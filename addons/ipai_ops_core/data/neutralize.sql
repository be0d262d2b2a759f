-- A neutralized copy of the control plane keeps no credential of the servers it
-- managed: stored passwords are cleared (references to the host's secrets stay,
-- they are not secrets themselves), and nothing may be executed from it.
UPDATE ipai_ops_db_server SET password = NULL;
