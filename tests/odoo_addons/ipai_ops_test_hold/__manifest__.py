{
    "name": "ipai-ops tests: a run that waits where a test says",
    "summary": "Test support only, never shipped: the 'hold' run kind",
    "version": "19.0.1.0.0",
    "author": "ipai-ops",
    "website": "https://github.com/ipai-ops/ipai-ops",
    "license": "AGPL-3",
    "depends": ["ipai_ops_core"],
    "installable": True,
}
