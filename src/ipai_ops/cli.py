"""``ipai-ops``: the engine's operations from a shell.

For scripts and for disaster recovery, when the Odoo that hosts the control
plane is down. Connection settings come from ``--dsn`` (a libpq connection
string or URI) or from the usual ``PG*`` variables; put the password in
``PGPASSWORD`` or ``~/.pgpass`` rather than on the command line.

Exit codes: 0 success, 1 operation failed, 2 usage error, 3 connection failed,
4 invalid name or input.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from .check import check_database
from .connection import ServerSpec
from .errors import OpsError
from .probe import probe_server


def _spec(args: argparse.Namespace) -> ServerSpec:
    return ServerSpec.from_dsn(args.dsn) if args.dsn else ServerSpec()


def _cmd_probe(args: argparse.Namespace) -> tuple[dict, str]:
    caps = probe_server(_spec(args))
    return caps.as_dict(), "\n".join(caps.findings())


def _cmd_check(args: argparse.Namespace) -> tuple[dict, str]:
    report = check_database(_spec(args), args.database)
    return report.as_dict(), report.summary()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ipai-ops", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"ipai-ops {__version__}")
    parser.add_argument("--dsn", help="libpq connection string or URI (default: PG* variables)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    commands = parser.add_subparsers(dest="command", required=True)
    probe = commands.add_parser("probe", help="what the server offers (version, extensions, role)")
    probe.set_defaults(handler=_cmd_probe)
    check = commands.add_parser("check", help="what a database holds (size, Odoo version)")
    check.add_argument("database")
    check.set_defaults(handler=_cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
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
