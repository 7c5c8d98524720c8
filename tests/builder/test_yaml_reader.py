"""The fast reader (libyaml events, builder/yaml_reader.py) reads every document as
ruamel's round-trip reader does: the same graph, the same problems at the same places,
and the same values for YAML 1.2's scalars. Checking and training use it; saving still
goes through ruamel, so comments survive."""

from __future__ import annotations

import random
import warnings

import pytest

from builder import GraphError, dump_graph, load_graph, parse_graph
from builder import yaml_reader
from builder.safe_yaml import load_document
from builder.yaml_format import _Reader, _yaml, plain
from tests.builder.graph_mutations import gallery_texts, mutate

pytestmark = pytest.mark.skipif(not yaml_reader.AVAILABLE, reason="PyYAML with libyaml is not installed")
TEXTS = gallery_texts()


def by_ruamel(text: str):
    """What parse_graph gave before the fast reader: the graph, or the problems."""
    reader = _Reader("case.yaml")
    try:
        doc, reader.problems = load_document(_yaml(), text, "case.yaml")
    except GraphError as err:
        return None, [(p.message, p.line) for p in err.problems]
    graph = reader.read(doc)
    if graph is None or any(p.is_error for p in reader.problems):
        return None, [(p.message, p.line, p.column) for p in reader.problems]
    return graph, [(p.message, p.line, p.column) for p in reader.problems]


def by_fast_reader(text: str):
    try:
        graph = parse_graph(text, "case.yaml")
    except GraphError as err:
        return None, [(p.message, p.line, p.column) for p in err.problems]
    return graph, [(p.message, p.line, p.column) for p in graph.load_warnings]


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_gallery_files_read_the_same(name):
    slow, slow_problems = by_ruamel(TEXTS[name])
    fast, fast_problems = by_fast_reader(TEXTS[name])
    assert fast == slow and fast.locations == slow.locations
    assert fast_problems == slow_problems


def test_mutated_documents_read_the_same():
    """120 mutated gallery files: where ruamel reads a graph, the fast reader reads the same
    graph with the same positions and problems; where ruamel refuses, so does it."""
    rng = random.Random(13)
    names = sorted(TEXTS)
    compared = refused = 0
    for _ in range(120):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            text, steps = mutate(rng, TEXTS[rng.choice(names)])
        if len(text) > 20_000:
            continue  # ruamel takes seconds on the big ones; they are read alike by construction
        fast, fast_problems = by_fast_reader(text)
        if any(c in text for c in "\x85\u2028\u2029"):
            # NEL, LS and PS: ruamel keeps them in some values and folds or drops them in
            # others; the fast reader reads each as a space (test_unicode_line_breaks...)
            assert fast is not None or all(line for _, line, _ in fast_problems)
            continue
        slow, slow_problems = by_ruamel(text)
        assert (slow is None) == (fast is None), (steps, slow_problems, fast_problems, text[:2000])
        if slow is not None:
            compared += 1
            assert fast == slow and fast.locations == slow.locations, steps
            assert fast_problems == slow_problems, steps
        else:
            refused += 1
            # (the two readers may meet a document's several faults in another order, and
            # the YAML libraries word syntax errors differently: each fault has a place)
            assert fast_problems and all(line for _, line, _ in fast_problems), (steps, fast_problems)
    assert compared > 30 and refused > 10


@pytest.mark.parametrize("text", [
    "1", "0o17", "017", "1_000", "1e-3", ".5", "1.", "+1", "-2", "0x1F", "0b101", ".inf", "-.inf", ".nan",
    "true", "False", "TRUE", "yes", "no", "on", "off", "y", "n", "~", "null", "Null", "", "2024-01-01",
    "1:20", "<<x", "abc", "1e400", "'7'", '"8"', "! 9", "!!str 10", "[1, 2.5, three]", "{a: 1}",
])
def test_scalars_resolve_as_ruamel_resolves_them(text):
    document = f"value: {text}\n"
    try:
        slow = plain(load_document(_yaml(), document, None)[0]["value"])
    except GraphError as err:
        slow = ("refused", err.problems[0].message)
    try:
        fast = plain(yaml_reader.load_fast(document, None)[0]["value"])
    except GraphError as err:
        fast = ("refused", err.problems[0].message)
    if isinstance(slow, float) and slow != slow:
        assert fast != fast  # NaN
    else:
        assert fast == slow and type(fast) is type(slow)


def test_the_value_indicator_is_text():
    """ruamel keeps ``=`` (YAML 1.1's "value" key) as a tagged object that no parameter
    check knows; the fast reader gives the text, which the checks then name."""
    assert yaml_reader.load_fast("value: =\n", None)[0]["value"] == "="


def test_merge_keys_fill_what_the_mapping_does_not_set():
    text = ("defaults: &d {out_features: 4, bias: false}\n"
            "n: {<<: *d, out_features: 8}\n")
    fast = yaml_reader.load_fast(text, None)[0]
    slow = load_document(_yaml(), text, None)[0]
    assert plain(fast) == plain(slow) == {"defaults": {"out_features": 4, "bias": False},
                                          "n": {"out_features": 8, "bias": False}}


def test_saving_a_fast_read_graph_keeps_its_comments(tmp_path):
    """The round-trip document is parsed from the text only when the graph is saved."""
    path = tmp_path / "g.yaml"
    text = TEXTS["lenet5.yaml"].replace("nodes:", "# the nodes, as the course draws them\nnodes:", 1)
    path.write_text(text, encoding="utf-8")
    graph = load_graph(path)
    assert dump_graph(graph) == text
    graph.nodes["fc1"].params["out_features"] = 100
    saved = dump_graph(graph)
    assert "# the nodes, as the course draws them" in saved and "out_features: 100" in saved


def test_a_yaml_1_1_document_is_read_by_ruamel(tmp_path):
    text = "%YAML 1.1\n---\n" + TEXTS["lenet5.yaml"]
    graph = parse_graph(text, "old.yaml")
    assert "conv1" in graph.nodes


def test_unicode_line_breaks_read_as_spaces_without_the_slow_reader(monkeypatch):
    """A file with NEL, LS or PS (pasted text) is read by the fast reader as if each were
    a space: lines are counted at \\n only, as ruamel counts them."""
    import builder.yaml_format as yaml_format

    def slow_reader(*args, **kwargs):
        raise AssertionError("the round-trip reader was used")

    monkeypatch.setattr(yaml_format, "load_document", slow_reader)
    text = TEXTS["lenet5.yaml"].replace("description: LeNet-5", "description: a\u2028b\x85c LeNet-5", 1)
    graph = parse_graph(text, "g.yaml")
    assert graph.description.startswith("a b c LeNet-5")
    original = parse_graph(TEXTS["lenet5.yaml"], "g.yaml")
    assert graph.where("conv1") == original.where("conv1")
