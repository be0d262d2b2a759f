"""Asking a cron to run soon, as the system.

A trigger row names whoever created it (``create_uid``). While a cron job runs, Odoo
keeps the trigger rows it consumed deleted but uncommitted in the job's outer
transaction, for the whole pass; deleting the user who created one must then set its
``create_uid`` to NULL, and waits for that transaction. The pass may itself be waiting
for the deletion (a run writing its result meets the rows the deletion locked), and
since the last wait is inside one Python thread PostgreSQL sees no deadlock: both hang
for good. Triggers made as the superuser, who is never deleted, take no part in it.
"""

from odoo import SUPERUSER_ID


def trigger_soon(cron, at=None):
    """``cron._trigger(at)``, the trigger row created by the superuser."""
    return cron.with_user(SUPERUSER_ID)._trigger(at)
