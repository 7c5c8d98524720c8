"""Third-party blocks arrive through the ``modelbuilder.blocks`` entry point."""

from __future__ import annotations

import sys
import textwrap
from importlib import metadata

import pytest

import blocks.registry as registry
from builder import analyze, compile_graph, parse_graph

PLUGIN = '''
from torch import nn
from blocks import Block, Float, Params, Shape, register


@register
class Swish(Block):
    """Swish activation: ``x * sigmoid(beta * x)``, element-wise.

    A smooth alternative to ReLU. Shape: unchanged, so any input works. No parameters
    are trained; ``beta`` is fixed.
    """

    name = "swish_plugin_test"
    category = "Activation"
    params = {"beta": Float(1.0, min=0.0)}
    examples = ({"params": {"beta": 2.0}, "inputs": {"x": [8]}},)

    def infer(self, p: Params, x: Shape) -> Shape:
        return x

    def build(self, p: Params, x: Shape) -> nn.Module:
        return nn.SiLU()
'''

GRAPH = """
format: 1
nodes:
  x: {block: input, params: {shape: [4]}}
  act: {block: swish_plugin_test, inputs: [x]}
  y: {block: output, inputs: [act]}
"""


@pytest.fixture
def plugin_env(tmp_path, monkeypatch):
    (tmp_path / "mb_test_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (tmp_path / "mb_broken_plugin.py").write_text("raise ImportError('needs a missing library')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entries = [
        metadata.EntryPoint("demo", "mb_test_plugin", registry.ENTRY_POINT_GROUP),
        metadata.EntryPoint("broken", "mb_broken_plugin", registry.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(registry.metadata, "entry_points",
                        lambda group=None: [e for e in entries if e.group == group])
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    yield
    registry._REGISTRY.pop("swish_plugin_test", None)
    sys.modules.pop("mb_test_plugin", None)


def test_entry_point_block_is_usable_in_graphs(plugin_env):
    with pytest.warns(UserWarning, match="broken.*failed to load"):
        graph = parse_graph(GRAPH)
        analysis = analyze(graph)
    assert analysis.ok, analysis.problems
    assert analysis.nodes["act"].shape == (4,)
    assert "act" in dict(compile_graph(graph).named_children())


def test_unknown_block_is_still_reported_after_plugins_load(plugin_env):
    with pytest.warns(UserWarning):
        analysis = analyze(parse_graph(GRAPH.replace("swish_plugin_test", "swish_plugin_tset")))
    assert "did you mean 'swish_plugin_test'" in analysis.errors[0].hint
