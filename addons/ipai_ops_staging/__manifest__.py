{
    "name": "Operations Control Plane (staging)",
    "summary": "Staging and development copies of production: cloned online, neutralized, "
    "PII-masked, verified, kept for a number of builds",
    "version": "19.0.1.0.0",
    "category": "Administration",
    "website": "https://github.com/ipai-ops/ipai-ops",
    "author": "ipai-ops",
    "license": "AGPL-3",
    "depends": ["ipai_ops_backup"],
    "external_dependencies": {"python": ["ipai_ops"], "bin": ["pg_dump", "pg_restore"]},
    "data": [
        "security/ir.model.access.csv",
        "security/ipai_ops_staging_rules.xml",
        "data/ir_cron.xml",
        "views/ops_mask_rule_views.xml",
        "views/ops_project_views.xml",
        "views/ops_environment_views.xml",
        "wizards/staging_wizard_views.xml",
        "views/menus.xml",
    ],
    "assets": {
        "web.assets_tests": ["ipai_ops_staging/static/tests/tours/*.js"],
    },
    "post_init_hook": "_create_default_mask_rules",
    "installable": True,
}
