"""``ipai-ops``: the engine's operations from a shell.

For scripts and for disaster recovery, when the Odoo that hosts the control
plane is down. Connection settings come from ``--dsn`` (a libpq connection
string or URI) or from the usual ``PG*`` variables; put the password in
``PGPASSWORD`` or ``~/.pgpass`` rather than on the command line.

Exit codes: 0 success, 1 operation failed, 2 usage error, 3 connection failed,
4 invalid name or input, 5 backup corrupt, 6 backup not found,
7 production database protected, 8 database already exists,
9 neutralization failed, 10 masking failed.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from . import __version__, mail_catcher
from .backup import BACKUP_KINDS, backup_database
from .check import check_database
from .cli_progress import progress_on
from .cli_reports import add_report_commands
from .clone import CLONE_METHODS, clone_database
from .connection import ServerSpec, connection
from .errors import OpsError
from .guards import mark_production
from .mask import mask_database
from .mask_check import check_no_survivors, raise_on_survivors
from .neutralize import neutralize_database
from .odoo_zip import export_zip, import_zip
from .probe import probe_server
from .prune import prune_target
from .restore import restore_backup
from .retention import RetentionPolicy
from .safe_copy import Masking, make_safe
from .storage import LocalTarget
from .verify import verify_set


def _spec(args: argparse.Namespace) -> ServerSpec:
    return ServerSpec.from_dsn(args.dsn) if args.dsn else ServerSpec()


def _progress(args: argparse.Namespace):
    """The command's progress callback (see :func:`main`)."""
    return args.progress


def _cmd_probe(args):
    caps = probe_server(_spec(args))
    return caps.as_dict(), "\n".join(caps.findings())


def _cmd_check(args):
    report = check_database(_spec(args), args.database)
    text = report.summary()
    if args.production:
        with connection(_spec(args).for_database(args.maintenance_db)) as conn:
            mark_production(conn, args.database)
        text += f" Marked {args.database} as production: ipai-ops will not drop or replace it."
    return report.as_dict() | {"production": args.production}, text


def _cmd_backup(args):
    result = backup_database(
        _spec(args),
        args.database,
        LocalTarget(args.target),
        filestore=args.filestore,
        kind=args.kind,
        jobs=args.jobs,
        progress=_progress(args),
    )
    return {"set_id": result.set_id, "manifest": result.manifest}, result.summary


def _cmd_restore(args):
    result = restore_backup(
        _spec(args),
        LocalTarget(args.target),
        args.set_id,
        args.database,
        filestore=args.filestore,
        mode="replace" if args.replace else "new",
        force_disconnect=args.force_disconnect,
        allow_production=args.allow_production,
        jobs=args.jobs,
        progress=_progress(args),
    )
    return vars(result), result.summary


def _cmd_list(args):
    target = LocalTarget(args.target)
    rows = []
    for set_id, manifest, why in target.manifests():
        if manifest is None:
            rows.append({"set_id": set_id, "corrupt": why, "kind": "CORRUPT", "dump_bytes": 0,
                         "filestore_files": 0})  # fmt: skip
            continue
        files = manifest.get("filestore") or {}
        rows.append(
            {
                "set_id": set_id,
                "database": manifest["database"],
                "kind": manifest["kind"],
                "started_at": manifest["started_at"],
                "dump_bytes": manifest["dump"]["bytes"],
                "filestore_files": files.get("file_count", 0),
                "filestore_bytes": files.get("bytes", 0),
            }
        )
    text = "\n".join(
        f"{r['set_id']}  CORRUPT: {r['corrupt']}"
        if r.get("corrupt")
        else f"{r['set_id']}  {r['kind']:<10} {r['dump_bytes'] / 1024**2:9.1f} MiB dump"
        f"  {r['filestore_files']:7d} files"
        for r in rows
    )
    return {"sets": rows}, text or "No backups on this target."


def _cmd_verify(args):
    _manifest, report = verify_set(LocalTarget(args.target), args.set_id, deep=args.deep)
    return vars(report), report.summary


def _cmd_prune(args):
    policy = RetentionPolicy(args.daily, args.weekly, args.monthly, args.manual_days)
    report = prune_target(LocalTarget(args.target), policy)
    return vars(report), report.summary


