"""The ``neutralize`` operation: a copy of production that can do no harm.

Two layers, in one transaction on the copy, before anyone can log in:

1. Odoo's own: the ``data/neutralize.sql`` of every installed module, read from
   the environment's code. A module installed in the database whose source is not
   in the addons path makes the operation *fail* (Odoo itself silently skips it,
   leaving whatever that module would have disabled active).
2. Ours: queued mails and SMS cancelled, incoming mail servers off, outgoing mail
   routed to a catcher (or to nowhere), every cron off but an allow-list, payment
   providers and carriers out of production, webhooks and IAP tokens disabled, a
   new database UUID and the copy's own base URL.

Then every guarantee is checked with SQL and reported; one that does not hold
fails the operation, and the caller drops the copy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import psycopg2
from psycopg2 import sql

from .check import require_odoo_database
from .connection import ServerSpec, connection
from .errors import NeutralizationFailed
from .guards import refuse_production
from .identifiers import database_identifier

DEFAULT_CRON_ALLOWLIST = ("base.autovacuum_job",)
CATCHER_NAME = "ipai-ops mail catcher"
DUMMY_SMTP_HOST = "invalid"  # the host Odoo's own neutralization routes mail to


@dataclass
class NeutralizationReport:
    modules_neutralized: list[str] = field(default_factory=list)
    actions: dict[str, int] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.checks.values())

    @property
    def summary(self) -> str:
        failed = [name for name, ok in self.checks.items() if not ok]
        if failed:
            return f"Neutralization checks FAILED: {', '.join(failed)}."
        return (
            f"Neutralized: {len(self.modules_neutralized)} modules' neutralize.sql, "
            f"{self.actions.get('mails_cancelled', 0)} queued mails cancelled, "
            f"{self.actions.get('crons_disabled', 0)} crons disabled; "
            f"{len(self.checks)} checks passed."
        )


def find_module_sources(modules: list[str], addons_paths: list[str]) -> dict[str, str]:
    """Directory of each module in the addons path; raise when one is missing."""
    found, missing = {}, []
    for module in modules:
        for path in addons_paths:
            candidate = os.path.join(path, module)
            if os.path.isfile(os.path.join(candidate, "__manifest__.py")):
                found[module] = candidate
                break
        else:
            missing.append(module)
    if missing:
        raise NeutralizationFailed(
            f"Installed module(s) {', '.join(sorted(missing))} have no source in the addons "
            f"path ({', '.join(addons_paths) or 'empty'}): their neutralization cannot run, so "
            "the copy is not safe to use. Add their code to the environment's addons path."
        )
    return found


def neutralize_database(
    spec: ServerSpec,
    database: str,
    *,
    addons_paths: list[str],
    base_url: str | None = None,
    mail_catcher: tuple[str, int] | None = None,
    cron_allowlist: tuple[str, ...] = DEFAULT_CRON_ALLOWLIST,
    mail_login: str | None = None,
    mail_password: str | None = None,
    as_role: ServerSpec | None = None,
) -> NeutralizationReport:
    """Neutralize ``database`` (a copy) and verify it; raise NeutralizationFailed if unsafe.

    :param mail_login: the name the copy logs in with at the mail catcher, which files its
        mails under it: the copy's final database name (``database`` may be a scratch name)
    :param as_role: the login of the role the copy belongs to. The modules' scripts come
        with the code, which whoever pushes a branch writes: they then run logged in as
        that role, never as ``spec``'s (a ``SET ROLE`` would not hold: a script can
        ``RESET`` it)
    """
    with connection(spec.for_database("postgres")) as admin:
        refuse_production(admin, database, "neutralize")
        require_odoo_database(spec, database, "neutralize")
        if as_role is not None:
            _let_connect(admin, database, as_role.user)
    report = NeutralizationReport()
    conn = connection((as_role or spec).for_database(database), autocommit=False)
    with conn as db:
        try:
            with db.cursor() as cur:
                _run_module_scripts(cur, addons_paths, report)
                _project_layer(cur, report, base_url, mail_catcher, cron_allowlist)
                if mail_catcher:
                    _log_in_to_the_catcher_as(cur, mail_login or database, mail_password)
            db.commit()
        except psycopg2.Error as exc:
            db.rollback()
            raise NeutralizationFailed(f"Neutralization of {database} failed: {exc}") from None
        with db.cursor() as cur:
            report.checks = verify_neutralized(cur, mail_catcher, cron_allowlist)
        db.rollback()
    if not report.ok:
        raise NeutralizationFailed(report.summary)
    return report


def _let_connect(admin, database: str, role: str) -> None:
    """A copy being built is closed to all but its builder; its role may run its scripts."""
    with admin.cursor() as cur:
        cur.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                database_identifier(database), sql.Identifier(role)
            )
        )


def _run_module_scripts(cur, addons_paths: list[str], report: NeutralizationReport) -> None:
    cur.execute(
        "SELECT name FROM ir_module_module WHERE state IN ('installed', 'to upgrade', 'to remove')"
        " ORDER BY name"
    )
    modules = [row[0] for row in cur.fetchall()]
    for module, path in find_module_sources(modules, addons_paths).items():
        script = os.path.join(path, "data", "neutralize.sql")
        if os.path.isfile(script):
            with open(script, encoding="utf-8") as handle:
                cur.execute(handle.read())
            report.modules_neutralized.append(module)


def _has(cur, table: str, column: str | None = None) -> bool:
    if column is None:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{table}",))
    else:
        cur.execute(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = %s AND column_name = %s)",
            (table, column),
        )
    return cur.fetchone()[0]


# (what it counts, the table it needs, the statement): our layer beside Odoo's scripts
PROJECT_STATEMENTS = [
    ("mails_cancelled", "mail_mail",
     "UPDATE mail_mail SET state = 'cancel' WHERE state IN ('outgoing', 'exception')"),
    ("sms_cancelled", "sms_sms",
     "UPDATE sms_sms SET state = 'canceled' WHERE state NOT IN ('sent', 'canceled')"),
    ("incoming_servers_disabled", "fetchmail_server",
     "UPDATE fetchmail_server SET active = false WHERE active"),
    ("crons_disabled", "ir_cron",
     "UPDATE ir_cron SET active = false WHERE active AND id NOT IN ("
     " SELECT res_id FROM ir_model_data WHERE model = 'ir.cron'"
     " AND module || '.' || name = ANY(%(allow)s))"),
    ("payment_providers_disabled", "payment_provider",
     "UPDATE payment_provider SET state = 'disabled' WHERE state NOT IN ('test', 'disabled')"),
    ("carriers_to_test", "delivery_carrier.prod_environment",
     "UPDATE delivery_carrier SET prod_environment = false WHERE prod_environment"),
    ("iap_tokens_disabled", "iap_account",
     "UPDATE iap_account SET account_token = account_token || '+disabled'"
     " WHERE account_token NOT LIKE '%%+disabled'"),
    ("webhooks_disabled", "ir_act_server",
     "UPDATE ir_act_server SET webhook_url = 'neutralization - disable webhook'"
     " WHERE state = 'webhook'"
     " AND webhook_url IS DISTINCT FROM 'neutralization - disable webhook'"),
    # secrets: with production's, a copy's admin could forge tokens valid on production
    # or reach its mail, payment and API accounts
    ("smtp_passwords_cleared", "ir_mail_server.smtp_pass",
     "UPDATE ir_mail_server SET smtp_pass = NULL WHERE smtp_pass IS NOT NULL"),
    ("incoming_passwords_cleared", "fetchmail_server.password",
     "UPDATE fetchmail_server SET password = NULL WHERE password IS NOT NULL"),
    ("api_keys_revoked", "res_users_apikeys", "DELETE FROM res_users_apikeys"),
    ("oauth_secrets_cleared", "auth_oauth_provider.client_secret",
     "UPDATE auth_oauth_provider SET client_secret = NULL WHERE client_secret IS NOT NULL"),
    ("secret_parameters_cleared", "ir_config_parameter",
     "UPDATE ir_config_parameter SET value = '' WHERE key ~* %(secret_keys)s"
     " AND key NOT IN ('database.secret', 'database.uuid') AND value <> ''"),
    ("database_secret_renewed", "ir_config_parameter",
     "UPDATE ir_config_parameter SET value = gen_random_uuid()::text"
     " WHERE key = 'database.secret'"),
]  # fmt: skip
# system parameters whose value is a credential (API keys, tokens, client secrets)
SECRET_PARAMETER_KEYS = r"(secret|password|passwd|api[_.-]?key|token|private[_.-]?key)"  # noqa: S105


def _has_target(cur, target: str) -> bool:
    """``table`` or ``table.column`` exists (modules add them; the copy may lack them)."""
    table, _, column = target.partition(".")
    return _has(cur, table, column or None)


def _project_layer(cur, report, base_url, mail_catcher, cron_allowlist) -> None:
    for key, target, statement in PROJECT_STATEMENTS:
        if _has_target(cur, target):
            cur.execute(
                statement, {"allow": list(cron_allowlist), "secret_keys": SECRET_PARAMETER_KEYS}
            )
            report.actions[key] = cur.rowcount
    _route_outgoing_mail(cur, report, mail_catcher)
    _set_parameters(cur, base_url)


def _route_outgoing_mail(cur, report, mail_catcher) -> None:
    if not _has(cur, "ir_mail_server"):
        return
    cur.execute("UPDATE ir_mail_server SET active = false WHERE active")
    report.actions["outgoing_servers_disabled"] = cur.rowcount
    host, port = mail_catcher or (DUMMY_SMTP_HOST, 1025)
    name = CATCHER_NAME if mail_catcher else "neutralization - disable emails"
    cur.execute(
        "INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_encryption,"
        " smtp_authentication, active, sequence) VALUES (%s, %s, %s, 'none', 'login', true, 0)",
        (name, host, port),
    )


def _log_in_to_the_catcher_as(cur, login: str, password: str | None) -> None:
    """The catcher files each mail under the login: the copy's name, with the password
    the control plane granted it (see :func:`ipai_ops.mail_catcher.grant_login`)."""
    if _has(cur, "ir_mail_server", "smtp_user"):
        cur.execute(
            "UPDATE ir_mail_server SET smtp_user = %s WHERE active AND name = %s",
            (login, CATCHER_NAME),
        )
    if password and _has(cur, "ir_mail_server", "smtp_pass"):
        cur.execute(
            "UPDATE ir_mail_server SET smtp_pass = %s WHERE active AND name = %s",
            (password, CATCHER_NAME),
        )


def _set_parameters(cur, base_url) -> None:
    values = {"database.is_neutralized": "True"}
    if base_url:
        values |= {"web.base.url": base_url, "web.base.url.freeze": "True"}
    for key, value in values.items():
        cur.execute(
            "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (key, value),
        )
    cur.execute(
        "UPDATE ir_config_parameter SET value = gen_random_uuid()::text WHERE key = 'database.uuid'"
    )


def verify_neutralized(cur, mail_catcher=None, cron_allowlist=DEFAULT_CRON_ALLOWLIST) -> dict:
    """Every guarantee, checked with SQL on the copy: name -> holds."""
    host = mail_catcher[0] if mail_catcher else DUMMY_SMTP_HOST
    checks = {
        "no queued outgoing mail": ("mail_mail",
            "SELECT count(*) = 0 FROM mail_mail WHERE state IN ('outgoing', 'exception')"),
        "no queued SMS": ("sms_sms",
            "SELECT count(*) = 0 FROM sms_sms WHERE state NOT IN ('sent', 'canceled')"),
        "no incoming mail server active": ("fetchmail_server",
            "SELECT count(*) = 0 FROM fetchmail_server WHERE active"),
        "outgoing mail only to the catcher": ("ir_mail_server",
            "SELECT count(*) > 0 AND bool_and(smtp_host = %(host)s)"
            " FROM ir_mail_server WHERE active"),
        "only allow-listed crons active": ("ir_cron",
            "SELECT count(*) = 0 FROM ir_cron c WHERE c.active AND NOT EXISTS ("
            " SELECT 1 FROM ir_model_data d WHERE d.model = 'ir.cron' AND d.res_id = c.id"
            " AND d.module || '.' || d.name = ANY(%(allow)s))"),
        "no payment provider live": ("payment_provider",
            "SELECT count(*) = 0 FROM payment_provider WHERE state NOT IN ('test', 'disabled')"),
        "no IAP token usable": ("iap_account",
            "SELECT count(*) = 0 FROM iap_account WHERE account_token NOT LIKE '%%+disabled'"),
        "no webhook reachable": ("ir_act_server",
            "SELECT count(*) = 0 FROM ir_act_server WHERE state = 'webhook'"
            " AND webhook_url IS DISTINCT FROM 'neutralization - disable webhook'"),
        "marked neutralized": ("ir_config_parameter",
            "SELECT count(*) = 1 FROM ir_config_parameter"
            " WHERE key = 'database.is_neutralized' AND lower(value) = 'true'"),
    }  # fmt: skip
    checks |= {
        "no SMTP password kept but the catcher's": ("ir_mail_server.smtp_pass",
            "SELECT count(*) = 0 FROM ir_mail_server WHERE coalesce(smtp_pass, '') <> ''"
            " AND NOT (name = %(catcher)s AND smtp_host = %(host)s)"),
        "no incoming mail password kept": ("fetchmail_server.password",
            "SELECT count(*) = 0 FROM fetchmail_server WHERE coalesce(password, '') <> ''"),
        "no API key usable": ("res_users_apikeys", "SELECT count(*) = 0 FROM res_users_apikeys"),
        "no OAuth client secret kept": ("auth_oauth_provider.client_secret",
            "SELECT count(*) = 0 FROM auth_oauth_provider"
            " WHERE coalesce(client_secret, '') <> ''"),
    }  # fmt: skip
    checks["no carrier in production mode"] = (
        "delivery_carrier.prod_environment",
        "SELECT count(*) = 0 FROM delivery_carrier WHERE prod_environment",
    )
    results = {}
    for name, (target, query) in checks.items():
        if _has_target(cur, target):
            cur.execute(query, {"host": host, "allow": list(cron_allowlist),
                                "catcher": CATCHER_NAME})  # fmt: skip
            results[name] = bool(cur.fetchone()[0])
    return results
