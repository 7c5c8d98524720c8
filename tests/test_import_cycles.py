"""No import cycles between modules (issue 14), next to the layer contracts in pyproject.toml.

Two modules that import each other, through any chain, cannot be read, tested or changed
one at a time: a cycle is fixed by moving the shared types into a leaf module (as
builder/analysis_types.py, builder/exporting/trained.py) or by handing a function down
instead of importing it back (as the analysis does for composite blocks, and the main
window does for the part editor: gui/part_window.py gets a factory, not the window class).

Every import counts: at the top of a module, inside a function, and under
``TYPE_CHECKING`` (grimp, which import-linter is built on, sees them all), and so does a
name taken from a package's lazy export table (``builder.analyze`` is builder.analysis:
``import builder`` then ``builder.analyze(...)`` depends on builder.analysis, though grimp
sees only the package).
"""

from __future__ import annotations

import ast

import grimp
import networkx as nx
import pytest

from tests.conftest import ROOT

PACKAGES = ("blocks", "builder", "gui")

# Imports (importer, imported) that close a cycle still to be redesigned. The test leaves
# them out and finds no cycle in what remains; each one must still close a cycle, so an
# entry goes when its cycle is fixed. Empty: there is no cycle. Add none: fix the cycle instead.
KNOWN_CYCLES: dict[tuple[str, str], str] = {}


def lazy_exports(package: str) -> set[str]:
    """The modules that ``package``'s lazy export table (``_EXPORTS``, see builder/lazy.py)
    takes names from: importing a name from the package imports one of them."""
    init = ROOT.joinpath(*package.split("."), "__init__.py")
    if package.split(".")[0] not in PACKAGES or not init.is_file():
        return set()
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            return {target.partition(":")[0] for target in ast.literal_eval(node.value).values()}
    return set()


def import_graph(graph: grimp.ImportGraph, ignore=()) -> nx.DiGraph:
    """The module import graph as a networkx DiGraph, without the imports in ``ignore``."""
    edges = nx.DiGraph()
    edges.add_nodes_from(graph.modules)
    for module in graph.modules:
        imported = set(graph.find_modules_directly_imported_by(module)) | lazy_exports(module)
        edges.add_edges_from((module, other) for other in imported if (module, other) not in ignore)
    return edges


def cycles(graph: grimp.ImportGraph, ignore=()) -> list[list[str]]:
    """The groups of modules that import each other (strongly connected components of two
    or more modules), each sorted, without the imports in ``ignore``."""
    edges = import_graph(graph, ignore)
    return sorted(sorted(group) for group in nx.strongly_connected_components(edges) if len(group) > 1)


def describe(graph: grimp.ImportGraph, group: list[str], ignore=()) -> str:
    """A cycle's modules and the import lines that tie them together."""
    edges = import_graph(graph, ignore).subgraph(group)
    rings = []
    for module, imported in sorted(edges.edges):
        ring = [module, *nx.shortest_path(edges, imported, module)[:-1]]  # module -> imported -> ... -> module
        start = ring.index(min(ring))
        rings.append(ring[start:] + ring[:start])
    loop = min(rings, key=lambda ring: (len(ring), ring))  # a shortest one
    lines = [" <-> ".join(group), "  e.g. " + " -> ".join(loop + loop[:1])]
    for module, imported in sorted(edges.edges):
        details = graph.get_import_details(importer=module, imported=imported)
        where = f"  (line {details[0]['line_number']}: {details[0]['line_contents']})" if details \
            else "  (a name in its lazy export table)"
        lines.append(f"    {module} -> {imported}{where}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def project() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def test_no_import_cycles_between_modules(project):
    found = cycles(project, KNOWN_CYCLES)
    assert not found, "modules that import each other (issue 14):\n" + "\n".join(
        describe(project, group, KNOWN_CYCLES) for group in found)


def test_each_known_cycle_is_still_there(project):
    """An entry of KNOWN_CYCLES whose cycle was fixed must go, so the list only shrinks."""
    edges = import_graph(project)
    stale = [f"{importer} -> {imported}" for importer, imported in KNOWN_CYCLES
             if not edges.has_edge(importer, imported) or not nx.has_path(edges, imported, importer)]
    assert not stale, "no longer closes a cycle; remove it from KNOWN_CYCLES: " + ", ".join(stale)


def tiny_graph(*imports: tuple[str, str]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for importer, imported in imports:
        graph.add_import(importer=importer, imported=imported, line_number=1,
                         line_contents=f"import {imported}")
    return graph


def test_the_check_finds_a_cycle_through_any_chain():
    graph = tiny_graph(("tiny.a", "tiny.b"), ("tiny.b", "tiny.c"), ("tiny.c", "tiny.a"), ("tiny.c", "tiny.leaf"))
    assert cycles(graph) == [["tiny.a", "tiny.b", "tiny.c"]]
    message = describe(graph, ["tiny.a", "tiny.b", "tiny.c"])
    assert "tiny.c -> tiny.a  (line 1: import tiny.a)" in message and "e.g. tiny.a -> tiny.b -> tiny.c -> tiny.a" in message
    assert cycles(graph, {("tiny.c", "tiny.a")}) == []  # a listed import leaves it out
    assert cycles(tiny_graph(("tiny.a", "tiny.b"), ("tiny.b", "tiny.leaf"))) == []


def test_the_check_reads_the_lazy_export_tables():
    assert {"builder.analysis", "builder.compiler", "builder.exporting.api"} <= lazy_exports("builder")
    assert "builder.exporting.bundle" in lazy_exports("builder.exporting")
    assert lazy_exports("builder.graph") == set() and lazy_exports("tiny") == set()
