"""The ``mask`` operation: personal data replaced in a copy, irreversibly and consistently.

Rules are data (:class:`MaskRule`: table, column, strategy, optional condition).
Values are replaced by set-based ``UPDATE``s, one per table, computed from a
SHA-256 of the original keyed by a secret: the same e-mail masks to the same fake
everywhere in the copy (so relations and searches stay consistent), and nobody
without the key can map it back. The control plane passes one key per project, so
a value masks the same in every copy of that project (a bug seen in one copy can
be found again in the next); without a key, a random one is used and forgotten.
The key reaches the copy's server as a session setting read back by the UPDATEs,
so it is in no masking statement (``pg_stat_statements`` keeps the setting's
own statement normalized, without it; only a server logging every statement,
``log_statement = all``, would record it).

The default rules cover Odoo's known places of personal data, including derived
and duplicated columns (``phone_sanitized``, chatter bodies and senders, tracking
values, mail queues, indexed attachment text); :func:`find_survivors` then proves
that a sample of original values appears in *no* text column of the copy
(:mod:`.mask_check`).

Updating every row of a table with many indexes is slow because every index is
updated too, so the table's plain indexes are dropped first and rebuilt after
(unique and constraint indexes stay: they guard the data). Large tables are
masked in parts by several connections, and indexes rebuilt while the next
table is masked: the work is spread over the server's cores.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from psycopg2 import sql

from .check import require_odoo_database
from .connection import ServerSpec, connection
from .errors import MaskingFailed, OwnerCodeRefused
from .guards import refuse_production
from .progress import ProgressCallback, Tracker
from .untrusted_sql import (
    OwnerCode,
    disable_owner_triggers,
    enable_triggers,
    harden,
    refuse_non_tables,
)

STRATEGIES = ("email", "name", "phone", "null", "fixed", "keep")
DEV_PASSWORD_ROUNDS = 25_000  # pbkdf2 rounds of the development admin password
MASK_MAINTENANCE_MEMORY = "256MB"  # per index rebuild after masking, in the copy only
MASK_WORKERS = 2  # connections masking table parts and rebuilding indexes side by side
PART_MIN_BYTES = 8 * 1024**2  # a table this large (heap) is masked and scanned in parts


@dataclass(frozen=True)
class MaskRule:
    table: str
    column: str
    strategy: str
    condition: str | None = None  # trusted SQL from the rule's author (administrators only)
    value: str | None = None  # for "fixed"

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown masking strategy {self.strategy!r}")


NOT_COMPANY = "id NOT IN (SELECT partner_id FROM public.res_company)"  # companies keep their data
PERSON = f"{NOT_COMPANY} AND NOT is_company"

# Odoo's personal data, by default. Missing tables and columns are skipped.
DEFAULT_RULES = [
    MaskRule("res_partner", "name", "name", PERSON),
    MaskRule("res_partner", "complete_name", "name", PERSON),
    MaskRule("res_partner", "email", "email", NOT_COMPANY),
    MaskRule("res_partner", "email_normalized", "email", NOT_COMPANY),
    MaskRule("res_partner", "phone", "phone", NOT_COMPANY),
    MaskRule("res_partner", "mobile", "phone", NOT_COMPANY),
    MaskRule("res_partner", "street", "null", NOT_COMPANY),
    MaskRule("res_partner", "street2", "null", NOT_COMPANY),
    MaskRule("res_partner", "vat", "null", NOT_COMPANY),
    MaskRule("res_partner", "comment", "null"),
    MaskRule("res_partner", "phone_sanitized", "phone", NOT_COMPANY),
    MaskRule("res_partner", "zip", "null", NOT_COMPANY),
    MaskRule("res_partner", "signup_token", "null"),
    MaskRule("res_users", "login", "email", "id <> 2"),  # the admin keeps its login
    MaskRule("res_users", "password", "null", "id <> 2"),
    MaskRule("res_users", "signature", "null", "id <> 2"),
    MaskRule("res_users", "totp_secret", "null"),
    MaskRule("res_partner_bank", "acc_number", "fixed", value="MASKED"),
    MaskRule("hr_employee", "name", "name"),
    MaskRule("hr_employee", "work_email", "email"),
    MaskRule("hr_employee", "private_email", "email"),
    MaskRule("hr_employee", "work_phone", "phone"),
    MaskRule("hr_employee", "mobile_phone", "phone"),
    MaskRule("hr_employee", "private_phone", "phone"),
    MaskRule("hr_employee", "identification_id", "null"),
    MaskRule("hr_employee", "passport_id", "null"),
    MaskRule("hr_employee", "ssnid", "null"),
    MaskRule("mail_message", "email_from", "email"),
    MaskRule("mail_message", "reply_to", "email"),
    MaskRule("mail_message", "body", "fixed", value="<p>(masked)</p>"),
    MaskRule("mail_message", "subject", "null"),
    MaskRule("mail_message", "record_name", "null"),
    MaskRule("mail_tracking_value", "old_value_char", "null"),
    MaskRule("mail_tracking_value", "new_value_char", "null"),
    MaskRule("mail_tracking_value", "old_value_text", "null"),
    MaskRule("mail_tracking_value", "new_value_text", "null"),
    MaskRule("mail_mail", "email_to", "email"),
    MaskRule("mail_mail", "email_cc", "null"),
    MaskRule("mail_mail", "body_html", "null"),
    MaskRule("mail_mail", "references", "null"),
    MaskRule("ir_attachment", "index_content", "null"),
    MaskRule("website_visitor", "access_token", "null"),
    MaskRule("sms_sms", "number", "phone"),
    MaskRule("crm_lead", "email_from", "email"),
    MaskRule("crm_lead", "phone", "phone"),
    MaskRule("crm_lead", "contact_name", "name"),
    MaskRule("crm_lead", "partner_name", "name"),
]  # fmt: skip


@dataclass
class MaskReport:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows rewritten
    columns: list[str] = field(default_factory=list)
    seconds: float = 0.0
    survivors: dict[str, int] = field(default_factory=dict)  # filled by check_no_survivors

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def summary(self) -> str:
        rate = self.total_rows / self.seconds if self.seconds else 0
        return (
            f"Masked {len(self.columns)} columns in {len(self.rows)} tables: "
            f"{self.total_rows} rows in {self.seconds:.1f} s ({rate:,.0f} rows/s)."
        )


KEY_SETTING = "ipai_ops.mask_key"  # the session setting that carries the key


def _digest(secret: sql.Composable, column: sql.Identifier) -> sql.Composable:
    return sql.SQL("encode(sha256(convert_to({} || {}::text, 'UTF8')), 'hex')").format(
        secret, column
    )


def new_mask_key() -> str:
    """A key for a project's copies: 256 random bits, hex."""
    return secrets.token_hex(32)


