"""Masking a copy whose owner planted code: nothing of it runs with the engine's rights.

The copy's content is a stranger's (a branch's SQL, production's code): each test plants
what such code could, owned by a role that is no superuser, and masks the copy as the
engine does.
"""

import dataclasses

import psycopg2
import pytest
from conftest import run_sql
from odoo_like import add_operations_tables

from ipai_ops.errors import MaskingFailed
from ipai_ops.mask import mask_database

STOLEN = "CREATE TABLE public.stolen (who text, what text); GRANT ALL ON public.stolen TO PUBLIC"


@pytest.fixture
def planted(spec, login_role, odoo_db):
    """The copy, and a role of the owner's kind (no superuser) that owns planted code."""
    name, _filestore = odoo_db
    add_operations_tables(spec, name)
    owner = login_role("owner-pw")
    run_sql(spec, name, STOLEN)
    return name, owner


def _own(spec, database, owner, signature):
    run_sql(spec, database, f'ALTER FUNCTION {signature} OWNER TO "{owner}"')


def test_a_trigger_of_the_owner_does_not_fire_while_masking(spec, planted):
    database, owner = planted
    run_sql(
        spec,
        database,
        "CREATE FUNCTION public.grab() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " INSERT INTO public.stolen VALUES (current_user, OLD.email); RETURN NEW; END $$;"
        " CREATE TRIGGER grab BEFORE UPDATE ON public.res_partner"
        " FOR EACH ROW EXECUTE FUNCTION public.grab()",
    )
    _own(spec, database, owner, "public.grab()")
    report = mask_database(spec, database)
    assert report.rows["res_partner"] == 300, "every person, not the company"
    assert run_sql(spec, database, "SELECT count(*) FROM public.stolen") == [(0,)], (
        "the owner's trigger ran, as the engine's role, on unmasked rows"
    )
    enabled = "SELECT tgenabled FROM pg_trigger WHERE tgname = 'grab'"
    assert run_sql(spec, database, enabled) == [("O",)], "the trigger is enabled again"


def test_a_function_in_public_matching_better_is_never_called(spec, planted):
    """``convert_to(text, text)`` in public beats pg_catalog's ``(text, name)`` for an
    unqualified call with a literal: the CVE-2018-1058 class."""
    database, owner = planted
    run_sql(
        spec,
        database,
        "CREATE FUNCTION public.convert_to(text, text) RETURNS bytea LANGUAGE sql AS $$"
        " INSERT INTO public.stolen VALUES (current_user, $1);"
        " SELECT pg_catalog.convert_to($1, $2::name) $$",
    )
    _own(spec, database, owner, "public.convert_to(text, text)")
    mask_database(spec, database)
    assert run_sql(spec, database, "SELECT count(*) FROM public.stolen") == [(0,)], (
        "a function the owner planted in public was called by masking"
    )


@pytest.mark.parametrize(
    "plant, named",
    [
        (
            "CREATE FUNCTION public.tag(text) RETURNS text IMMUTABLE LANGUAGE sql"
            " AS $$ SELECT $1 $$; CREATE UNIQUE INDEX partner_tag ON public.res_partner"
            " ((public.tag(email)), id)",
            "index",
        ),
        (
            "CREATE FUNCTION public.tag(text) RETURNS boolean IMMUTABLE LANGUAGE sql"
            " AS $$ SELECT true $$; ALTER TABLE public.res_partner"
            " ADD CONSTRAINT partner_tag CHECK (public.tag(email))",
            "constraint",
        ),
        (
            "CREATE FUNCTION public.tag(text) RETURNS text LANGUAGE sql AS $$ SELECT $1 $$;"
            " CREATE RULE partner_tag AS ON UPDATE TO public.res_partner"
            " DO ALSO INSERT INTO public.stolen VALUES (current_user, public.tag(OLD.email))",
            "rule",
        ),
    ],
)
def test_other_code_of_the_owner_on_a_masked_table_refuses_the_masking(spec, planted, plant, named):
    database, owner = planted
    run_sql(spec, database, plant)
    run_sql(spec, database, f'ALTER FUNCTION public.tag(text) OWNER TO "{owner}"')
    before = run_sql(spec, database, "SELECT email FROM public.res_partner ORDER BY id")
    with pytest.raises(MaskingFailed, match=f"{named} partner_tag on public.res_partner"):
        mask_database(spec, database)
    assert run_sql(spec, database, "SELECT count(*) FROM public.stolen") == [(0,)]
    after = run_sql(spec, database, "SELECT email FROM public.res_partner ORDER BY id")
    assert after == before, "a refused masking writes nothing"


