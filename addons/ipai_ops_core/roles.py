"""Who may do what: project roles, environment stages and the rules between them.

Modelled on Odoo.sh's collaborator levels: developers act on development
environments, testers also on staging, project admins on everything including
production and membership. Ops administrators (the global group) act everywhere.
Plain Python, so other addons and the tests share one definition.
"""

ROLES = [
    ("viewer", "Viewer"),
    ("developer", "Developer"),
    ("tester", "Tester"),
    ("admin", "Admin"),
]
ROLE_RANK = {code: rank for rank, (code, _label) in enumerate(ROLES)}

STAGES = [
    ("production", "Production"),
    ("staging", "Staging"),
    ("development", "Development"),
]
# the least role that may act on an environment of each stage
STAGE_MIN_ROLE = {"development": "developer", "staging": "tester", "production": "admin"}
# stages by how much they protect (the higher of two applies to data that has both)
STAGE_RANK = {"development": 0, "staging": 1, "production": 2}


def required_role(stage: str, kind_min_role: str = "developer") -> str:
    """The least project role that may run an operation of a kind on a stage.

    A kind can ask for more than its stage does (dropping a database needs an
    admin even on development); it can never ask for less.
    """
    stage_role = STAGE_MIN_ROLE[stage]
    return max(stage_role, kind_min_role, key=ROLE_RANK.__getitem__)


def role_allows(role: str | None, stage: str, kind_min_role: str = "developer") -> bool:
    """Whether a member with ``role`` (None: not a member) may run that operation there."""
    if role is None:
        return False
    return ROLE_RANK[role] >= ROLE_RANK[required_role(stage, kind_min_role)]