def _expression(rule: MaskRule, secret: sql.Composable) -> sql.Composable:
    column = sql.Identifier(rule.column)
    digest = _digest(secret, column)
    masked = {
        "email": sql.SQL("'u' || left({}, 16) || '@example.invalid'").format(digest),
        "name": sql.SQL("'Person ' || upper(left({}, 8))").format(digest),
        "phone": sql.SQL(
            "'+1 555 ' || lpad(mod(('x' || left({}, 7))::bit(28)::int, 10000000)::text, 7, '0')"
        ).format(digest),
        "null": sql.SQL("NULL"),
        "fixed": sql.Literal(rule.value),
        "keep": column,
    }[rule.strategy]
    if rule.strategy in ("null", "keep"):
        return masked
    return sql.SQL("CASE WHEN {col} IS NULL THEN NULL ELSE {masked} END").format(
        col=column, masked=masked
    )


def _existing_columns(cur, table: str) -> set[str]:
    cur.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = %s",
        (table,),
    )
    return {row[0] for row in cur.fetchall()}


def _plain_indexes(cur, table: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's indexes that back no constraint and are not unique."""
    cur.execute(
        """
        SELECT i.relname, pg_get_indexdef(x.indexrelid)
          FROM pg_index x
          JOIN pg_class i ON i.oid = x.indexrelid
         WHERE x.indrelid = to_regclass(%s) AND NOT x.indisunique AND NOT x.indisprimary
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
        """,
        (f"public.{table}",),
    )
    return cur.fetchall()


def _mask_table(
    cur,
    table: str,
    rules: list[MaskRule],
    secret: sql.Composable,
    within: sql.Composable | None = None,
) -> int:
    """Mask every rule of a table in ONE ``UPDATE``; return the rows rewritten.

    One statement writes each row once. Several would write it several times, and a
    row this transaction already wrote has its foreign keys checked again on the next
    write (one lookup per key per row: over a million on Odoo's res_partner). Rows no
    rule changes (conditions false, values already empty) are not written at all.

    :param within: a condition limiting the rows (one part of a table masked in parts)
    """
    assignments, applies_any = [], []
    for rule in rules:
        if rule.strategy == "keep":
            continue
        column = sql.Identifier(rule.column)
        applies = sql.SQL("({} IS NOT NULL)").format(column)
        if rule.condition:
            applies = sql.SQL("(({}) AND {})").format(sql.SQL(rule.condition), applies)
        assignments.append(
            sql.SQL("{col} = CASE WHEN {applies} THEN {masked} ELSE {col} END").format(
                col=column, applies=applies, masked=_expression(rule, secret)
            )
        )
        applies_any.append(applies)
    if not assignments:
        return 0
    where = sql.SQL("({})").format(sql.SQL(" OR ").join(applies_any))
    if within is not None:
        where = sql.SQL("{} AND {}").format(within, where)
    cur.execute(
        sql.SQL("UPDATE {} SET {} WHERE {}").format(
            sql.Identifier("public", table), sql.SQL(", ").join(assignments), where
        )
    )
    return cur.rowcount


@dataclass
class _TablePlan:
    """One table to mask: its rules, the indexes dropped for it, its parts (id ranges)."""

    table: str
    rules: list[MaskRule]
    indexes: list[str] = field(default_factory=list)  # definitions, to rebuild
    parts: list[sql.Composable | None] = field(default_factory=lambda: [None])


def mask_database(
    spec: ServerSpec,
    database: str,
    rules: list[MaskRule] | None = None,
    *,
    admin_password: str | None = None,
    key: str | None = None,
    progress: ProgressCallback | None = None,
) -> MaskReport:
    """Mask ``database``, a copy being prepared, with ``rules``.

    Every session is hardened (:mod:`.untrusted_sql`): the copy's owner wrote what it
    holds. First the plain indexes of the tables to mask are dropped and the owner's
    triggers on them disabled (one transaction; any other code of the owner's that the
    writes would run refuses the masking).
    Then :data:`MASK_WORKERS` connections work side by side: a large table is masked
    in parts (ranges of ``id``, one transaction each, so both cores write), and as
    soon as a table is done its indexes are rebuilt while the next table is masked.

    A failure raises :class:`MaskingFailed`: the copy is then partly masked and may
    lack indexes — the clone that prepares it drops it, never publishing it.

    :param admin_password: set the admin account's (id 2) password to this known value
    :param key: the project's masking key (same key, same fakes); default: a random one
    :param progress: told the parts masked and indexes rebuilt, of all of them
    """
    with connection(spec.for_database("postgres")) as admin:
        refuse_production(admin, database, "mask")
    require_odoo_database(spec, database, "mask")
    copy = spec.for_database(database)
    started = time.monotonic()
    plans, triggers = _prepare(copy, DEFAULT_RULES if rules is None else rules, admin_password)
    report = MaskReport()
    for plan in plans:
        report.columns += [f"{plan.table}.{r.column}" for r in plan.rules if r.strategy != "keep"]
    key = key or new_mask_key()
    tracker = Tracker(progress, {"mask": 1})
    tracker.phase("mask", f"Masking {len(report.columns)} columns in {len(plans)} tables")
    done, total = itertools.count(1), sum(len(p.parts) + len(p.indexes) for p in plans)

    def submit(pool, *call):  # each part or index done is one unit of the whole
        job = pool.submit(*call)
        job.add_done_callback(lambda _job: tracker.units(next(done), total))
        return job

    failed: list[str] = []
    with ThreadPoolExecutor(max_workers=MASK_WORKERS) as pool:
        masking = [
            (plan, [submit(pool, _mask_part, copy, key, plan, part) for part in plan.parts])
            for plan in plans
        ]
        rebuilds = []
        for plan, parts in masking:
            outcomes = [_outcome(part) for part in parts]
            if any(isinstance(o, BaseException) for o in outcomes):
                failed.append(f"masking {plan.table}: {_first_error(outcomes)}")
                continue
            report.rows[plan.table] = sum(outcomes)
            rebuilds += [(d, submit(pool, _build_index, copy, d)) for d in plan.indexes]
        failed += [
            f"rebuilding {d.split(' ON ')[0]}: {error}"
            for d, job in rebuilds
            if (error := job.exception())
        ]
    if failed:
        raise MaskingFailed(f"The copy is not fully masked: {'; '.join(failed)}.")
    _enable_triggers(copy, triggers)  # the copy behaves as its source from now on
    report.seconds = time.monotonic() - started
    tracker.finish(f"Masked {database}")
    return report


def _prepare(copy: ServerSpec, rules: list[MaskRule], admin_password: str | None):
    """Plan each table, drop its plain indexes, disable the owner's triggers on it and set
    the admin password; committed. Returns the plans and the triggers to enable again.

    :raises MaskingFailed: writing a table would run other code of the owner's (a rule,
        an index expression, a constraint…): it would run with the engine's rights
    """
    by_table: dict[str, list[MaskRule]] = {}
    for rule in rules:
        by_table.setdefault(rule.table, []).append(rule)
    plans = []
    with connection(copy, autocommit=False) as conn, conn.cursor() as cur:
        harden(cur)
        for table, table_rules in by_table.items():
            present = _existing_columns(cur, table)
            usable = [r for r in table_rules if r.column in present]
            if not usable:
                continue
            plan = _TablePlan(table, usable)
            for name, definition in _plain_indexes(cur, table):
                cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier("public", name)))
                plan.indexes.append(definition)
            if "id" in present:
                plan.parts = id_ranges(cur, table)
            plans.append(plan)
        triggers = _triggers_disabled_for_masking(cur, [plan.table for plan in plans])
        if admin_password is not None and "password" in _existing_columns(cur, "res_users"):
            cur.execute(
                "UPDATE public.res_users SET password = %s WHERE id = 2",
                (odoo_password_hash(admin_password),),
            )
        conn.commit()
    return plans, triggers


