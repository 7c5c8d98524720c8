"""``modelbuilder explain``: attribution maps checked against ground truth, sanity-checked
against a randomized model, refused clearly where they do not apply, and written as files.

Two short training runs per module: the small CNN of graphs/find_the_pattern.yaml on the
``patterns`` data (the decisive glyph's box is known) and LeNet-5 on digits.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from builder import load_graph, parse_graph
from builder.cli import main
from builder.data.patterns import CLASS_NAMES, NONE, generate_patterns
from builder.data.pipeline import split_indices
from builder.exporting.source import from_graph
from builder.inspecting.errors import InspectError
from builder.inspecting.explain import (
    METHODS,
    default_gradcam_node,
    draw_explanation,
    explain,
    file_stem,
    write_explanation,
)
from builder.inspecting.figures import new_figure
from builder.inspecting.subject import Samples, from_trained, open_subject
from tests.conftest import ROOT

pytest.importorskip("captum")  # the `explain` extra (`make setup` installs it)

PATTERNS = 2000  # the graph's data: the source's default sample count, seed 0, val_split 0.2
GRADCAM_MARGIN = 2  # pixels: Grad-CAM at relu3 is an 8x8 grid upsampled 4x, half a cell


def train(out, graph, *extra):
    assert main(["train", str(ROOT / "graphs" / graph), "--out", str(out), "-q", "--device", "cpu", *extra]) == 0
    return out


@pytest.fixture(scope="module")
def patterns(tmp_path_factory):
    """The pattern CNN trained as its graph says (4 epochs, a few seconds), opened."""
    run = train(tmp_path_factory.mktemp("explain") / "patterns", "find_the_pattern.yaml")
    return open_subject(run)


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    run = train(tmp_path_factory.mktemp("explain") / "lenet", "lenet5.yaml", "--epochs", "3")
    return open_subject(run)


@pytest.fixture(scope="module")
def glyph_samples(patterns):
    """The first 100 validation images, and the glyph box of each (where the answer is)."""
    samples = patterns.samples("val:0-99")
    data = generate_patterns(PATTERNS, 32, 32, seed=0)
    _, val_index = split_indices(PATTERNS, 0.2, 0)
    assert torch.equal(data.labels[val_index][:100], samples.labels)  # the same images as the run's
    return samples, data.boxes[val_index][:100].tolist()


def correct_glyphs(subject, samples) -> list[int]:
    """Validation images with a glyph that the model classifies correctly."""
    predicted = subject.predictions(samples.inputs).argmax(1)
    none = CLASS_NAMES.index(NONE)
    return [i for i in range(len(samples)) if predicted[i] == samples.labels[i] != none]


def peak_inside(heat: np.ndarray, box: list[int], margin: int = 0) -> bool:
    row, column = np.unravel_index(np.argmax(heat), heat.shape)
    top, left, bottom, right = box
    return top - margin <= row < bottom + margin and left - margin <= column < right + margin


# --------------------------------------------------------------------------- ground truth
def test_the_pattern_cnn_learns_its_task(patterns):
    val = patterns.validation()
    accuracy = float((patterns.predictions(val.inputs).argmax(1) == val.targets).float().mean())
    assert accuracy >= 0.95
    assert default_gradcam_node(patterns) == "relu3"


def test_gradcam_and_occlusion_peak_inside_the_decisive_glyph(patterns, glyph_samples):
    samples, boxes = glyph_samples
    picked = correct_glyphs(patterns, samples)
    assert len(picked) >= 60
    cam = explain(patterns, samples.select(picked), "gradcam")
    assert cam.node == "relu3" and cam.maps.shape == (len(picked), 32, 32) and cam.maps.dtype == np.float32
    hits = np.mean([peak_inside(m, boxes[i], GRADCAM_MARGIN) for m, i in zip(cam.maps, picked)])
    assert hits >= 0.9, f"Grad-CAM peaks inside the glyph (+-{GRADCAM_MARGIN} px) for {hits:.0%}"

    few = picked[:24]  # occlusion runs 324 windows per image: a few dozen images are plenty
    occluded = explain(patterns, samples.select(few), "occlusion")
    hits = np.mean([peak_inside(m, boxes[i]) for m, i in zip(occluded.maps, few)])
    assert hits >= 0.9, f"occlusion peaks inside the glyph for {hits:.0%}"


def test_saliency_puts_more_mass_per_pixel_inside_the_glyph(patterns, glyph_samples):
    samples, boxes = glyph_samples
    picked = correct_glyphs(patterns, samples)
    result = explain(patterns, samples.select(picked), "saliency")
    ratios = []
    for heat, i in zip(result.maps, picked):
        top, left, bottom, right = boxes[i]
        inside = np.zeros(heat.shape, bool)
        inside[top:bottom, left:right] = True
        ratios.append(heat[inside].mean() / heat[~inside].mean())
    assert np.mean(np.array(ratios) > 1) >= 0.95 and np.median(ratios) > 3, np.round(ratios, 2)


def test_maps_of_the_trained_model_differ_from_a_randomized_one(patterns, glyph_samples):
    """Adebayo et al. 2018: a map that survives randomizing the weights shows the input,
    not what the model learned. The same graph with fresh random weights, the same classes."""
    samples, _ = glyph_samples
    picked = samples.select(correct_glyphs(patterns, samples)[:40])
    random_model = from_graph(patterns.trained.graph, seed=123).model
    randomized = from_trained(dataclasses.replace(patterns.trained, model=random_model))
    for method in ("saliency", "gradcam"):
        trained = explain(patterns, picked, method)
        correlations = []
        for k in set(trained.target):
            rows = [i for i, t in enumerate(trained.target) if t == k]
            other = explain(randomized, picked.select(rows), method, target=k)
            for row, heat in zip(rows, other.maps):
                rho = spearmanr(trained.maps[row].ravel(), heat.ravel()).statistic
                correlations.append(0.0 if np.isnan(rho) else rho)  # a flat map ranks like nothing
        assert np.mean(correlations) < 0.5, f"{method}: mean rank correlation {np.mean(correlations):.2f}"


def test_covering_the_digit_costs_more_probability_than_covering_the_background(lenet):
    samples = lenet.samples("val:0-19")
    result = explain(lenet, samples, "occlusion")
    pixels = samples.inputs[0][:, 0]
    on_digit, on_background = [], []
    for heat, x in zip(result.maps, pixels):
        digit = x > x.mean() + 0.5 * x.std()  # the bright strokes
        background = x < x.min() + 0.1 * (x.max() - x.min())
        on_digit.append(heat[digit.numpy()].mean())
        on_background.append(heat[background.numpy()].mean())
    assert np.mean(on_digit) > 2 * np.mean(on_background), (np.mean(on_digit), np.mean(on_background))


# ------------------------------------------------------------------ every method, every input
def test_every_method_gives_one_map_per_image_and_leaves_the_model_as_it_was(lenet):
    samples = lenet.samples("val:0-1")
    for method in METHODS:
        result = explain(lenet, samples, method, target=3)
        assert result.maps.shape == (2, 32, 32) and np.isfinite(result.maps).all(), method
        assert result.target == [3, 3] and len(result.predicted) == 2 and 0 <= result.target_probability[0] <= 1
    model = lenet.model
    assert not model.training and all(p.requires_grad for p in model.parameters())
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())


@pytest.mark.parametrize("graph, steps, node", [("lstm_classifier", 40, "embed"), ("rnn_classifier", 30, None)])
def test_sequence_inputs_get_one_value_per_token_or_step(graph, steps, node):
    subject = from_trained(from_graph(load_graph(ROOT / "graphs" / f"{graph}.yaml")))
    port = subject.trained.inputs[0]
    x = torch.randint(1, 100, (3, steps)) if port.dtype == "int64" else torch.randn(3, steps, 8)
    samples = Samples([x], None, ["a", "b", "c"])
    for method in ("saliency", "integrated_gradients", "occlusion"):
        result = explain(subject, samples, method)
        assert result.maps.shape == (3, steps) and result.node == node, method
        assert np.isfinite(result.maps).all() and np.abs(result.maps).sum() > 0
    fig = new_figure(11, 5)
    draw_explanation(fig, subject, result, 1)
    assert len(fig.axes) == 3  # the input, the bars, the colour bar


SIGNAL_CNN = """format: 1
name: signal_cnn
nodes:
  wave: {block: input, params: {shape: [4, 50]}}
  conv: {block: conv1d, params: {out_channels: 8, kernel_size: 5}, inputs: [wave]}
  act: {block: relu, inputs: [conv]}
  pool: {block: global_avg_pool, inputs: [act]}
  head: {block: linear, params: {out_features: 3}, inputs: [pool]}
  out: {block: output, inputs: [head]}
