"""The Generate panel, driven like a person: a tiny seq2seq trained for a few seconds is
opened from the runs list's Generate button; a picked validation sample and a typed source
give the same sequences as builder's generation API, with the attention map beside them.
A classifier's run cannot generate: the button is disabled and says why."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from builder import open_generator
from builder.cli import main
from gui.generate.dock import generate_panel
from tests.gui.helpers import quiet_main_window

TIMEOUT_MS = 90_000  # opening torch and the run on a busy machine; no timing is asserted
SEQ2SEQ = """\
format: 1
name: tiny_seq2seq
nodes:
  source: {block: input, params: {shape: [6], dtype: int64}}
  target_in: {block: input, params: {shape: [6], dtype: int64}}
  source_embed: {block: embedding, params: {num_embeddings: 6, embedding_dim: 16}, inputs: [source]}
  encoder: {block: lstm, params: {hidden_size: 32}, inputs: [source_embed]}
  target_embed: {block: embedding, params: {num_embeddings: 6, embedding_dim: 16}, inputs: [target_in]}
  decoder: {block: lstm, params: {hidden_size: 32}, inputs: {x: target_embed, state: encoder.hidden}}
  attention: {block: multi_head_attention, params: {num_heads: 2}, inputs: {query: decoder, key_value: encoder}}
  joined: {block: concat, params: {dim: -1}, inputs: [attention, decoder]}
  head: {block: linear, params: {out_features: 6}, inputs: [joined]}
  logits: {block: output, inputs: [head]}
training: {data: {name: reverse, samples: 600}, epochs: 2, batch_size: 32, lr: 0.01, threads: 1}
"""
CLASSIFIER = """\
format: 1
name: tiny_digits
nodes:
  image: {block: input, params: {shape: [1, 8, 8]}}
  flat: {block: flatten, inputs: [image]}
  fc: {block: linear, params: {out_features: 10}, inputs: [flat]}
  logits: {block: output, inputs: [fc]}
training: {data: {name: digits}, epochs: 1, threads: 1}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A seq2seq on the reverse task and a digits classifier, each trained for seconds,
    their run folders beside the graph files (where the runs list looks)."""
    root = tmp_path_factory.mktemp("generate")
    made = {}
    for name, text in (("seq2seq", SEQ2SEQ), ("classifier", CLASSIFIER)):
        graph = root / f"{name}.yaml"
        graph.write_text(text)
        run = root / "runs" / f"{name}-20250101-120000"
        assert main(["train", str(graph), "--out", str(run), "-q", "--device", "cpu"]) == 0
        made[name] = (graph, run)
    return made


def select_run(qtbot, window, graph, run):
    assert window.open_file(graph, ask=False)
    training = window.training
    window.show_training()
    training.side_tabs.setCurrentWidget(training.runs)
    training.runs.select_runs([run])
    qtbot.waitUntil(training.runs.tree.isVisible)
    return training.runs


def wait_for_output(qtbot, panel, before=None):
    qtbot.waitUntil(lambda: panel.result is not None and panel.result is not before, timeout=TIMEOUT_MS)
    return panel.result


def test_generate_gives_the_api_s_sequences_with_the_attention_map(qtbot, tmp_path, runs):
    graph, run = runs["seq2seq"]
    window = quiet_main_window(qtbot, tmp_path)
    listed = select_run(qtbot, window, graph, run)
    assert listed.generate_button.isEnabled() and ("Generate…", listed._generate_selected) in listed.context_actions()
    qtbot.mouseClick(listed.generate_button, Qt.LeftButton)
    panel = generate_panel(window)
    assert window._generate_dock.isVisible()
    qtbot.waitUntil(lambda: panel.run is not None, timeout=TIMEOUT_MS)
    api = open_generator(run)

    panel.picker.pick(3)  # a validation sample: its source fills the text box
    choice = panel.picker.choice()
    assert panel.picker.input() == f"val:{choice.index}" and panel.picker.text.text() == choice.text
    qtbot.mouseClick(panel.generate_button, Qt.LeftButton)
    shown = wait_for_output(qtbot, panel)
    [expected] = api.generate(f"val:{choice.index}", method="greedy")
    assert shown.ids == expected.ids and f"<b>{expected.text}</b>" in panel.output.text()
    assert f"the data's answer: <b>{expected.reference}</b>" in panel.details.text()
    qtbot.waitUntil(panel.figure_view.showing_image, timeout=TIMEOUT_MS)
    assert panel.attention_bar.isVisible() and panel.head.count() == 3  # the mean and 2 heads

    # a typed source, greedy again: the API's sequence for the same text
    panel.picker.text.clear()
    qtbot.keyClicks(panel.picker.text, "1 2 3 4 5 5")
    assert panel.picker.input() == "1 2 3 4 5 5"
    qtbot.keyClick(panel.picker.text, Qt.Key_Return)
    typed = wait_for_output(qtbot, panel, shown)
    assert typed.ids == api.generate("1 2 3 4 5 5")[0].ids and typed.reference is None

    # a token the vocabulary lacks: the generator's sentence, no output
    panel.picker.text.setText("1 2 9 4 5 5")
    panel.picker._typed("")
    panel.generate()
    qtbot.waitUntil(lambda: "unknown token '9'" in panel.output.text(), timeout=TIMEOUT_MS)


def test_a_classifier_run_cannot_generate_and_says_why(qtbot, tmp_path, runs):
    graph, run = runs["classifier"]
    window = quiet_main_window(qtbot, tmp_path)
    listed = select_run(qtbot, window, graph, run)
    button = listed.generate_button
    assert button.isVisible() and not button.isEnabled()
    assert "not a decoder graph" in button.toolTip() and "[T, V]" in button.toolTip()
    assert all(text != "Generate…" for text, _slot in listed.context_actions())
