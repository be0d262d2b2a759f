{
    "name": "Operations Control Plane (builds)",
    "summary": "A project's git repository: pushes noticed by signed webhooks or polling, "
    "one build record per environment following the branch, with the commit and its changes",
    "version": "19.0.1.0.0",
    "category": "Administration",
    "website": "https://github.com/ipai-ops/ipai-ops",
    "author": "ipai-ops",
    "license": "AGPL-3",
    "depends": ["ipai_ops_runtime", "ipai_ops_staging"],
    "external_dependencies": {"python": ["ipai_ops"]},
    "data": [
        "security/ir.model.access.csv",
        "security/ipai_ops_builds_rules.xml",
        "data/ir_cron.xml",
        "views/ops_build_views.xml",
        "views/ops_environment_views.xml",
        "views/ops_project_views.xml",
        "views/menus.xml",
        "wizards/build_log_views.xml",
        "wizards/branch_wizard_views.xml",
    ],
    "assets": {
        "web.assets_tests": ["ipai_ops_builds/static/tests/tours/*.js"],
    },
    "installable": True,
}
