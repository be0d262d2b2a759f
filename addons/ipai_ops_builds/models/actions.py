def form_action(record, *, dialog: bool = False) -> dict:
    """The window action showing ``record`` in its form (in a dialog when asked)."""
    action = {
        "type": "ir.actions.act_window",
        "res_model": record._name,
        "res_id": record.id,
        "view_mode": "form",
        "views": [(False, "form")],
    }
    return {**action, "target": "new"} if dialog else action
