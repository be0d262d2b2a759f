from ipai_ops.mask import DEFAULT_RULES


def _create_default_mask_rules(env):
    """The engine's default rules become editable records: one definition, two places."""
    env["ipai.ops.mask.rule"].create(
        [
            {
                "sequence": 10 * index,
                "table_name": rule.table,
                "column_name": rule.column,
                "strategy": rule.strategy,
                "condition": rule.condition or False,
                "value": rule.value or False,
            }
            for index, rule in enumerate(DEFAULT_RULES, start=1)
        ]
    )
