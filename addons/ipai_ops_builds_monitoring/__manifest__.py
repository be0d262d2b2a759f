{
    "name": "Operations Control Plane (builds in monitoring)",
    "summary": "Top queries and regression alerts name the build that changed the modules",
    "version": "19.0.1.0.0",
    "category": "Administration",
    "website": "https://github.com/ipai-ops/ipai-ops",
    "author": "ipai-ops",
    "license": "AGPL-3",
    "depends": ["ipai_ops_builds", "ipai_ops_monitoring"],
    "data": ["views/ops_module_change_views.xml"],
    "auto_install": True,
    "installable": True,
}
