"""The engine's exceptions.

Every expected failure is an :class:`OpsError` with a message written for the
person who has to fix it. Callers turn them into a ``UserError`` (addons) or a
clean message and exit code (CLI); nothing here is meant to reach a user as a
traceback.
"""


class OpsError(Exception):
    """Base of every expected engine failure."""

    #: exit code of the ``ipai-ops`` command for this failure
    exit_code = 1


class InvalidName(OpsError, ValueError):
    """A database or other identifier that we refuse to use."""

    exit_code = 4


class ConnectionFailed(OpsError):
    """The PostgreSQL server could not be reached or refused us."""

    exit_code = 3


class ServerUnreachable(ConnectionFailed):
    """Nothing answers at the configured host and port."""


class AuthenticationFailed(ConnectionFailed):
    """The server answered but did not accept the role or its password."""


class DatabaseMissing(ConnectionFailed):
    """The server is reachable but the database does not exist."""


class ClientToolError(OpsError):
    """A PostgreSQL client tool is missing, too old, or failed."""


class StorageError(OpsError):
    """The storage target is unusable: missing, refused, full or corrupt."""


class BackupCorrupt(StorageError):
    """A backup set does not match its manifest (truncated, altered or incomplete)."""

    exit_code = 5


class BackupNotFound(StorageError):
    """No backup set with that id on the storage target."""

    exit_code = 6


class ProtectedDatabase(OpsError):
    """The operation would drop or overwrite a production database."""

    exit_code = 7


class DatabaseExists(OpsError):
    """The operation would create a database that already exists."""

    exit_code = 8


class NeutralizationFailed(OpsError):
    """A copy could not be neutralized, or a guarantee does not hold afterwards."""

    exit_code = 9


class MaskingFailed(OpsError):
    """Personal data could not be masked, or an original value survived."""

    exit_code = 10


class PrivilegeMissing(OpsError):
    """The engine's role lacks a privilege the operation needs."""

    exit_code = 3


class PathNotAllowed(OpsError, ValueError):
    """A file system path outside the roots an administrator configured."""

    exit_code = 4


class SecretUnavailable(OpsError):
    """A secret referenced from the host (environment variable or file) cannot be read."""

    exit_code = 3


class OwnerCodeRefused(OpsError):
    """A database holds code of its owner's where the engine would run it with its own
    rights (a view in place of one of Odoo's tables, a row security policy): refused."""

    exit_code = 12


class NotAnOdooDatabase(OpsError):
    """An operation that works on Odoo's tables was given a database without them."""

    exit_code = 13


class RuntimeHostError(OpsError):
    """A runtime host's Docker engine could not do what an instance needs.

    ``log``: the whole log of what failed (an image build, a one-off Odoo command, a
    container that never became healthy), kept with the run; the message quotes its end.
    """

    exit_code = 11

    def __init__(self, *args, log: str | None = None):
        super().__init__(*args)
        self.log = log


class EngineUnreachable(RuntimeHostError):
    """No Docker engine answers at the runtime host's endpoint."""


class ImageBuildFailed(RuntimeHostError):
    """An environment's image could not be built; the message ends with the build log's tail."""


class PortInUse(RuntimeHostError):
    """The HTTP port an instance needs is taken, or the host's port range is exhausted."""


class InstanceNotFound(RuntimeHostError):
    """No container managed by ipai-ops runs this environment on the host."""


class InstanceFailed(RuntimeHostError):
    """An instance (or a one-off Odoo command) exited with an error or never became healthy."""
