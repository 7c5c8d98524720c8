"""docs/architecture.md names real files: every path it cites in backticks exists."""

import re

from tests.conftest import ROOT

DOC = ROOT / "docs" / "architecture.md"
# `builder/flow.py`, `builder/commands/`, `pyproject.toml`: a relative path with a folder or a
# file extension (dotted names such as `torch.fx` or `modelbuilder.commands` are not paths)
PATH = re.compile(r"[\w.-]+(?:/[\w.-]+)*/?")
FILE_TYPES = (".py", ".md", ".toml", ".yaml", ".yml", ".cfg", ".txt")


def cited_paths(text: str) -> list[str]:
    """The paths in inline backticks, outside fenced code blocks."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    spans = re.findall(r"`([^`\n]+)`", prose)
    return [s for s in spans if PATH.fullmatch(s) and ("/" in s or s.endswith(FILE_TYPES))]


def test_every_path_the_architecture_doc_cites_exists():
    paths = cited_paths(DOC.read_text(encoding="utf-8"))
    assert len(paths) >= 30, paths  # the doc names the modules it describes
    missing = sorted({p for p in paths if not (ROOT / p).exists()})
    assert not missing, f"docs/architecture.md cites paths that do not exist: {missing}"


def test_the_parser_finds_paths_and_skips_names():
    text = "`builder/flow.py`, `blocks/`, `pyproject.toml`, `torch.fx`, `a b/c`\n```\n`x/y.py`\n```\n"
    assert cited_paths(text) == ["builder/flow.py", "blocks/", "pyproject.toml"]


def test_the_layering_rule_points_at_the_architecture_doc():
    for path in ("pyproject.toml", "tests/test_layering.py"):
        text = (ROOT / path).read_text(encoding="utf-8")
        assert "docs/architecture.md" in text and "DESIGN.md" not in text, path