def test_statistics_are_never_read_through_a_view_the_owner_planted(spec, planted):
    """A schema named after the engine's role comes first in the default search_path: a
    ``pg_stat_statements`` view planted there would run the owner's code as the engine.
    Statistics are read through the maintenance database, with the real view."""
    from ipai_ops.stats import read_statements  # noqa: PLC0415

    database, owner = planted
    run_sql(spec, database, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    run_sql(
        spec,
        database,
        "CREATE FUNCTION public.grab() RETURNS bigint LANGUAGE sql AS $$"
        " INSERT INTO public.stolen VALUES (current_user, 'statistics'); SELECT 1::bigint $$;"
        f' CREATE SCHEMA "{spec.user}";'
        f' CREATE VIEW "{spec.user}".pg_stat_statements AS'
        " SELECT * FROM public.pg_stat_statements WHERE public.grab() = 1",
    )
    _own(spec, database, owner, "public.grab()")
    run_sql(spec, database, "SELECT count(*) FROM public.res_partner")  # a statement of its own
    sample = read_statements(spec, database)
    assert sample.counters, "the database's statements are read"
    assert run_sql(spec, database, "SELECT count(*) FROM public.stolen") == [(0,)], (
        "the planted view ran as the engine's role"
    )


def test_a_view_in_place_of_odoos_table_is_never_read(spec, planted, target, tmp_path):
    """``ir_attachment`` replaced by a view calling the owner's function: a backup and a
    check refuse the database (exit 12) instead of running the function as the engine."""
    from ipai_ops.backup import backup_database  # noqa: PLC0415
    from ipai_ops.check import check_database  # noqa: PLC0415
    from ipai_ops.errors import OwnerCodeRefused  # noqa: PLC0415

    database, owner = planted
    filestore = tmp_path / "filestore" / database  # the odoo_db fixture's
    run_sql(
        spec,
        database,
        "CREATE FUNCTION public.grab(text) RETURNS text LANGUAGE sql AS $$"
        " INSERT INTO public.stolen VALUES (current_user, $1); SELECT $1 $$;"
        " ALTER TABLE public.ir_attachment RENAME TO ir_attachment_real;"
        " CREATE VIEW public.ir_attachment AS SELECT id, public.grab(store_fname) AS store_fname"
        " FROM public.ir_attachment_real",
    )
    _own(spec, database, owner, "public.grab(text)")
    with pytest.raises(OwnerCodeRefused, match=r"public\.ir_attachment") as refused:
        backup_database(spec, database, target, filestore=filestore)
    assert refused.value.exit_code == 12
    run_sql(
        spec,
        database,
        "ALTER TABLE public.ir_module_module RENAME TO ir_module_module_real;"
        " CREATE VIEW public.ir_module_module AS SELECT name, latest_version, state"
        " FROM public.ir_module_module_real WHERE public.grab(name) IS NOT NULL",
    )
    with pytest.raises(OwnerCodeRefused, match=r"public\.ir_module_module"):
        check_database(spec, database)
    assert run_sql(spec, database, "SELECT count(*) FROM public.stolen") == [(0,)]
    assert target.list_sets() == [], "a refused backup publishes nothing"


def test_a_copy_s_statements_are_planned_as_its_own_role(spec, planted, login_role):
    """A custom plan folds the immutable functions a statement calls with constants:
    planned as the copy's role, the owner's function runs as that role, never as ours."""
    from ipai_ops.index_advice import explain_on  # noqa: PLC0415

    database, owner = planted
    copy_role = login_role("copy-role-pw")
    run_sql(spec, database, f'GRANT SELECT ON public.res_partner TO "{copy_role}"')
    run_sql(
        spec,
        database,
        "CREATE FUNCTION public.probe(int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$"
        " BEGIN IF current_user NOT LIKE 'ipai\\_role\\_%' THEN"
        " RAISE EXCEPTION 'planned as %', current_user; END IF; RETURN $1; END $$",
    )
    _own(spec, database, owner, "public.probe(int)")
    statement = "SELECT id FROM res_partner WHERE id = probe($1)"
    login = dataclasses.replace(spec, user=copy_role, password="copy-role-pw")
    plan = explain_on(spec, database, statement, ["1"], as_role=login)
    assert plan["Node Type"], plan
    with pytest.raises(psycopg2.Error, match=f"planned as {spec.user}"):
        explain_on(spec, database, statement, ["1"])  # the server's role: what it guards
