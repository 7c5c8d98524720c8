"""Which blocks fit an output: the choices offered when a wire is dropped in empty space."""

from __future__ import annotations

import time


from blocks import all_blocks
from gui.document import GraphDocument, starter_params
from gui.fitting import fitting_blocks
from tests.conftest import ROOT


def test_an_image_takes_image_blocks_but_not_sequence_or_token_blocks(lenet):
    assert lenet.analysis.nodes["image"].outputs["out"] == (1, 32, 32)
    fits = fitting_blocks(lenet, "image")
    for name in ("conv2d", "max_pool2d", "avg_pool2d", "flatten", "relu", "batch_norm2d", "output"):
        assert name in fits
    assert "lstm" not in fits  # recurrent layers take [time, features]
    assert "conv1d" not in fits  # [C, L] only
    assert "embedding" not in fits  # takes int64 token ids, the image is float
    assert "input" not in fits  # takes nothing
    assert "linear" in fits  # nn.Linear works on the last axis of any rank


def test_merge_blocks_fit_a_known_shape(lenet):
    fits = fitting_blocks(lenet, "conv1")
    assert {"add", "concat", "multiply"} <= set(fits)


def test_a_flat_vector_takes_linear_but_not_convolutions(lenet):
    fits = fitting_blocks(lenet, "flatten")
    assert "linear" in fits
    assert "batch_norm1d" in fits
    assert "conv2d" not in fits and "max_pool2d" not in fits and "batch_norm2d" not in fits


def test_token_ids_take_only_an_embedding():
    document = GraphDocument.open(ROOT / "graphs" / "lstm_classifier.yaml")
    fits = fitting_blocks(document, "tokens")
    assert "embedding" in fits
    assert "conv2d" not in fits and "linear" not in fits
    # the analysis refuses token ids into any float port, the output's included
    assert fits == ["embedding"]
    assert "embedding" not in fitting_blocks(document, "embed")
    assert "lstm" in fitting_blocks(document, "embed")


def test_a_named_output_port_is_used():
    document = GraphDocument.open(ROOT / "graphs" / "lstm_classifier.yaml")
    # lstm's full sequence is not produced here (output: last), its hidden state is [64]
    assert "linear" in fitting_blocks(document, "lstm.hidden")
    assert "lstm" not in fitting_blocks(document, "lstm.hidden")
    assert fitting_blocks(document, "lstm.nope") == []


def test_the_order_is_the_palettes(lenet):
    fits = fitting_blocks(lenet, "image")
    order = [b.name for b in all_blocks()]
    assert fits == sorted(fits, key=order.index)


def test_nothing_fits_a_missing_node_or_an_output_node(lenet):
    assert fitting_blocks(lenet, "nowhere") == []
    assert fitting_blocks(lenet, "logits") == []


def test_an_unknown_shape_leaves_only_the_dtype_check(lenet):
    lenet.set_param("conv1", "out_channels", 0)  # conv1 now has a parameter error
    assert lenet.analysis.nodes["conv1"].outputs == {}
    fits = fitting_blocks(lenet, "conv1")
    assert "lstm" in fits and "conv2d" in fits and "embedding" not in fits and "input" not in fits


def test_the_answer_agrees_with_the_documents_connection_check(lenet):
    """A block fits exactly when the document lets the source be wired into a fresh node
    of it (merge blocks with one input are incomplete, which the document also allows)."""
    for source in ("image", "conv1", "flatten"):
        fits = set(fitting_blocks(lenet, source))
        for block in all_blocks():
            if not block.inputs:
                continue
            node_id = lenet.add_node(block.name, starter_params(block.name))
            verdict = lenet.can_connect(source, node_id)
            assert bool(verdict) == (block.name in fits), (source, block.name, verdict.reason)
            lenet.undo_stack.undo()


def test_it_is_fast_on_resnet50():
    document = GraphDocument.open(ROOT / "graphs" / "resnet50.yaml")
    last = [i for i, n in document.graph.nodes.items() if n.block != "output"][-1]
    assert document.analysis.ok  # made once per edit anyway: not part of the timing
    start = time.perf_counter()
    fits = fitting_blocks(document, last)
    elapsed = time.perf_counter() - start
    print(f"\nfitting_blocks(resnet50, {last!r}): {len(fits)} blocks in {elapsed * 1000:.1f} ms")
    assert "linear" in fits
