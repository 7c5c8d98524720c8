"""Hostile and careless graph files: each gets problems with file, line, column and a hint,
in bounded time, and never a traceback. Reading limits (builder/safe_yaml.py) and the
rules for composite paths (builder/composite.py)."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import pytest

from builder import GraphError, Problem, analyze, load_graph, parse_graph
from builder.safe_yaml import LIMITS
from tests.conftest import ROOT

FILE = "g.yaml"
# a small valid graph; the cases below add to it or edit it
BASE = """\
format: 1
nodes:
  x: {block: input, params: {shape: [4]}}
  fc: {block: linear, params: {out_features: 2}, inputs: [x]}
  y: {block: output, inputs: [fc]}
"""
SECONDS = 3.0  # each case takes well under a second; this leaves room for a busy machine


def refused(text: str, path: str = FILE) -> Problem:
    """The one problem that stops ``text`` from loading, checked for place and hint."""
    start = time.perf_counter()
    with pytest.raises(GraphError) as caught:
        parse_graph(text, path)
    assert time.perf_counter() - start < SECONDS
    [problem] = caught.value.problems
    assert problem.file == path and problem.line is not None and problem.column is not None, problem
    assert problem.hint, problem
    return problem


def laughs(width: int, depth: int) -> str:
    lines = ["training:", "  l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, depth):
        lines.append(f"  l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return BASE + "\n".join(lines) + "\n"


# ------------------------------------------------------------------------ aliases
@pytest.mark.parametrize("width, depth", [(9, 9), (10, 10), (100, 3), (2, 60)])
def test_alias_expansion_bombs_are_refused_while_reading(width, depth):
    problem = refused(laughs(width, depth))
    assert f"more than {LIMITS.max_alias_values:,} values" in problem.message
    assert "alias" in problem.message
    assert problem.line <= 6 + depth  # refused where the expansion crosses the limit, not after the document


def test_a_few_aliases_where_they_make_sense_still_load():
    text = BASE.replace("{out_features: 2}", "&p {out_features: 2}") + \
        "  fc2: {block: linear, params: *p, inputs: [fc]}\n  y2: {block: output, inputs: [fc2]}\n"
    graph = parse_graph(text, FILE)
    assert graph.nodes["fc2"].params == {"out_features": 2}
    assert analyze(graph).ok


@pytest.mark.parametrize("text, words, line", [
    (BASE + "training: &r {a: *r}\n", "would contain itself", 6),
    (BASE + "layout: &r {fc: [1, *r]}\n", "would contain itself", 6),
    (BASE + "description: &k x\n*k : 2\n", "alias *k is used as a key", 7),
    (BASE + "training: *nowhere\n", "undefined alias", 6),
])
def test_aliases_where_they_make_no_sense(text, words, line):
    problem = refused(text)
    assert words in problem.message
    assert problem.line == line


def test_a_reused_anchor_is_a_warning_and_prints_nothing(capfd):
    text = BASE.replace("{out_features: 2}", "&a {out_features: 2}") + "description: &a text\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ruamel's ReusedAnchorWarning would raise here
        graph = parse_graph(text, FILE)
    [warning] = analyze(graph).problems
    assert warning.severity == "warning" and "anchor &a is defined again (first on line 4)" in warning.message
    assert (warning.line, warning.column) == (6, 14) and warning.hint
    out, err = capfd.readouterr()
    assert out == err == ""


# ------------------------------------------------------------------------ keys and tags
@pytest.mark.parametrize("text, words", [
    (BASE + "[9, 9]: 1\n", "a list or mapping is used as a key"),
    (BASE + "? [9, 9]\n: 1\n", "a list or mapping is used as a key"),
    (BASE.replace("inputs: [x]", "inputs: {[9, 9]: x}"), "a list or mapping is used as a key"),
    (BASE + "!!omap a: 1\n", "YAML tag !!omap is not allowed"),  # was AttributeError: ... 'flow_style'
    (BASE + "!!set a: 1\n", "YAML tag !!set is not allowed"),
    (BASE + "training: !!binary aGVsbG8=\n", "YAML tag !!binary is not allowed"),
    (BASE + "training: {<<: 1}\n", "malformed YAML"),
])
def test_odd_keys_and_tags(text, words):
    assert words in refused(text).message


# ------------------------------------------------------------------------ nesting
@pytest.mark.parametrize("value", [
    "[" * 10_000 + "]" * 10_000,
    "{a: " * 5_000 + "1" + "}" * 5_000,
    "[" * 50_000,
    "\n" + "".join("  " * (i + 1) + "-\n" for i in range(200)),
])
def test_deep_nesting_is_refused_not_a_recursion_error(value):
    problem = refused(BASE + "training: " + value + "\n")
    assert f"nested more than {LIMITS.max_depth} levels deep" in problem.message
    assert problem.line >= 6


def test_nesting_a_real_graph_uses_is_fine():
    text = BASE + "training:\n  data:\n    augment: {flip: [[1, 2], [3, 4]]}\n"
    assert parse_graph(text, FILE).training == {"data": {"augment": {"flip": [[1, 2], [3, 4]]}}}


# ------------------------------------------------------------------------ characters
@pytest.mark.parametrize("char, name", [("\0", "NUL byte U+0000"), ("\x1b", "escape character U+001B"),
                                        ("\x7f", "delete character U+007F")])
def test_control_characters_are_placed_exactly(char, name):
    problem = refused(BASE.replace("fc: {block", f"fc: {{bl{char}ock"))
    assert name in problem.message
    assert (problem.line, problem.column) == (4, 10)


def test_a_file_that_is_not_utf8_is_placed(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(BASE.replace("format: 1", "name: caf\xe9").encode("latin-1"))
    with pytest.raises(GraphError) as caught:
        load_graph(path)
    [problem] = caught.value.problems
    assert "not UTF-8" in problem.message and "0xE9" in problem.message
    assert (problem.line, problem.column) == (1, 10) and "UTF-8" in problem.hint


def test_unicode_text_is_fine():
    graph = parse_graph(BASE + "description: Ünïcödé ☃ 𝔘 — \u200b ok\n", FILE)
    assert graph.description.startswith("Ünïcödé")


# ------------------------------------------------------------------------ sizes
def test_long_text_value():
    problem = refused(BASE + "description: " + "x" * (LIMITS.max_text + 1) + "\n")
    assert f"longer than the {LIMITS.max_text:,}" in problem.message
    assert (problem.line, problem.column) == (6, 14)


def test_too_many_lines():
    problem = refused(BASE + "#\n" * LIMITS.max_lines)
    assert f"more than the {LIMITS.max_lines:,} a graph file may have" in problem.message


def test_too_many_bytes_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(BASE + "description: '" + "x" * LIMITS.max_bytes + "'\n")
    start = time.perf_counter()
    with pytest.raises(GraphError) as caught:
        load_graph(path)
    assert time.perf_counter() - start < 0.5
    assert f"more than the {LIMITS.max_bytes:,} a graph file may have" in caught.value.problems[0].message


def test_too_many_nodes(monkeypatch):
    import dataclasses

    import builder.yaml_format

    # the real limit (50,000) takes seconds to reach; the check is the same at 60
    small = dataclasses.replace(LIMITS, max_nodes=60)
    monkeypatch.setattr(builder.yaml_format, "LIMITS", small)
    nodes = "".join(f"  n{i}: {{block: relu, inputs: [x]}}\n" for i in range(small.max_nodes))
    problem = refused(BASE + nodes)
    assert f"more than the {small.max_nodes:,} a graph file may have" in problem.message
    assert problem.line == 2 and "split it" in problem.hint


def test_limits_are_far_above_every_gallery_graph():
    for path in sorted((ROOT / "graphs").rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert len(text.encode()) * 50 < LIMITS.max_bytes and text.count("\n") * 50 < LIMITS.max_lines
        assert len(load_graph(path).nodes) * 10 < LIMITS.max_nodes


# ------------------------------------------------------------------------ files
def test_graph_files_that_are_not_files(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    cases = {str(tmp_path): "it is a folder", "/dev/zero": "not a regular file", str(fifo): "not a regular file",
             str(tmp_path / "a\0b.yaml"): "NUL byte", str(tmp_path / "missing.yaml"): "No such file"}
    for path, words in cases.items():
        start = time.perf_counter()
        with pytest.raises(GraphError) as caught:
            load_graph(path)
        assert time.perf_counter() - start < SECONDS  # a pipe or /dev/zero is never opened
        [problem] = caught.value.problems
        assert words in problem.message and problem.hint and problem.file == path


# ------------------------------------------------------------------------ composite paths
USER = """\
format: 1
nodes:
  x: {block: input, params: {shape: [4]}}
  part:
    graph: PATH
    inputs: [x]
  y: {block: output, inputs: [part]}
