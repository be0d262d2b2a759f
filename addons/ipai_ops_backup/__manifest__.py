{
    "name": "Operations Control Plane (backups)",
    "summary": "Verified, deduplicated backups with GFS retention, safe restores with "
    "approval for production, restore drills",
    "version": "19.0.1.0.0",
    "category": "Administration",
    "website": "https://github.com/ipai-ops/ipai-ops",
    "author": "ipai-ops",
    "license": "AGPL-3",
    "depends": ["ipai_ops_core"],
    "external_dependencies": {"python": ["ipai_ops"], "bin": ["pg_dump", "pg_restore"]},
    "data": [
        "security/ir.model.access.csv",
        "security/ipai_ops_backup_rules.xml",
        "data/ir_cron.xml",
        "data/mail_activity_type.xml",
        "views/ops_backup_target_views.xml",
        "views/ops_backup_views.xml",
        "views/ops_approval_views.xml",
        "views/ops_environment_views.xml",
        "views/ops_project_views.xml",
        "wizards/restore_wizard_views.xml",
        "views/menus.xml",
    ],
    "assets": {
        "web.assets_tests": ["ipai_ops_backup/static/tests/tours/*.js"],
    },
    "installable": True,
}