"""


def test_a_signal_read_by_1d_convolutions_gets_maps_along_its_length(tmp_path):
    subject = from_trained(from_graph(parse_graph(SIGNAL_CNN, str(tmp_path / "signal.yaml"))))
    samples = Samples([torch.randn(2, 4, 50)], None, ["a", "b"])
    assert default_gradcam_node(subject) == "act"
    for method in METHODS:
        result = explain(subject, samples, method)
        assert result.maps.shape == (2, 50) and result.layout == "signal", method


# ------------------------------------------------------------------------------ refusals
def test_gradcam_on_a_node_without_spatial_axes_names_it_and_why(lenet):
    samples = lenet.samples("val:0")
    with pytest.raises(InspectError, match=r"node 'fc1' \(linear\) outputs \[120\], which has none") as caught:
        explain(lenet, samples, "gradcam", node="fc1")
    assert "pool2" in caught.value.hint
    with pytest.raises(InspectError, match="has no node 'fc9'; did you mean 'fc3'"):
        explain(lenet, samples, "gradcam", node="fc9")
    with pytest.raises(InspectError, match="unknown method 'gradcm'; did you mean 'gradcam'"):
        explain(lenet, samples, "gradcm")
    with pytest.raises(InspectError, match="--node picks"):
        explain(lenet, samples, "saliency", node="conv1")
    with pytest.raises(InspectError, match="scores 10 classes"):
        explain(lenet, samples, "saliency", target=10)
    assert explain(lenet, samples, "gradcam", node="act1").node == "act1"


def test_image_only_methods_and_unexplainable_models_are_refused():
    lstm = from_trained(from_graph(load_graph(ROOT / "graphs" / "lstm_classifier.yaml")))
    tokens = Samples([torch.randint(0, 100, (1, 40))], None, ["t"])
    with pytest.raises(InspectError, match=r"Grad-CAM needs an image input.*token ids \[40\]"):
        explain(lstm, tokens, "gradcam")
    unet = from_trained(from_graph(load_graph(ROOT / "graphs" / "unet_small.yaml")))
    with pytest.raises(InspectError, match=r"one score per class.*\[2, 64, 64\]"):
        explain(unet, Samples([torch.randn(1, 3, 64, 64)]), "saliency")


# ---------------------------------------------------------------------------- the command
def test_cli_writes_pngs_and_maps_and_says_where(patterns, tmp_path, capsys):
    run = patterns.trained.source
    out = tmp_path / "maps"
    assert main(["explain", str(run), "val:3", "--method", "gradcam", "-m", "saliency", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "gradcam at relu3" in printed and "val #3: predicted" in printed
    assert sorted(p.name for p in out.iterdir()) == ["val-3_gradcam.npy", "val-3_gradcam.png",
                                                     "val-3_saliency.npy", "val-3_saliency.png"]
    heat = np.load(out / "val-3_gradcam.npy")
    assert heat.shape == (32, 32) and heat.dtype == np.float32
    assert (out / "val-3_gradcam.png").read_bytes().startswith(b"\x89PNG")


def test_cli_default_folder_is_inside_the_run_and_a_file_input_works(patterns, tmp_path, capsys):
    run = patterns.trained.source
    np.save(tmp_path / "two.npy", generate_patterns(2, 32, 32, seed=5).images.numpy())
    assert main(["explain", str(run), str(tmp_path / "two.npy"), "-m", "occlusion", "--target", "ring"]) == 0
    assert (run / "explain" / "two-1_occlusion.npy").is_file()
    assert f"{run / 'explain'}/" in capsys.readouterr().out


@pytest.mark.parametrize("args, expected", [
    (["val:0", "--method", "gradcam", "--node", "head"], "node 'head' (linear) outputs [5]"),
    (["val:0", "--method", "gradcm"], "unknown method 'gradcm'"),
    (["missing.png"], "missing.png: no such input file"),
    (["val:0", "--target", "star"], "--target 'star': no such class"),
    (["val:9999"], "val:9999: the validation split has 400 samples"),
])
def test_cli_refusals_print_error_and_hint_without_traceback(patterns, args, expected, capsys):
    assert main(["explain", str(patterns.trained.source), *args]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and expected in captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    if "val:9999" not in args:
        assert "hint: " in captured.err


def test_without_captum_the_command_says_what_to_install(patterns, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "captum", None)  # as if not installed: importing it fails
    monkeypatch.setitem(sys.modules, "captum.attr", None)
    assert main(["explain", str(patterns.trained.source), "val:0", "-m", "saliency"]) == 1
    err = capsys.readouterr().err
    assert "needs the Python package 'captum'" in err and 'pip install "modelbuilder[explain]"' in err
    assert "Traceback" not in err


def test_file_names_follow_the_captions():
    assert file_stem("val #12", 0) == "val-12"
    assert file_stem("digit.png", 0) == "digit"
    assert file_stem("batch.npy #3", 0) == "batch-3"
    assert file_stem("", 4) == "sample-4"


def test_written_files_for_a_sequence_hold_one_value_per_token(tmp_path):
    subject = from_trained(from_graph(load_graph(ROOT / "graphs" / "lstm_classifier.yaml")))
    result = explain(subject, Samples([torch.randint(0, 100, (1, 40))], None, ["review.npy"]), "saliency")
    paths = write_explanation(subject, result, tmp_path)
    assert [p.name for p in paths] == ["review_saliency.png", "review_saliency.npy"]
    assert np.load(paths[1]).shape == (40,)