def _cmd_export_zip(args):
    target = LocalTarget(args.target)
    if args.output == "-":
        files = export_zip(target, args.set_id, sys.stdout.buffer)
    else:
        try:
            with open(args.output, "wb") as out:
                files = export_zip(target, args.set_id, out)
        except BaseException:  # no half-written zip that looks like a backup
            Path(args.output).unlink(missing_ok=True)
            raise
    return {"set_id": args.set_id, "output": args.output, "files": files}, (
        f"Wrote {args.set_id} as an Odoo zip ({files} filestore files) to {args.output}."
    )


def _cmd_import_zip(args):
    result = import_zip(
        _spec(args), args.zip, LocalTarget(args.target), database=args.database,
        progress=_progress(args),
    )  # fmt: skip
    return {"set_id": result.set_id, "manifest": result.manifest}, result.summary


def _catcher(value: str | None):
    if not value:
        return None
    host, _, port = value.rpartition(":")
    return (host or "127.0.0.1", int(port))


def _prepare(args):
    """Mask and prove no original value survived, then neutralize: the safe-copy recipe."""
    masking = None if args.no_mask else Masking(admin_password=args.admin_password)

    def prepare(database: str, progress=None) -> dict:
        made = make_safe(
            _spec(args), database, source=args.source, masking=masking, progress=progress,
            neutralize={
                "addons_paths": args.addons_path, "base_url": args.base_url,
                "mail_catcher": _catcher(args.mail_catcher),
                "mail_login": args.target,  # the copy's final name, not the scratch one
            },
        )  # fmt: skip
        out = {"neutralization": vars(made.neutralization), "seconds": made.seconds}
        if made.masking:
            out["masking"] = vars(made.masking)
        return out

    return prepare


def _cmd_clone(args):
    result = clone_database(
        _spec(args),
        args.source,
        args.target,
        source_filestore=args.source_filestore,
        target_filestore=args.target_filestore,
        method=args.method,
        prepare=_prepare(args),
        progress=_progress(args),
    )
    return {**vars(result), "prepared": result.prepared}, result.summary


def _cmd_neutralize(args):
    report = neutralize_database(
        _spec(args), args.database, addons_paths=args.addons_path, base_url=args.base_url,
        mail_catcher=_catcher(args.mail_catcher),
    )  # fmt: skip
    return vars(report), report.summary


def _cmd_mask(args):
    report = mask_database(
        _spec(args), args.database, admin_password=args.admin_password, progress=_progress(args)
    )
    if args.check_against:
        spec = _spec(args)
        report.survivors = check_no_survivors(spec, spec, (args.check_against, args.database))
        raise_on_survivors(report.survivors)
    return vars(report), report.summary


