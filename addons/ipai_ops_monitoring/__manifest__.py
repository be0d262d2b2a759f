{
    "name": "Operations Control Plane (monitoring)",
    "summary": "pg_stat_statements top queries and regressions, sizes over time, activity and "
    "locks, index, vacuum and wraparound reports, settings and replication, alerts",
    "version": "19.0.1.0.0",
    "category": "Administration",
    "website": "https://github.com/ipai-ops/ipai-ops",
    "author": "ipai-ops",
    "license": "AGPL-3",
    "depends": ["ipai_ops_core"],
    "external_dependencies": {"python": ["ipai_ops"]},
    "data": [
        "security/ir.model.access.csv",
        "security/ipai_ops_monitoring_rules.xml",
        "data/ir_cron.xml",
        "data/mail_activity_type.xml",
        "views/ops_alert_views.xml",
        "views/ops_environment_views.xml",
        "views/ops_size_sample_views.xml",
        "views/ops_pgss_delta_views.xml",
        "wizards/top_queries_views.xml",
        "wizards/server_review_views.xml",
        "views/menus.xml",
    ],
    "assets": {
        "web.assets_tests": ["ipai_ops_monitoring/static/tests/tours/*.js"],
    },
    "installable": True,
}
