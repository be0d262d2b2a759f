"""The database reports of ``ipai-ops``, for when the Odoo of the control plane is down:
``top`` (statements), ``indexes``, ``vacuum-report``, ``settings`` and ``replication``."""

from __future__ import annotations

import argparse

from .activity import connections_by, read_activity
from .connection import ServerSpec
from .health import index_report, replication_report, settings_review, vacuum_report
from .index_advice import suggest_indexes, verify_suggestion
from .stats import top_statements


def _spec(args: argparse.Namespace) -> ServerSpec:
    return ServerSpec.from_dsn(args.dsn) if args.dsn else ServerSpec()


def _mib(count: int) -> str:
    return f"{count / 1024**2:.1f} MiB"


def _table(rows: list[dict], columns: list[tuple[str, str]], empty: str) -> str:
    """Rows as aligned text columns: (key, heading) pairs."""
    if not rows:
        return empty
    cells = [[heading for _key, heading in columns]]
    cells += [[str(row.get(key, "")) for key, _heading in columns] for row in rows]
    widths = [max(len(line[n]) for line in cells) for n in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def _cmd_top(args):
    rows = top_statements(
        _spec(args), args.database, limit=args.limit, order=args.order, min_mean_ms=args.slower_than
    )
    shown = [
        {**row, "total": f"{row['total_ms']:.1f} ms", "mean": f"{row['mean_ms']:.2f} ms",
         "text": " ".join(row["query"].split())[:90]}
        for row in rows
    ]  # fmt: skip
    columns = [("calls", "calls"), ("total", "total"), ("mean", "mean"), ("text", "statement")]
    return {"statements": rows}, _table(shown, columns, "No statement recorded yet.")


def _cmd_indexes(args):
    report = index_report(_spec(args), args.database)
    pairs = [{**p, "size": _mib(p["bytes"]), "kind": kind}
             for kind in ("duplicates", "redundant") for p in report[kind]]  # fmt: skip
    for pair in pairs:
        pair["kind"] = "duplicate" if pair["kind"] == "duplicates" else "redundant"
    lines = [
        _table(pairs, [("kind", "finding"), ("table_name", "table"), ("index", "index"),
                       ("covered_by", "covered by"), ("size", "size")],
               "No duplicate or redundant index."),
        _table(report["invalid"], [("table_name", "table"), ("name", "invalid index")],
               "No invalid index."),
    ]  # fmt: skip
    if report["unused_conclusive"]:
        unused = [{**i, "size": _mib(i["bytes"])} for i in report["unused"]]
        lines.append(_table(unused, [("table_name", "table"), ("name", "unused index"),
                                     ("size", "size")], "No unused index."))  # fmt: skip
    else:
        lines.append(
            f"Unused indexes: not judged, the statistics cover {report['stats_days']:.1f} days."
        )
    if args.suggest:
        report["suggestions"] = _suggestions(args)
        lines.append(
            _table(
                report["suggestions"],
                [
                    ("definition", "suggested (verify first)"),
                    ("total_ms", "time of its statements (ms)"),
                    ("proof", "EXPLAIN on the copy"),
                ],
                "No index to suggest.",
            )
        )
    return report, "\n\n".join(lines)


def _suggestions(args) -> list[dict]:
    found = []
    for suggestion in suggest_indexes(_spec(args), args.database):
        row = {**vars(suggestion), "definition": suggestion.definition}
        row["total_ms"] = f"{suggestion.total_ms:.0f}"
        if args.verify_on:
            proof = verify_suggestion(_spec(args), args.verify_on, suggestion)
            row["verification"] = proof
            row["proof"] = f"cost {proof['before_cost']:.0f} -> {proof['after_cost']:.0f}"
        found.append(row)
    return found


def _cmd_vacuum(args):
    report = vacuum_report(_spec(args), args.database)
    lines = [
        _table(report["overdue"], [("table_name", "table"), ("dead_rows", "dead rows"),
                                   ("last_autovacuum", "last autovacuum"),
                                   ("last_autoanalyze", "last autoanalyze")],
               "No table is past its autovacuum threshold."),
        _table(report["databases"], [("database", "database"), ("xid_age", "xid age"),
                                     ("wraparound_pct", "% to wraparound")], ""),
        _table(report["tables"][:10], [("table_name", "table"), ("xid_age", "xid age"),
                                       ("wraparound_pct", "% to wraparound")], ""),
        _table(report["sequences_near_max"], [("name", "sequence"), ("used_pct", "% used"),
                                              ("limit", "limit")],
               "No sequence is near its maximum."),
    ]  # fmt: skip
    return report, "\n\n".join(line for line in lines if line)


def _cmd_settings(args):
    review = settings_review(_spec(args))
    columns = [("status", "status"), ("name", "setting"), ("value", "value"), ("reason", "why")]
    return {"settings": review}, _table(review, columns, "")


def _cmd_connections(args):
    groups = connections_by(read_activity(_spec(args), with_text=False))
    columns = [("count", "sessions"), ("datname", "database"), ("usename", "user"),
               ("state", "state"), ("application_name", "application")]  # fmt: skip
    return {"groups": groups}, _table(groups, columns, "No client session.")


def _cmd_replication(args):
    report = replication_report(_spec(args))
    if report["is_standby"]:
        text = f"A standby, replaying {report['replay_delay'] or 0:.1f} s behind its primary."
    else:
        text = _table(report["standbys"], [("application_name", "standby"), ("state", "state"),
                                           ("replay_lag_bytes", "replay lag (bytes)")],
                      "No standby is connected.")  # fmt: skip
    slots = _table(report["slots"], [("slot_name", "slot"), ("active", "active"),
                                     ("retained_bytes", "WAL held (bytes)")],
                   "No replication slot.")  # fmt: skip
    return report, f"{text}\n\n{slots}"


def add_report_commands(commands) -> None:
    top = commands.add_parser("top", help="the costliest statements of a database")
    top.add_argument("database")
    top.add_argument("--limit", type=int, default=20)
    top.add_argument("--order", choices=("total_ms", "mean_ms", "calls"), default="total_ms")
    top.add_argument(
        "--slower-than", type=float, default=0.0, metavar="MS", help="only a mean above this"
    )
    top.set_defaults(handler=_cmd_top)
    connections = commands.add_parser("connections", help="sessions by database, user, state")
    connections.set_defaults(handler=_cmd_connections)
    indexes = commands.add_parser("indexes", help="duplicate, redundant, invalid, unused indexes")
    indexes.add_argument("database")
    indexes.add_argument("--suggest", action="store_true", help="also suggest missing indexes")
    indexes.add_argument(
        "--verify-on", metavar="COPY", help="prove each suggestion by EXPLAIN on this copy"
    )
    indexes.set_defaults(handler=_cmd_indexes)
    vacuum = commands.add_parser("vacuum-report", help="vacuum, wraparound age, sequences")
    vacuum.add_argument("database")
    vacuum.set_defaults(handler=_cmd_vacuum)
    settings = commands.add_parser("settings", help="server settings worth a look, and why")
    settings.set_defaults(handler=_cmd_settings)
    replication = commands.add_parser("replication", help="standbys, lag and slots")
    replication.set_defaults(handler=_cmd_replication)