def _cmd_mail_catcher(args):
    """Catch the copies' mail until interrupted (Ctrl-C, SIGTERM)."""
    host, _, port = args.listen.rpartition(":")
    controller = mail_catcher.start(Path(args.spool), host=host or "127.0.0.1", port=int(port))
    print(f"catching mail on {args.listen} into {args.spool}", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    return {"spool": args.spool}, "stopped"


def _add_target(parser):
    parser.add_argument("--target", required=True, help="storage target directory")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ipai-ops", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"ipai-ops {__version__}")
    parser.add_argument("--dsn", help="libpq connection string or URI (default: PG* variables)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_server_commands(commands)
    _add_backup_commands(commands)
    _add_set_commands(commands)
    _add_staging_commands(commands)
    add_report_commands(commands)
    return parser


def _add_neutralize_options(parser) -> None:
    parser.add_argument(
        "--addons-path", action="append", required=True, help="addons directory (repeatable)"
    )
    parser.add_argument("--base-url", help="web.base.url of the copy")
    parser.add_argument("--mail-catcher", help="host:port of an SMTP catcher for outgoing mail")


def _add_staging_commands(commands) -> None:
    catcher = commands.add_parser(
        "mail-catcher", help="keep the copies' outgoing mail (an SMTP sink), deliver none"
    )
    catcher.add_argument("--spool", required=True, help="directory the mails are filed in")
    catcher.add_argument("--listen", default="127.0.0.1:2525", help="host:port (loopback)")
    catcher.set_defaults(handler=_cmd_mail_catcher)

    clone = commands.add_parser("clone", help="a neutralized, masked copy of a database")
    clone.add_argument("source")
    clone.add_argument("target")
    clone.add_argument("--source-filestore")
    clone.add_argument("--target-filestore")
    clone.add_argument("--method", choices=CLONE_METHODS, default="auto")
    _add_neutralize_options(clone)
    clone.add_argument("--no-mask", action="store_true", help="keep personal data as is")
    clone.add_argument("--admin-password", help="known password for the admin account")
    clone.set_defaults(handler=_cmd_clone)

    neutralize = commands.add_parser("neutralize", help="neutralize a copy and verify it")
    neutralize.add_argument("database")
    _add_neutralize_options(neutralize)
    neutralize.set_defaults(handler=_cmd_neutralize)

    mask = commands.add_parser("mask", help="mask personal data in a copy")
    mask.add_argument("database")
    mask.add_argument("--admin-password", help="known password for the admin account")
    mask.add_argument("--check-against", metavar="SOURCE", help="prove no value of SOURCE survives")
    mask.set_defaults(handler=_cmd_mask)


def _add_server_commands(commands) -> None:
    probe = commands.add_parser("probe", help="what the server offers (version, extensions, role)")
    probe.set_defaults(handler=_cmd_probe)
    check = commands.add_parser("check", help="what a database holds (size, Odoo version)")
    check.add_argument("database")
    check.add_argument(
        "--production", action="store_true",
        help="mark it as production: the engine then refuses to drop, replace, neutralize or "
        "mask it without an explicit override",
    )  # fmt: skip
    check.add_argument("--maintenance-db", default="postgres", help=argparse.SUPPRESS)
    check.set_defaults(handler=_cmd_check)


def _add_backup_commands(commands) -> None:
    backup = commands.add_parser("backup", help="back up a database and its filestore")
    backup.add_argument("database")
    _add_target(backup)
    backup.add_argument("--filestore", help="the database's filestore directory")
    backup.add_argument("--kind", choices=BACKUP_KINDS, default="manual")
    backup.add_argument("--jobs", type=int, help="parallel dump jobs")
    backup.set_defaults(handler=_cmd_backup)

    restore = commands.add_parser("restore", help="restore a backup set")
    restore.add_argument("set_id")
    restore.add_argument("database", help="database to create (or replace)")
    _add_target(restore)
    restore.add_argument("--filestore", help="filestore directory to create (or replace)")
    restore.add_argument("--replace", action="store_true", help="replace an existing database")
    restore.add_argument("--force-disconnect", action="store_true")
    restore.add_argument("--allow-production", action="store_true")
    restore.add_argument("--jobs", type=int, help="parallel restore jobs")
    restore.set_defaults(handler=_cmd_restore)

    imp = commands.add_parser("import-zip", help="turn an Odoo backup zip into a backup set")
    imp.add_argument("zip", help="zip from Odoo.sh, Odoo Online or a database manager")
    _add_target(imp)
    imp.add_argument("--database", help="file the set under this database name")
    imp.set_defaults(handler=_cmd_import_zip)


def _add_set_commands(commands) -> None:
    listing = commands.add_parser("list", help="the backup sets on a target")
    _add_target(listing)
    listing.set_defaults(handler=_cmd_list)

    verify = commands.add_parser("verify", help="check a set against its manifest")
    verify.add_argument("set_id")
    _add_target(verify)
    verify.add_argument("--deep", action="store_true", help="re-hash every filestore blob")
    verify.set_defaults(handler=_cmd_verify)

    export = commands.add_parser("export-zip", help="write a set as the zip Odoo imports")
    export.add_argument("set_id")
    _add_target(export)
    export.add_argument("--output", required=True, help="zip file to write, - for stdout")
    export.set_defaults(handler=_cmd_export_zip)

    prune = commands.add_parser("prune", help="apply GFS retention and collect unused blobs")
    _add_target(prune)
    prune.add_argument("--daily", type=int, default=7)
    prune.add_argument("--weekly", type=int, default=4)
    prune.add_argument("--monthly", type=int, default=3)
    prune.add_argument("--manual-days", type=int, default=30)
    prune.set_defaults(handler=_cmd_prune)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with progress_on(sys.stderr, silent=args.json or args.quiet) as progress:
            args.progress = progress
            data, text = args.handler(args)
    except OpsError as exc:
        if args.json:
            print(json.dumps({"ok": False, "error": str(exc), "kind": type(exc).__name__}))
        else:
            print(f"ipai-ops: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps({"ok": True, **data}, default=str))
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
