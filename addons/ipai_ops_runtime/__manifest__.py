{
    "name": "Operations Control Plane (runtime)",
    "summary": "Environments that run: Odoo instances as Docker containers on runtime hosts, "
    "deployed, restarted without downtime, updated behind a backup, watched and logged",
    "version": "19.0.1.0.0",
    "category": "Administration",
    "website": "https://github.com/ipai-ops/ipai-ops",
    "author": "ipai-ops",
    "license": "AGPL-3",
    "depends": ["ipai_ops_backup", "ipai_ops_monitoring", "ipai_ops_staging"],
    "external_dependencies": {"python": ["ipai_ops", "docker", "requests"]},
    "data": [
        "security/ir.model.access.csv",
        "security/ipai_ops_runtime_rules.xml",
        "data/ir_cron.xml",
        "views/ops_runtime_host_views.xml",
        "views/ops_environment_views.xml",
        "views/ops_run_views.xml",
        "wizards/instance_log_views.xml",
        "wizards/instance_update_views.xml",
        "views/menus.xml",
    ],
    "assets": {
        "web.assets_tests": ["ipai_ops_runtime/static/tests/tours/*.js"],
    },
    "installable": True,
}
