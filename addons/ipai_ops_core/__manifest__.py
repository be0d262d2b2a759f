{
    "name": "Operations Control Plane (core)",
    "summary": "Projects, environments, database servers, project roles and the audited run "
    "executor of the ipai-ops control plane",
    "version": "19.0.1.0.0",
    "category": "Administration",
    "website": "https://github.com/ipai-ops/ipai-ops",
    "author": "ipai-ops",
    "license": "AGPL-3",
    "application": True,
    "depends": ["mail"],
    "external_dependencies": {"python": ["ipai_ops"]},
    "data": [
        "security/ipai_ops_security.xml",
        "security/ir.model.access.csv",
        "security/ipai_ops_rules.xml",
        "data/ir_sequence.xml",
        "data/ir_cron.xml",
        "views/ops_db_server_views.xml",
        "views/ops_run_views.xml",
        "views/ops_environment_views.xml",
        "views/ops_project_views.xml",
        "views/menus.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "ipai_ops_core/static/src/live/*.js",
        ],
        "web.assets_tests": [
            "ipai_ops_core/static/tests/tours/*.js",
        ],
    },
    "installable": True,
}
