"""Generate each addon's README.rst from its manifest and its readme/*.md fragments.

    .venv/bin/python setup/gen_readme.py            rewrite every addons/ipai_ops_*/README.rst
    .venv/bin/python setup/gen_readme.py --check    exit 1, naming the addon, when one is stale
    .venv/bin/python setup/gen_readme.py ADDON_DIR  only these addons

The layout is OCA's (oca-gen-addon-readme, not installable here): the manifest's
``name`` as title, its ``summary``, a table of contents, then Description,
Use Cases / Context, Installation, Configuration, Usage, Development, Known
issues / Roadmap and Changelog from whichever fragments exist, a Bug Tracker
and the Credits. The fragments are Markdown; the subset they use (headings,
paragraphs, nested lists, code, bold, italic, links, fenced code) is converted
here. When docutils is installed (Odoo requires it) the result is parsed, and
any docutils warning fails the run: GitHub and Odoo's Apps page render RST
with docutils too, and show a warning as broken text.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# fragment -> section title, in OCA's order
SECTIONS = {
    "DESCRIPTION": "Description",
    "CONTEXT": "Use Cases / Context",
    "INSTALL": "Installation",
    "CONFIGURE": "Configuration",
    "USAGE": "Usage",
    "DEVELOP": "Development",
    "ROADMAP": "Known issues / Roadmap",
    "HISTORY": "Changelog",
}
CREDITS = {"CONTRIBUTORS": "Contributors", "CREDITS": "Other credits"}
# underlines: "=" is a section of the README, fragments' own headings go below it
SUBSECTION_UNDERLINES = "-~^\"'"

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*```\s*([\w+-]*)\s*$")
LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+\.)\s+(.*)$")
# what may stand right before and right after RST inline markup (besides whitespace)
OPENERS = "'\"([{<-/:\u2018\u201c"
CLOSERS = "'\")]}>-/:.,;!?\\\u2019\u201d\u2026"
INLINE = re.compile(
    r"`(?P<code>[^`]+)`"
    r"|\*\*(?P<bold>[^*]+)\*\*"
    r"|\*(?P<italic>[^*\s][^*]*)\*"
    r"|\[(?P<text>[^\]]+)\]\((?P<url>[^)\s]+)\)"
)


# --- Markdown to reStructuredText ---------------------------------------------------


def inline(text: str) -> str:
    """Code, bold, italic and links of one line of Markdown, as RST."""
    out, end = [], 0
    for match in INLINE.finditer(text):
        out.append(_plain(text[end : match.start()]))
        out.append(_markup(match, before=text[: match.start()], after=text[match.end() :]))
        end = match.end()
    out.append(_plain(text[end:]))
    return "".join(out)


def _markup(match: re.Match, *, before: str, after: str) -> str:
    if match["code"] is not None:
        rst = f"``{match['code']}``"
    elif match["bold"] is not None:
        rst = f"**{_plain(match['bold'])}**"
    elif match["italic"] is not None:
        rst = f"*{_plain(match['italic'])}*"
    else:  # anonymous: two links with the same text are no duplicate target
        rst = f"`{_plain(match['text'])} <{match['url']}>`__"
    # RST markup must stand apart from the text around it; "\ " joins it invisibly
    if before and not before[-1].isspace() and before[-1] not in OPENERS:
        rst = "\\ " + rst
    if after and not after[0].isspace() and after[0] not in CLOSERS:
        rst += "\\ "
    return rst


def _plain(text: str) -> str:
    """Text with the characters RST would read as markup escaped."""
    text = re.sub(r"([\\*`|])", r"\\\1", text)
    return re.sub(r"(\w)_(?!\w)", r"\1\\_", text)  # "word_" is a reference in RST


def markdown_to_rst(markdown: str) -> str:
    lines = markdown.expandtabs(4).splitlines()
    levels = sorted({len(m[1]) for line in lines if (m := HEADING.match(line))})
    underlines = dict(zip(levels, SUBSECTION_UNDERLINES, strict=False))
    return "\n\n".join(_blocks(lines, underlines)) + "\n"


def _blocks(lines: list[str], underlines: dict[int, str]) -> list[str]:
    """The RST blocks (paragraphs, headings, lists, code) of some lines of Markdown."""
    blocks, i = [], 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif heading := HEADING.match(line):
            title = inline(heading[2])
            blocks.append(f"{title}\n{underlines[len(heading[1])] * len(title)}")
            i += 1
        elif fence := FENCE.match(line):
            block, i = _code(lines, i, fence[1])
            blocks.append(block)
        elif LIST_ITEM.match(line):
            block, i = _list(lines, i, underlines)
            blocks.append(block)
        else:
            block, i = _paragraph(lines, i)
            blocks.append(block)
    return blocks


def _paragraph(lines: list[str], i: int) -> tuple[str, int]:
    text = []
    while i < len(lines) and lines[i].strip() and not _starts_block(lines[i]):
        text.append(inline(lines[i].strip()))
        i += 1
    return "\n".join(text), i


def _starts_block(line: str) -> bool:
    return bool(HEADING.match(line) or FENCE.match(line) or LIST_ITEM.match(line))


def _code(lines: list[str], i: int, language: str) -> tuple[str, int]:
    body, i = [], i + 1
    while i < len(lines) and not FENCE.match(lines[i]):
        body.append(lines[i])
        i += 1
    indent = min((len(b) - len(b.lstrip()) for b in body if b.strip()), default=0)
    code = "\n".join(f"   {b[indent:]}".rstrip() for b in body)
    return f".. code-block:: {language or 'text'}\n\n{code}", i + 1


def _list(lines: list[str], i: int, underlines: dict[int, str]) -> tuple[str, int]:
    """A list and its nested blocks; items at the first item's indentation."""
    indent = len(LIST_ITEM.match(lines[i])[1])
    items, number = [], None
    while i < len(lines):
        item = LIST_ITEM.match(lines[i])
        if not item or len(item[1]) != indent:
            break
        if item[2][0].isdigit():
            number = int(item[2][:-1]) if number is None else number + 1
            marker = f"{number}."
        else:
            marker = "-"
        body, i = _item_lines(lines, i, indent, item.start(3), item[3])
        blocks = _blocks(body, underlines)
        pad = " " * (len(marker) + 1)
        text = "\n\n".join(blocks).replace("\n", "\n" + pad).replace("\n" + pad + "\n", "\n\n")
        items.append((f"{marker} {text}", len(blocks) > 1))
    loose = any(nested for _text, nested in items)  # nested blocks need blank lines around
    return ("\n\n" if loose else "\n").join(text for text, _nested in items), i


