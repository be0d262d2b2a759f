"""The ``mask`` operation: personal data replaced in a copy, irreversibly and consistently.

Rules are data (:class:`MaskRule`: table, column, strategy, optional condition).
Values are replaced by set-based ``UPDATE``s, one per table, computed from an
HMAC-like SHA-256 of the original keyed by a random per-clone secret that is
never stored: the same e-mail masks to the same fake everywhere in the copy (so
relations and searches stay consistent), and nobody can map it back.

Updating every row of a table with many indexes is slow because every index is
updated too, so the table's plain indexes are dropped first and rebuilt after
(unique and constraint indexes stay: they guard the data).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field

from psycopg2 import sql

from .connection import ServerSpec, connection
from .errors import MaskingFailed
from .guards import refuse_production

STRATEGIES = ("email", "name", "phone", "null", "fixed", "keep")
DEV_PASSWORD_ROUNDS = 25_000  # pbkdf2 rounds of the development admin password


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


NOT_COMPANY = "id NOT IN (SELECT partner_id FROM res_company)"  # companies keep their data
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
    MaskRule("res_users", "login", "email", "id <> 2"),  # the admin keeps its login
    MaskRule("res_users", "password", "null", "id <> 2"),
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
    MaskRule("mail_mail", "email_to", "email"),
    MaskRule("mail_mail", "email_cc", "null"),
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


def _digest(secret: sql.Composable, column: sql.Identifier) -> sql.Composable:
    return sql.SQL("encode(sha256(convert_to({} || {}::text, 'UTF8')), 'hex')").format(
        secret, column
    )


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


def _mask_table(cur, table: str, rules: list[MaskRule], secret: sql.Composable) -> int:
    """One UPDATE for all of a table's rules sharing a condition; return rows rewritten."""
    by_condition: dict[str | None, list[MaskRule]] = {}
    for rule in rules:
        by_condition.setdefault(rule.condition, []).append(rule)
    rewritten = 0
    for condition, group in by_condition.items():
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(r.column), _expression(r, secret))
            for r in group
            if r.strategy != "keep"
        )
        if not assignments.seq:
            continue
        where = sql.SQL(" WHERE ({})").format(sql.SQL(condition)) if condition else sql.SQL("")
        cur.execute(sql.SQL("UPDATE {} SET {}").format(sql.Identifier(table), assignments) + where)
        rewritten = max(rewritten, cur.rowcount)
    return rewritten


def mask_database(
    spec: ServerSpec,
    database: str,
    rules: list[MaskRule] | None = None,
    *,
    admin_password: str | None = None,
) -> MaskReport:
    """Mask ``database`` (a copy) with ``rules`` in one transaction.

    :param admin_password: set the admin account's (id 2) password to this known value
    """
    with connection(spec.for_database("postgres")) as admin:
        refuse_production(admin, database, "mask")
    rules = DEFAULT_RULES if rules is None else rules
    secret = sql.Literal(secrets.token_hex(32))  # per clone, never stored
    report = MaskReport()
    started = time.monotonic()
    with connection(spec.for_database(database), autocommit=False) as conn:
        with conn.cursor() as cur:
            by_table: dict[str, list[MaskRule]] = {}
            for rule in rules:
                by_table.setdefault(rule.table, []).append(rule)
            for table, table_rules in by_table.items():
                present = _existing_columns(cur, table)
                usable = [r for r in table_rules if r.column in present]
                if not usable:
                    continue
                indexes = _plain_indexes(cur, table)
                for name, _definition in indexes:
                    cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
                report.rows[table] = _mask_table(cur, table, usable, secret)
                for _name, definition in indexes:
                    cur.execute(definition)
                report.columns += [f"{table}.{r.column}" for r in usable if r.strategy != "keep"]
            if admin_password is not None and "password" in _existing_columns(cur, "res_users"):
                cur.execute(
                    "UPDATE res_users SET password = %s WHERE id = 2",
                    (odoo_password_hash(admin_password),),
                )
        conn.commit()
    report.seconds = time.monotonic() - started
    return report


def check_no_survivors(
    production: ServerSpec, copy: ServerSpec, database_pair: tuple[str, str], rules=None
) -> dict[str, int]:
    """Count, per masked column, values of the copy still equal to an original value.

    Compares MD5s of the values (never the values themselves) across both databases.
    """
    rules = DEFAULT_RULES if rules is None else rules
    source_db, copy_db = database_pair
    survivors = {}
    with (
        connection(production.for_database(source_db)) as prod,
        connection(copy.for_database(copy_db)) as clone,
    ):
        for rule in rules:
            if rule.strategy in ("keep", "fixed"):
                continue
            with prod.cursor() as pcur, clone.cursor() as ccur:
                if rule.column not in _existing_columns(ccur, rule.table):
                    continue
                originals = _md5s(pcur, rule, None)
                masked = _md5s(ccur, rule, rule.condition)
            survivors[f"{rule.table}.{rule.column}"] = len(originals & masked)
    return survivors


def _md5s(cur, rule: MaskRule, condition: str | None) -> set[bytes]:
    where = sql.SQL(" AND ({})").format(sql.SQL(condition)) if condition else sql.SQL("")
    cur.execute(
        sql.SQL(
            "SELECT decode(md5({col}::text), 'hex') FROM {table} WHERE {col} IS NOT NULL"
        ).format(col=sql.Identifier(rule.column), table=sql.Identifier(rule.table))
        + where
    )
    return {bytes(row[0]) for row in cur.fetchall()}


def odoo_password_hash(password: str, rounds: int = DEV_PASSWORD_ROUNDS) -> str:
    """A hash Odoo accepts (passlib's pbkdf2_sha512 format), without passlib."""
    salt = secrets.token_bytes(16)
    checksum = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds)
    return f"$pbkdf2-sha512${rounds}${_ab64(salt)}${_ab64(checksum)}"


def _ab64(data: bytes) -> str:
    """passlib's "adapted base64": '.' for '+', no padding."""
    return base64.b64encode(data).decode().rstrip("=").replace("+", ".")


def raise_on_survivors(survivors: dict[str, int]) -> None:
    leaked = {column: count for column, count in survivors.items() if count}
    if leaked:
        detail = ", ".join(f"{column} ({count})" for column, count in sorted(leaked.items()))
        raise MaskingFailed(f"Original values survived masking in: {detail}.")
