"""Generate an Odoo-shaped database and filestore on the real test cluster.

Used by the engine tests (small) and the benchmarks (large). The tables carry the
names and the kinds of columns Odoo has where it matters to us: modules,
parameters (database.uuid), partners with personal data, attachments whose
files live in a content-addressed filestore.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import psycopg2
from psycopg2 import sql

from ipai_ops.connection import ServerSpec

SCHEMA = """
CREATE TABLE ir_module_module (id serial PRIMARY KEY, name varchar NOT NULL UNIQUE,
    state varchar, latest_version varchar);
CREATE TABLE ir_config_parameter (id serial PRIMARY KEY, key varchar NOT NULL UNIQUE, value text);
CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar, email varchar, phone varchar,
    street varchar, city varchar, comment text, active boolean DEFAULT true,
    create_date timestamp DEFAULT now(), write_date timestamp DEFAULT now());
CREATE INDEX res_partner_email_idx ON res_partner (email);
CREATE INDEX res_partner_name_idx ON res_partner (name);
CREATE INDEX res_partner_phone_idx ON res_partner (phone);
CREATE INDEX res_partner_city_idx ON res_partner (city);
CREATE INDEX res_partner_street_idx ON res_partner (street);
CREATE INDEX res_partner_create_date_idx ON res_partner (create_date);
CREATE INDEX res_partner_name_email_idx ON res_partner (name, email);
CREATE INDEX res_partner_active_idx ON res_partner (active, name);
CREATE TABLE ir_attachment (id serial PRIMARY KEY, name varchar, store_fname varchar,
    checksum varchar, file_size integer, mimetype varchar, res_model varchar, res_id integer);
CREATE TABLE mail_message (id serial PRIMARY KEY, model varchar, res_id integer,
    author_id integer REFERENCES res_partner(id), body text, date timestamp DEFAULT now());
CREATE INDEX mail_message_res_idx ON mail_message (model, res_id);
CREATE INDEX mail_message_author_idx ON mail_message (author_id);
CREATE INDEX mail_message_date_idx ON mail_message (date);
"""

MODULES = [
    ("base", "19.0.1.3"),
    ("web", "19.0.1.0"),
    ("mail", "19.0.1.19"),
    ("contacts", "19.0.1.0"),
]


def create_database(spec: ServerSpec, name: str) -> None:
    conn = psycopg2.connect(**spec.for_database("postgres").connect_kwargs())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()


def populate(spec: ServerSpec, name: str, *, partners: int, messages: int, body_bytes: int = 200):
    """Fill a fresh database with the Odoo-shaped schema and generated rows."""
    conn = psycopg2.connect(**spec.for_database(name).connect_kwargs())
    with conn, conn.cursor() as cur:
        cur.execute(SCHEMA)
        cur.executemany(
            "INSERT INTO ir_module_module (name, state, latest_version)"
            " VALUES (%s, 'installed', %s)",
            MODULES,
        )
        cur.execute(
            "INSERT INTO ir_module_module (name, state) VALUES ('sale', 'uninstalled');"
            "INSERT INTO ir_config_parameter (key, value) VALUES"
            " ('database.uuid', gen_random_uuid()::text), ('web.base.url', 'http://prod.example')"
        )
        cur.execute(
            """
            INSERT INTO res_partner (name, email, phone, street, city, comment)
            -- a format masking never writes (+1 555 …): a fake can never equal an original
            SELECT 'Partner ' || i, 'partner' || i || '@customer.example',
                   '+32 470 ' || lpad(i::text, 8, '0'), i || ' Main Street', 'City ' || (i %% 97),
                   repeat(md5(i::text), 3)
              FROM generate_series(1, %s) AS i
            """,
            (partners,),
        )
        cur.execute(
            """
            INSERT INTO mail_message (model, res_id, author_id, body)
            SELECT 'res.partner', 1 + i %% %s, 1 + i %% %s,
                   (SELECT string_agg(md5(i::text || '-' || g::text), '')
                      FROM generate_series(1, greatest(1, %s / 32)) AS g)
              FROM generate_series(1, %s) AS i
            """,
            (partners, partners, body_bytes, messages),
        )
    conn.close()


def write_filestore(
    root: Path,
    spec: ServerSpec | None,
    database: str | None,
    *,
    files: int,
    size: int,
    seed: str = "",
) -> list[str]:
    """Write ``files`` content-addressed files of ``size`` bytes; register them as attachments."""
    names = []
    rows = []
    for i in range(files):
        content = hashlib.sha256(f"{seed}{i}".encode()).digest() * (size // 32 + 1)
        content = content[: size - 8] + i.to_bytes(8, "big") if size >= 8 else content[:size]
        sha1 = hashlib.sha1(content).hexdigest()
        fname = f"{sha1[:2]}/{sha1}"
        path = root / fname
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        names.append(fname)
        rows.append((f"file{i}.bin", fname, sha1, size))
    if spec and database:
        conn = psycopg2.connect(**spec.for_database(database).connect_kwargs())
        with conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ir_attachment (name, store_fname, checksum, file_size, mimetype,"
                " res_model, res_id) VALUES (%s, %s, %s, %s, 'application/octet-stream',"
                " 'res.partner', 1)",
                rows,
            )
        conn.close()
    return names


def table_fingerprints(spec: ServerSpec, database: str) -> dict[str, tuple[int, str]]:
    """Row count and an MD5 over the ordered rows of every table: equal means same content."""
    conn = psycopg2.connect(**spec.for_database(database).connect_kwargs())
    result = {}
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        for (table,) in cur.fetchall():
            cur.execute(
                sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id),''))"
                    " FROM {} t"
                ).format(sql.Identifier(table))
            )
            result[table] = cur.fetchone()
    conn.close()
    return result


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> SHA-1 of every file below root."""
    out = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            out[str(path.relative_to(root))] = hashlib.sha1(path.read_bytes()).hexdigest()
    return out


