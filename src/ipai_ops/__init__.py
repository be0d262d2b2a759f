"""ipai-ops engine: the operations an Odoo control plane runs against PostgreSQL.

Plain Python + psycopg2 + the PostgreSQL client tools. It never imports odoo:
the addons call it, and so does the ``ipai-ops`` command line when the Odoo
that hosts the control plane is itself down.
"""

__version__ = "0.1.0"
