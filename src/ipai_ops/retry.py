"""Which failures are worth trying again, and when.

A nightly backup should not be lost to a server restarting, a network blip, a
deadlock or a serialization failure with a concurrent transaction: those are
*transient* — the same operation, started again a little later, succeeds. Every
other failure (a missing database, a corrupt set, a refused privilege, a full
disk) is *permanent*: trying again changes nothing, and the run fails at once.

Operations are safe to start again: each builds under scratch names and
publishes atomically, so a failed attempt leaves nothing behind.
"""

from __future__ import annotations

import random

import psycopg2

from .errors import ClientToolError, DatabaseMissing, OpsError, ServerUnreachable

BACKOFF_BASE = 30  # seconds before the second attempt; doubled for each one after
BACKOFF_CAP = 900  # seconds: never wait longer than this between two attempts
JITTER = 0.2  # +/- share of the delay, so retries of many runs do not all fire at once

# SQLSTATEs that mean "concurrency or availability", not "this cannot work"
TRANSIENT_SQLSTATES = frozenset({
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout)
    "55006",  # object_in_use: "database is being accessed by other users" during a swap
    "57P01",  # admin_shutdown: the server is restarting
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now: the server is starting up
    "08000", "08003", "08006", "08001", "08004",  # connection exceptions
})  # fmt: skip
# what client tools print when the server went away under them, or for the same SQLSTATEs
TRANSIENT_TOOL_MESSAGES = (
    "server closed the connection unexpectedly",
    "terminating connection due to administrator command",
    "could not connect to server",
    "connection to server at",
    "the database system is shutting down",
    "the database system is starting up",
    "deadlock detected",
    "could not serialize access",
    "canceling statement due to lock timeout",
    "is being accessed by other users",
)


def is_transient(error: BaseException) -> bool:
    """Whether starting the same operation again later may succeed."""
    if isinstance(error, (DatabaseMissing, ServerUnreachable)):
        return isinstance(error, ServerUnreachable)  # missing: the server said so
    if isinstance(error, psycopg2.Error):
        if error.pgcode:
            return error.pgcode in TRANSIENT_SQLSTATES
        return isinstance(error, psycopg2.OperationalError)  # no SQLSTATE: the link broke
    if isinstance(error, ClientToolError):
        text = str(error).lower()
        return any(sign in text for sign in TRANSIENT_TOOL_MESSAGES)
    # an engine error raised "from" another is as transient as its cause; one raised
    # "from None" was classified where it was raised (a refused password is no blip)
    cause = error.__cause__
    return isinstance(error, OpsError) and cause is not None and is_transient(cause)


def backoff(attempt: int, *, rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (``attempt`` >= 1 has failed)."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
    spread = (rng or random).uniform(-JITTER, JITTER)
    return max(1.0, delay * (1 + spread))
