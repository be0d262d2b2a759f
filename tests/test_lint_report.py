"""pylint-odoo on a repository's addons, with our configuration only."""

from pathlib import Path

from ipai_ops.lint_report import lint_modules


def _module(root: Path, name: str, manifest: str, model: str) -> None:
    (root / name / "models").mkdir(parents=True)
    (root / name / "__manifest__.py").write_text(manifest)
    (root / name / "__init__.py").write_text("from . import models\n")
    (root / name / "models" / "__init__.py").write_text("from . import shop\n")
    (root / name / "models" / "shop.py").write_text(model)


def test_flags_what_the_oca_refuses_and_runs_no_repository_config(tmp_path):
    tree = tmp_path / "tree"
    _module(tree, "shop", "{'name': 'Shop', 'version': '19.0.1.0.0', 'author': 'Acme'}\n",
            "from odoo import models\n\n\nclass Shop(models.Model):\n    _name = 'shop'\n\n"
            "    def ship(self):\n        print('shipping')\n")  # fmt: skip
    _module(tree, "clean", "{'name': 'Clean', 'version': '19.0.1.0.0', 'author': 'Acme', "
            "'license': 'LGPL-3'}\n", "from odoo import models\n")  # fmt: skip
    hooked = tmp_path / "hook-ran"
    (tree / ".pylintrc").write_text(f"[MASTER]\ninit-hook=open({str(hooked)!r}, 'w')\n")

    messages = lint_modules(tree)

    found = {(m.path, m.symbol) for m in messages}
    assert ("shop/models/shop.py", "print-used") in found
    assert ("shop/__manifest__.py", "manifest-required-key") in found
    assert not [m for m in messages if m.path.startswith("clean/")], messages
    assert not hooked.exists(), "the repository's own pylint configuration was run"
    assert "shop/models/shop.py:" in str(next(m for m in messages if m.symbol == "print-used"))


def test_a_tree_without_modules_has_nothing_to_say(tmp_path):
    assert lint_modules(tmp_path) == []
