"""README.rst generated from readme/*.md: OCA's layout, valid RST, and a stale one caught."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "setup" / "gen_readme.py"
docutils_nodes = pytest.importorskip("docutils.nodes")


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_readme", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def doctree(rst: str):
    from docutils.core import publish_doctree  # noqa: PLC0415

    return publish_doctree(rst, settings_overrides={"report_level": 5, "syntax_highlight": "none"})


def gen_readme(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


MARKDOWN = """Plain text with `code`s, **bold**, *italic* and a [link](https://example.com/x).

## A heading

1. First step,
   continued on the next line.
2. Second step:
   - a nested point
   - another one

```sh
ipai-ops backup mydb --target /backups
```
"""


def test_the_markdown_we_write_becomes_rst_docutils_reads_without_a_warning():
    generator = load_generator()
    rst = generator.markdown_to_rst(MARKDOWN)
    assert generator.docutils_warnings(rst) == ""
    tree = doctree(rst)
    texts = {type(node).__name__: node.astext() for node in tree.findall(docutils_nodes.Inline)}
    assert texts["literal"] == "code" and texts["strong"] == "bold"
    assert texts["emphasis"] == "italic" and texts["reference"] == "link"
    assert tree.next_node(docutils_nodes.reference)["refuri"] == "https://example.com/x"
    assert tree.next_node(docutils_nodes.title).astext() == "A heading"
    steps = tree.next_node(docutils_nodes.enumerated_list)
    assert steps.children[0].astext() == "First step,\ncontinued on the next line."
    nested = steps.children[1].next_node(docutils_nodes.bullet_list)
    assert [item.astext() for item in nested.children] == ["a nested point", "another one"]
    code = tree.next_node(docutils_nodes.literal_block)
    assert code.astext() == "ipai-ops backup mydb --target /backups"


def test_a_readme_has_the_manifest_title_summary_and_sections_in_oca_order():
    generator = load_generator()
    addon = ROOT / "addons" / "ipai_ops_core"
    manifest = generator.read_manifest(addon)
    tree = doctree(generator.render(addon))
    assert tree["title"] == manifest["name"]
    assert tree.next_node(docutils_nodes.paragraph).astext() == manifest["summary"]
    sections = [
        section.next_node(docutils_nodes.title).astext()
        for section in tree.children
        if isinstance(section, docutils_nodes.section)
    ]
    assert sections == ["Description", "Configuration", "Usage", "Bug Tracker", "Credits"]


def test_a_stale_readme_fails_the_check_by_name_until_regenerated(tmp_path):
    addon = tmp_path / "ipai_ops_backup"
    shutil.copytree(ROOT / "addons" / "ipai_ops_backup", addon)
    assert gen_readme("--check", str(addon)).returncode == 0, "the committed README is fresh"

    usage = addon / "readme" / "USAGE.md"
    usage.write_text(usage.read_text() + "\nRestores are listed under *Restores*.\n")
    stale = gen_readme("--check", str(addon))
    assert stale.returncode == 1
    assert "ipai_ops_backup: README.rst differs" in stale.stderr
    assert "Restores are listed" not in (addon / "README.rst").read_text(), "--check writes nothing"

    assert gen_readme(str(addon)).returncode == 0
    assert "Restores are listed under *Restores*." in (addon / "README.rst").read_text()
    assert gen_readme("--check", str(addon)).returncode == 0
