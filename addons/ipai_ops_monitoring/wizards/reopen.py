def reopen(wizard) -> dict:
    """The action showing ``wizard`` again, refreshed, in the main window."""
    return {
        "type": "ir.actions.act_window",
        "res_model": wizard._name,
        "res_id": wizard.id,
        "view_mode": "form",
        "target": "current",
    }


def titled(wizards, title: str, subject_field: str) -> None:
    """Name report wizards for the breadcrumb: "Top queries · Production", not
    "ipai.ops.top.queries,1"."""
    for wizard in wizards:
        subject = wizard[subject_field]
        wizard.display_name = f"{title} · {subject.display_name}" if subject else title
