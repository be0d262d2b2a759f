"""The registry of run kinds: what each operation is, who may start it, where its work lives.

A kind is data, declared once by the addon that provides it (in its
``ipai.ops.run._run_kinds()`` extension). A run stores only the kind's code and,
at creation, its label: uninstalling an addon removes its kinds from the
registry while its runs stay readable history.

The work itself lives on a business model: the executor calls
``env[kind.model].<kind.method>(run)``, which returns ``{"summary": str,
"result": dict}`` or raises (an ``OpsError`` fails the run with its message, a
transient one is retried). ``on_failure``, if any, is called the same way with
the error, in the transaction that records the failure.
"""

from dataclasses import dataclass

from .roles import ROLE_RANK, required_role

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RETENTION_DAYS = 3650  # runs of a kind that says nothing: ten years


@dataclass(frozen=True)
class RunKind:
    code: str
    label: str
    model: str  # the business model whose method does the work
    method: str  # called as env[model].<method>(run)
    min_role: str = "developer"  # the least project role, on top of the stage's own
    on_failure: str | None = None  # env[model].<on_failure>(run, error)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS  # transient failures are retried up to this
    retention_days: int = DEFAULT_RETENTION_DAYS  # finished runs kept this long
    in_operations_log: bool = True  # routine samples are left out of the Runs list
    priority: int = 10  # lower runs first

    def __post_init__(self):
        if self.min_role not in ROLE_RANK:
            raise ValueError(f"run kind {self.code}: unknown role {self.min_role!r}")
        if self.max_attempts < 1 or self.retention_days < 1:
            raise ValueError(f"run kind {self.code}: attempts and retention must be positive")

    def role_for(self, stage: str) -> str:
        """The least project role that may start this kind on an environment of ``stage``."""
        return required_role(stage, self.min_role)
