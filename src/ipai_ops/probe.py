"""What a PostgreSQL server offers us, in plain words.

``probe_server`` answers the questions an administrator asks when adding a
server: which version, is pg_stat_statements preloaded and installed, and what
may our role do (superuser, CREATEDB, read every role's statistics). Each missing
capability comes with the exact change that would provide it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .connection import ServerSpec, connection

MIN_SERVER_VERSION_NUM = 120000  # PostgreSQL 12: oldest release we support

_ROLE_QUERY = """
SELECT current_setting('server_version'),
       current_setting('server_version_num')::int,
       -- the library's settings exist only once it is loaded; unlike
       -- shared_preload_libraries itself, pg_settings is readable by any role
       EXISTS (SELECT 1 FROM pg_settings WHERE name = 'pg_stat_statements.max'),
       current_setting('max_connections')::int,
       current_user,
       current_database(),
       r.rolsuper,
       r.rolcreatedb,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'),
       pg_has_role(current_user, 'pg_monitor', 'USAGE')
  FROM pg_roles r
 WHERE r.rolname = current_user
"""

# roles owning databases (templates and the maintenance database aside) that we
# are not a member of: their databases cannot be backed up, copied or replaced by us
_FOREIGN_OWNERS_QUERY = """
SELECT pg_get_userbyid(d.datdba), array_agg(d.datname ORDER BY d.datname)
  FROM pg_database d
 WHERE NOT d.datistemplate AND d.datname <> 'postgres'
   AND NOT pg_has_role(current_user, d.datdba, 'USAGE')
 GROUP BY d.datdba
"""

_EXTENSION_QUERY = """
SELECT (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'),
       (SELECT default_version FROM pg_available_extensions WHERE name = 'pg_stat_statements'),
       (SELECT coalesce(bool_or(has_function_privilege(p.oid, 'EXECUTE')), false)
          FROM pg_proc p WHERE p.proname = 'pg_stat_statements_reset')
"""


@dataclass(frozen=True)
class ServerCapabilities:
    """The result of a probe; ``findings`` says the same in plain words."""

    server_version: str
    server_version_num: int
    database: str
    role: str
    superuser: bool
    createdb: bool
    read_all_stats: bool
    monitor: bool
    max_connections: int
    pgss_preloaded: bool
    pgss_installed_version: str | None
    pgss_available_version: str | None
    may_reset: bool = False
    foreign_owners: dict | None = None  # {role: [databases]} we are no member of

    @property
    def supported(self) -> bool:
        return self.server_version_num >= MIN_SERVER_VERSION_NUM

    @property
    def pgss_ready(self) -> bool:
        return self.pgss_preloaded and self.pgss_installed_version is not None

    def findings(self) -> list[str]:
        """One sentence per capability; missing ones say what to change."""
        lines = [f"PostgreSQL {self.server_version} (max_connections = {self.max_connections})."]
        if not self.supported:
            lines.append("This PostgreSQL release is older than 12 and is not supported.")
        lines.extend(self._pgss_findings())
        lines.extend(self._role_findings())
        return lines

    def _pgss_findings(self) -> list[str]:
        lines = []
        if self.pgss_preloaded:
            lines.append("pg_stat_statements is preloaded (shared_preload_libraries).")
        else:
            lines.append(
                "pg_stat_statements is NOT preloaded: add pg_stat_statements to "
                "shared_preload_libraries in postgresql.conf "
                "(shared_preload_libraries = 'pg_stat_statements') and restart the server."
            )
        if self.pgss_installed_version:
            lines.append(
                f"pg_stat_statements {self.pgss_installed_version} is installed in database "
                f"{self.database!r}."
            )
        elif self.pgss_available_version:
            lines.append(
                f"pg_stat_statements is NOT installed in database {self.database!r}: run "
                "CREATE EXTENSION pg_stat_statements; there as a superuser."
            )
        else:
            lines.append(
                "pg_stat_statements is not available on this server: install the PostgreSQL "
                "contrib package."
            )
        return lines

    def _role_findings(self) -> list[str]:
        role = self.role
        if self.superuser:
            return [f"Role {role!r} is a superuser: it may do everything below."]
        lines = [f"Role {role!r} is not a superuser."]
        if self.createdb:
            lines.append(f"Role {role!r} may create databases (CREATEDB).")
        else:
            lines.append(
                f"Role {role!r} may NOT create databases: staging clones and restores need "
                f"ALTER ROLE {role} CREATEDB;"
            )
        if self.read_all_stats:
            lines.append(f"Role {role!r} may read every role's statistics and query texts.")
        else:
            lines.append(
                f"Role {role!r} may NOT read other roles' query texts: "
                f"GRANT pg_read_all_stats TO {role};"
            )
        for owner, databases in (self.foreign_owners or {}).items():
            shown = ", ".join(databases[:5]) + (" …" if len(databases) > 5 else "")
            lines.append(
                f"Role {role!r} is NOT a member of {owner!r}, which owns {shown}: backups, "
                f"copies and restores of those fail. GRANT {owner} TO {role}; (the role Odoo "
                "connects as)"
            )
        if self.pgss_installed_version and not self.may_reset:
            lines.append(
                f"Role {role!r} may not reset pg_stat_statements (optional): GRANT EXECUTE ON "
                f"FUNCTION pg_stat_statements_reset TO {role};"
            )
        return lines

    def as_dict(self) -> dict:
        data = asdict(self)
        data["findings"] = self.findings()
        return data


def probe_server(spec: ServerSpec) -> ServerCapabilities:
    """Connect to ``spec`` (its database, or ``postgres``) and report what it offers."""
    target = spec if spec.dbname else spec.for_database("postgres")
    with connection(target) as conn, conn.cursor() as cur:
        cur.execute(_ROLE_QUERY)
        (
            version,
            version_num,
            preloaded,
            max_conn,
            role,
            database,
            superuser,
            createdb,
            read_all_stats,
            monitor,
        ) = cur.fetchone()
        cur.execute(_EXTENSION_QUERY)
        installed, available, may_reset = cur.fetchone()
        cur.execute(_FOREIGN_OWNERS_QUERY)
        foreign = {owner: list(databases) for owner, databases in cur.fetchall()}
    return ServerCapabilities(
        server_version=version,
        server_version_num=version_num,
        database=database,
        role=role,
        superuser=superuser,
        createdb=createdb or superuser,
        read_all_stats=read_all_stats or superuser,
        monitor=monitor or superuser,
        max_connections=max_conn,
        pgss_preloaded=preloaded,
        pgss_installed_version=installed,
        pgss_available_version=available,
        may_reset=may_reset or superuser,
        foreign_owners=foreign,
    )