"""
PART = """\
format: 1
nodes:
  a: {block: input, params: {shape: [4]}}
  fc: {block: linear, params: {out_features: 3}, inputs: [a]}
  b: {block: output, inputs: [fc]}
"""


def composite_problem(user_file: Path, path: str) -> Problem:
    user_file.write_text(USER.replace("PATH", path if path.strip() else repr(path)), encoding="utf-8")
    start = time.perf_counter()
    result = analyze(load_graph(user_file))
    assert time.perf_counter() - start < SECONDS
    [problem] = result.errors
    assert (problem.node, problem.line, problem.column) == ("part", 5, 5), problem
    assert problem.hint, problem
    return problem


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "project"
    (folder / "parts").mkdir(parents=True)
    (folder / "parts" / "part.yaml").write_text(PART, encoding="utf-8")
    (folder / "notes.txt").write_text("not a graph", encoding="utf-8")
    (tmp_path / "outside.yaml").write_text(PART, encoding="utf-8")
    os.symlink("/etc/passwd", folder / "passwd.yaml")
    os.symlink(tmp_path / "outside.yaml", folder / "link_out.yaml")
    os.mkfifo(folder / "pipe.yaml")
    return folder


def test_a_composite_inside_the_project_works(project):
    (project / "user.yaml").write_text(USER.replace("PATH", "parts/part.yaml"), encoding="utf-8")
    assert analyze(load_graph(project / "user.yaml")).ok


@pytest.mark.parametrize("path, words", [
    ("/etc/passwd", "outside the project folder"),
    ("../../../../../../../../etc/passwd", "outside the project folder"),
    ("../outside.yaml", "outside the project folder"),
    ("passwd.yaml", "outside the project folder"),  # a link that leads out
    ("link_out.yaml", "outside the project folder"),
    ("/dev/zero", "outside the project folder"),
    ("/proc/self/environ", "outside the project folder"),
    ("pipe.yaml", "not a regular file"),
    (".", "it is a folder"),
    ("parts", "it is a folder"),
    ("parts/", "it is a folder"),
    ("notes.txt", "not a .yaml graph file"),
    ('"parts/part.yaml\\0"', "NUL byte"),
    ('"a\\0b.yaml"', "NUL byte"),
    ("user.yaml", "cycle: user.yaml -> user.yaml"),  # the file itself
    ("./parts/../user.yaml", "cycle: user.yaml -> user.yaml"),
    ("missing.yaml", "No such file"),
    ("x" * 5000 + ".yaml", "cannot use"),  # a name too long for the file system
    ("''", "names no file"),
])
def test_composite_paths_that_cannot_be_used(project, path, words):
    problem = composite_problem(project / "user.yaml", path)
    assert words in problem.message
    if "outside" in words:
        assert "inside the project" in problem.hint and ".git" in problem.hint


def test_the_project_is_the_nearest_folder_with_a_marker(tmp_path):
    (tmp_path / "repo" / "lib").mkdir(parents=True)
    (tmp_path / "repo" / "models").mkdir()
    (tmp_path / "repo" / "lib" / "part.yaml").write_text(PART, encoding="utf-8")
    user = tmp_path / "repo" / "models" / "user.yaml"
    user.write_text(USER.replace("PATH", "../lib/part.yaml"), encoding="utf-8")
    assert "outside the project folder" in analyze(load_graph(user)).errors[0].message
    (tmp_path / "repo" / "pyproject.toml").write_text("", encoding="utf-8")
    assert analyze(load_graph(user)).ok


def test_an_unsaved_graph_may_use_any_graph_file(tmp_path):
    (tmp_path / "part.yaml").write_text(PART, encoding="utf-8")
    graph = parse_graph(USER.replace("PATH", str(tmp_path / "part.yaml")))  # e.g. pasted in the editor
    assert analyze(graph).ok


def test_composite_files_used_inside_each_other_are_bounded(tmp_path):
    """Files using files multiply: 100 uses of a file with 100 uses of another..."""
    wide = "format: 1\nnodes:\n  x: {block: input, params: {shape: [4]}}\n" + "".join(
        f"  u{i}: {{graph: NEXT, params: {{}}, inputs: [x]}}\n  o{i}: {{block: output, inputs: [u{i}]}}\n"
        for i in range(100))
    (tmp_path / "leaf.yaml").write_text(PART, encoding="utf-8")
    (tmp_path / "mid.yaml").write_text(wide.replace("NEXT", "leaf.yaml"), encoding="utf-8")
    (tmp_path / "top.yaml").write_text(wide.replace("NEXT", "mid.yaml"), encoding="utf-8")
    start = time.perf_counter()
    result = analyze(load_graph(tmp_path / "top.yaml"))
    assert time.perf_counter() - start < 2 * SECONDS
    assert any(f"more than {LIMITS.max_composite_nodes:,} nodes" in p.message for p in result.errors)


def test_composite_files_nested_too_deep(tmp_path):
    for level in range(LIMITS.max_composite_depth + 2):
        (tmp_path / f"g{level}.yaml").write_text(USER.replace("PATH", f"g{level + 1}.yaml"), encoding="utf-8")
    (tmp_path / f"g{LIMITS.max_composite_depth + 2}.yaml").write_text(PART, encoding="utf-8")
    [problem] = analyze(load_graph(tmp_path / "g0.yaml")).errors
    assert f"more than {LIMITS.max_composite_depth} levels deep" in problem.message


def test_an_exposed_name_that_names_nothing(tmp_path):
    """Was KeyError: 'yes - conv1.out_channels - conv2.out_channels' (a list mangled into text)."""
    (tmp_path / "part.yaml").write_text(PART + "expose:\n  width: yes\n    - fc.out_features\n    - fc.bias\n",
                                        encoding="utf-8")
    problem = composite_problem(tmp_path / "user.yaml", "part.yaml")
    assert "exposes 'width' as 'yes - fc.out_features - fc.bias', but it has no such node" in problem.message


# ------------------------------------------------------------------------ accepted but crashing
@pytest.mark.parametrize("node, words", [
    # found by bench/fuzz_graphs.py: torch's "Overflow when unpacking long long" at compile
    ("{block: conv1d, params: {out_channels: 2, kernel_size: 1, stride: 99999999999999999999}, inputs: [x]}",
     "below 2**63"),
    # NaN passes every range check; a NaN dropout probability crashed the first training step
    ("{block: dropout, params: {p: .nan}, inputs: [x]}", "finite number"),
    ("{block: leaky_relu, params: {negative_slope: .inf}, inputs: [x]}", "finite number"),
    # found by the fuzzer's training-mode forward: torch refuses eps 0 only when training
    ("{block: batch_norm1d, params: {eps: 0}, inputs: [x]}", "eps must be above 0"),
])
def test_values_pytorch_refuses_are_problems_not_crashes(node, words):
    text = "format: 1\nnodes:\n  x: {block: input, params: {shape: [2, 4]}}\n" \
           f"  n: {node}\n  y: {{block: output, inputs: [n]}}\n"
    [problem] = analyze(parse_graph(text, FILE)).errors
    assert words in problem.message and problem.node == "n" and problem.line == 4, problem