def _triggers_disabled_for_masking(cur, tables: list[str]) -> list[OwnerCode]:
    """Disable the owner's triggers on ``tables`` (enabled again once masked); refuse
    any other code of the owner's that masking's writes would run."""
    try:
        refuse_non_tables(cur, [*tables, "res_users"])  # a view would write elsewhere
        return disable_owner_triggers(cur, [*tables, "res_users"], "Masking")
    except OwnerCodeRefused as refused:
        raise MaskingFailed(
            f"{refused} Remove it from the source, or copy without masking."
        ) from None


def _enable_triggers(copy: ServerSpec, triggers: list[OwnerCode]) -> None:
    if not triggers:
        return
    with connection(copy) as conn, conn.cursor() as cur:
        harden(cur)
        enable_triggers(cur, triggers)


def id_ranges(cur, table: str, parts: int = MASK_WORKERS) -> list[sql.Composable | None]:
    """Conditions splitting a large table with an integer ``id`` into ``parts`` ranges of
    ids (``[None]``: the whole table), for masking and scanning it side by side."""
    # the size, not reltuples: a restored copy has no statistics yet
    cur.execute(
        "SELECT pg_relation_size(to_regclass(%s)),"
        "       EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public'"
        "                  AND table_name = %s AND column_name = 'id'"
        "                  AND data_type IN ('integer', 'bigint'))",
        (f"public.{table}", table),
    )
    size, has_id = cur.fetchone()
    if parts < 2 or not has_id or (size or 0) < PART_MIN_BYTES:
        return [None]
    cur.execute(sql.SQL("SELECT min(id), max(id) FROM {}").format(sql.Identifier("public", table)))
    low, high = cur.fetchone()
    if low is None:
        return [None]
    step = (high - low) // parts + 1
    return [
        sql.SQL("(id >= {} AND id < {})").format(sql.Literal(start), sql.Literal(start + step))
        for start in (low + i * step for i in range(parts))
    ]


