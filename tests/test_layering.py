"""The layering rule: blocks/ and builder/ never import Qt or the app (docs/architecture.md)."""

import subprocess
import sys

from tests.conftest import ROOT


def test_import_linter_contracts_hold():
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_using_the_engine_loads_no_qt_and_no_qt_matplotlib_backend():
    code = (
        "import sys, builder, blocks\n"
        "from builder import load_graph, analyze, compile_graph\n"
        "g = load_graph('graphs/lenet5.yaml'); compile_graph(g)\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'gui')) or 'backend_qt' in m]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from builder.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_gui_uses_only_the_public_api_of_builder():
    """gui/ imports ``builder`` (its public names) but none of builder's modules."""
    import ast

    offenders = []
    for path in (ROOT / "gui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] \
                if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith("builder.")]
    assert not offenders, offenders
