#!/bin/sh
# `docker run odoo:19 --some-option` runs odoo with it; any other command runs as given.
# Unlike the official image this passes no database settings on the command line: the
# configuration file (ODOO_RC) and libpq's PG* variables / PGPASSFILE carry them.
set -e
case "${1:-}" in
    -*) set -- odoo "$@" ;;
esac
exec "$@"