def _mask_part(copy: ServerSpec, key: str, plan: _TablePlan, part) -> int:
    # read back from the session: the key is never part of a statement's text
    secret = sql.SQL("current_setting({})").format(sql.Literal(KEY_SETTING))
    with connection(copy, autocommit=False) as conn, conn.cursor() as cur:
        harden(cur)
        cur.execute("SELECT set_config(%s, %s, true)", (KEY_SETTING, key))
        rows = _mask_table(cur, plan.table, plan.rules, secret, part)
        conn.commit()
    return rows


def _build_index(copy: ServerSpec, definition: str) -> None:
    with connection(copy) as conn, conn.cursor() as cur:
        harden(cur)
        # room to sort in memory: the copy is being prepared, nobody else uses it
        cur.execute("SET maintenance_work_mem = %s", (MASK_MAINTENANCE_MEMORY,))
        cur.execute(definition)


def _outcome(future):
    return future.exception() or future.result()


def _first_error(outcomes: list) -> str:
    return next(str(o).strip() for o in outcomes if isinstance(o, BaseException))


def odoo_password_hash(password: str, rounds: int = DEV_PASSWORD_ROUNDS) -> str:
    """A hash Odoo accepts (passlib's pbkdf2_sha512 format), without passlib."""
    salt = secrets.token_bytes(16)
    checksum = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds)
    return f"$pbkdf2-sha512${rounds}${_ab64(salt)}${_ab64(checksum)}"


def _ab64(data: bytes) -> str:
    """passlib's "adapted base64": '.' for '+', no padding."""
    return base64.b64encode(data).decode().rstrip("=").replace("+", ".")