def _item_lines(
    lines: list[str], i: int, indent: int, column: int, first: str
) -> tuple[list[str], int]:
    """An item's own lines, dedented by its text's ``column``: its first line's text and the
    lines indented under it."""
    body, i = [first], i + 1
    while i < len(lines):
        line = lines[i]
        depth = len(line) - len(line.lstrip())
        if line.strip() and depth <= indent:
            break
        if not line.strip():  # a blank line ends the item unless indented text follows
            following = next((n for n in lines[i + 1 :] if n.strip()), "")
            if len(following) - len(following.lstrip()) <= indent:
                break
        body.append(line[min(depth, column) :] if line.strip() else "")
        i += 1
    return body, i


# --- the README ---------------------------------------------------------------------


def read_manifest(addon: Path) -> dict:
    return ast.literal_eval((addon / "__manifest__.py").read_text(encoding="utf-8"))


def _title(text: str, underline: str, *, overline: bool = False) -> str:
    rule = underline * len(text)
    return f"{rule}\n{text}\n{rule}" if overline else f"{text}\n{rule}"


def _fragment(addon: Path, name: str) -> str | None:
    path = addon / "readme" / f"{name}.md"
    if not path.is_file() or not path.read_text(encoding="utf-8").strip():
        return None
    return markdown_to_rst(path.read_text(encoding="utf-8")).strip()


def render(addon: Path) -> str:
    """The README.rst of ``addon`` as its manifest and fragments say."""
    manifest = read_manifest(addon)
    parts = [
        _title(manifest["name"], "=", overline=True),
        "..\n   !! Generated by setup/gen_readme.py from the manifest and readme/*.md:\n"
        "   !! edit those, then run .venv/bin/python setup/gen_readme.py",
    ]
    if manifest.get("summary"):
        parts.append(inline(manifest["summary"]))
    parts.append("**Table of contents**\n\n.. contents::\n   :local:")
    for name, title in SECTIONS.items():
        if (text := _fragment(addon, name)) is not None:
            parts += [_title(title, "="), text]
    if website := manifest.get("website", "").rstrip("/"):
        parts += [
            _title("Bug Tracker", "="),
            f"Bugs are tracked on `GitHub Issues <{website}/issues>`__.\n"
            "In case of trouble, please check there if your issue has already been reported.",
        ]
    parts += _credits(addon, manifest)
    return "\n\n".join(parts) + "\n"


def _credits(addon: Path, manifest: dict) -> list[str]:
    authors = [a.strip() for a in manifest.get("author", "").split(",") if a.strip()]
    parts = [_title("Credits", "=")]
    if authors:
        parts += [_title("Authors", "-"), "\n".join(f"- {inline(a)}" for a in authors)]
    for name, title in CREDITS.items():
        if (text := _fragment(addon, name)) is not None:
            parts += [_title(title, "-"), text]
    return parts


def docutils_warnings(rst: str) -> str | None:
    """What docutils says about ``rst`` at warning level and above; ``None`` without docutils."""
    try:
        from docutils.core import publish_doctree  # noqa: PLC0415 - optional
    except ImportError:
        return None
    stream = io.StringIO()
    publish_doctree(
        rst,
        settings_overrides={
            "report_level": 2,  # warnings and worse
            "halt_level": 5,  # report them all, stop at none
            "warning_stream": stream,
            "syntax_highlight": "none",  # no Pygments needed to parse code blocks
            "file_insertion_enabled": False,
            "raw_enabled": False,
        },
    )
    return stream.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; fail if stale")
    parser.add_argument("addons", nargs="*", type=Path, help="addon directories (default: all)")
    args = parser.parse_args(argv)
    addons = args.addons or sorted((PROJECT_ROOT / "addons").glob("ipai_ops_*/__manifest__.py"))
    failed = False
    for addon in (a.parent if a.name == "__manifest__.py" else a for a in addons):
        rst = render(addon)
        if warnings := docutils_warnings(rst):
            print(
                f"{addon.name}: the generated README.rst has errors:\n{warnings}", file=sys.stderr
            )
            failed = True
            continue
        readme = addon / "README.rst"
        current = readme.read_text(encoding="utf-8") if readme.exists() else None
        if current == rst:
            continue
        if args.check:
            print(
                f"{addon.name}: README.rst differs from its readme/*.md fragments; "
                "run .venv/bin/python setup/gen_readme.py",
                file=sys.stderr,
            )
            failed = True
        else:
            readme.write_text(rst, encoding="utf-8")
            print(f"{addon.name}: README.rst written")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
