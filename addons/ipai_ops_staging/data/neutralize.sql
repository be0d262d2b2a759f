-- A neutralized copy of the control plane cannot tie its masked values to
-- production's: the projects' masking keys stay with the control plane.
UPDATE ipai_ops_project SET mask_key = NULL;