OPERATIONS_SCHEMA = """
ALTER TABLE res_partner ADD COLUMN is_company boolean DEFAULT false,
    ADD COLUMN email_normalized varchar, ADD COLUMN mobile varchar, ADD COLUMN vat varchar;
UPDATE res_partner SET email_normalized = lower(email);
CREATE TABLE res_company (id serial PRIMARY KEY, name varchar, partner_id integer);
INSERT INTO res_partner (name, email, is_company)
    VALUES ('My Company', 'info@company.example', true);
INSERT INTO res_company (name, partner_id) SELECT 'My Company', max(id) FROM res_partner;
CREATE TABLE res_users (id serial PRIMARY KEY, login varchar UNIQUE, password varchar,
    partner_id integer);
INSERT INTO res_users (id, login, password, partner_id) VALUES
    (1, '__system__', NULL, 1), (2, 'admin', 'secret-admin-hash', 2),
    (3, 'partner3@customer.example', 'hash3', 3);
CREATE TABLE ir_model_data (id serial, module varchar, name varchar, model varchar, res_id int);
CREATE TABLE ir_cron (id serial PRIMARY KEY, name varchar, active boolean);
INSERT INTO ir_cron (name, active) VALUES ('autovacuum', true), ('mail queue', true),
    ('backup', true), ('fetch mail', true);
INSERT INTO ir_model_data (module, name, model, res_id) VALUES
    ('base', 'autovacuum_job', 'ir.cron', 1), ('mail', 'ir_cron_mail_scheduler', 'ir.cron', 2);
CREATE TABLE mail_mail (id serial PRIMARY KEY, state varchar, email_to varchar, email_cc varchar);
INSERT INTO mail_mail (state, email_to) VALUES ('outgoing', 'partner1@customer.example'),
    ('exception', 'partner2@customer.example'), ('sent', 'partner3@customer.example');
CREATE TABLE ir_mail_server (id serial PRIMARY KEY, name varchar, smtp_host varchar,
    smtp_port int, smtp_encryption varchar, smtp_authentication varchar, active boolean,
    sequence int);
INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_encryption, smtp_authentication,
    active, sequence) VALUES ('Production SMTP', 'smtp.prod.example', 587, 'starttls', 'login',
    true, 1);
CREATE TABLE fetchmail_server (id serial PRIMARY KEY, name varchar, active boolean);
INSERT INTO fetchmail_server (name, active) VALUES ('Inbox', true);
CREATE TABLE payment_provider (id serial PRIMARY KEY, code varchar, state varchar);
INSERT INTO payment_provider (code, state) VALUES ('stripe', 'enabled'), ('demo', 'test');
CREATE TABLE iap_account (id serial PRIMARY KEY, account_token varchar);
INSERT INTO iap_account (account_token) VALUES ('0123456789abcdef');
CREATE TABLE ir_act_server (id serial PRIMARY KEY, state varchar, webhook_url varchar);
INSERT INTO ir_act_server (state, webhook_url) VALUES ('webhook', 'https://hooks.example/prod');
ALTER TABLE mail_message ADD COLUMN email_from varchar, ADD COLUMN reply_to varchar;
UPDATE mail_message SET email_from = 'partner' || author_id || '@customer.example';
ALTER TABLE res_partner ADD COLUMN phone_sanitized varchar;
UPDATE res_partner SET phone_sanitized = regexp_replace(phone, '[^0-9+]', '', 'g');
ALTER TABLE ir_mail_server ADD COLUMN smtp_pass varchar;
UPDATE ir_mail_server SET smtp_pass = 'prod-smtp-Secret';
ALTER TABLE fetchmail_server ADD COLUMN password varchar;
UPDATE fetchmail_server SET password = 'prod-imap-Secret';
CREATE TABLE res_users_apikeys (id serial PRIMARY KEY, user_id int, key varchar);
INSERT INTO res_users_apikeys (user_id, key) VALUES (2, 'hashed-api-key');
INSERT INTO ir_config_parameter (key, value) VALUES ('database.secret', 'prod-database-secret'),
    ('google_maps_api_key', 'prod-maps-key');
"""


def add_operations_tables(spec: ServerSpec, name: str) -> None:
    """Mail queue, servers, crons, payments, users…: what neutralization and masking touch."""
    conn = psycopg2.connect(**spec.for_database(name).connect_kwargs())
    with conn, conn.cursor() as cur:
        cur.execute(OPERATIONS_SCHEMA)
    conn.close()


def fake_addons_path(root: Path, modules: list[str], scripts: dict[str, str]) -> Path:
    """An addons directory holding a manifest per module and the given neutralize.sql."""
    for module in modules:
        folder = root / module
        (folder / "data").mkdir(parents=True, exist_ok=True)
        (folder / "__manifest__.py").write_text(f"{{'name': {module!r}}}\n")
        if module in scripts:
            (folder / "data" / "neutralize.sql").write_text(scripts[module])
    return root
