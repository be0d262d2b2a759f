def reopen(wizard) -> dict:
    """The action showing ``wizard`` again, refreshed, in the main window."""
    return {
        "type": "ir.actions.act_window",
        "res_model": wizard._name,
        "res_id": wizard.id,
        "view_mode": "form",
        "target": "current",
    }
