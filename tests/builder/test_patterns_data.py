"""The ``patterns`` source: synthetic "find the glyph" images whose decisive box is known."""

from __future__ import annotations

import pytest
import torch

from builder import analyze, load_graph
from builder.data import DataError, InputSpec, graph_io, load_data
from builder.data.patterns import CLASS_NAMES, GLYPH, GLYPHS, NONE, generate_patterns
from builder.data.pipeline import split_indices
from tests.conftest import ROOT

IMAGE = InputSpec("image", (1, 32, 32))


def test_same_seed_same_images_and_another_seed_others():
    a = generate_patterns(50, 32, 32, seed=3)
    b = generate_patterns(50, 32, 32, seed=3)
    c = generate_patterns(50, 32, 32, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.boxes, b.boxes) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    assert a.images.shape == (50, 1, 32, 32) and a.images.dtype == torch.float32


def test_each_box_holds_its_glyph_and_nothing_touches_it():
    data = generate_patterns(300, 32, 24, seed=1, noise=0.0)
    glyphs = list(GLYPHS.values())
    assert set(data.labels.tolist()) == set(range(len(CLASS_NAMES)))
    for image, label, (top, left, bottom, right) in zip(data.images[:, 0], data.labels, data.boxes.tolist()):
        if CLASS_NAMES[label] == NONE:
            assert (top, left, bottom, right) == (-1, -1, -1, -1)
            continue
        assert (bottom - top, right - left) == (GLYPH, GLYPH)
        inside = image[top:bottom, left:right]
        ink = inside.max()
        assert 0.7 <= ink <= 1.0 and torch.equal(inside > 0, torch.from_numpy(glyphs[label]) > 0)
        ring = image[max(0, top - 1):bottom + 1, max(0, left - 1):right + 1].clone()
        ring[top - max(0, top - 1):, left - max(0, left - 1):][:GLYPH, :GLYPH] = 0
        assert ring.abs().max() == 0  # a free pixel all round: a distractor never completes a glyph


def test_none_images_hold_only_distractors_and_others_hold_more_than_the_glyph():
    data = generate_patterns(200, 32, 32, seed=2, noise=0.0)
    none = data.labels == CLASS_NAMES.index(NONE)
    assert 0 < int(none.sum()) < 100
    ink = (data.images[:, 0] > 0).flatten(1).sum(1)
    assert torch.all(ink[none] > 0)  # distractors, but no glyph
    assert float(ink[~none].float().mean()) > GLYPH * GLYPH / 2 + 10


def test_the_source_loads_for_a_graph_and_the_boxes_follow_the_split():
    task = load_data({"name": "patterns", "samples": 400}, [IMAGE], (5,), seed=7)
    assert len(task.train) == 320 and len(task.val) == 80 and task.class_names == CLASS_NAMES
    assert task.normalization is not None and task.description.startswith("patterns (400 synthetic images 32x32")
    data = generate_patterns(400, 32, 32, seed=7)
    _, val_index = split_indices(400, 0.2, 7)
    assert torch.equal(task.val.targets, data.labels[val_index])
    raw = task.val.inputs[0] * task.normalization["std"][0] + task.normalization["mean"][0]
    assert torch.allclose(raw, data.images[val_index], atol=1e-5)


def test_rgb_input_and_options():
    task = load_data({"name": "patterns", "samples": 60, "distractors": 0, "noise": 0.0, "val_split": 0},
                     [InputSpec("image", (3, 16, 20))], (5,))
    x = task.train.inputs[0]
    assert x.shape == (60, 3, 16, 20) and torch.equal(x[:, 0], x[:, 2])


@pytest.mark.parametrize("spec, shape, expected", [
    ({"name": "patterns"}, (1, 8, 8), "at least 12x12"),
    ({"name": "patterns"}, (64,), "at least 12x12"),
    ({"name": "patterns", "noise": -1}, (1, 32, 32), "option 'noise'"),
    ({"name": "patterns", "distractors": 40}, (1, 32, 32), "option 'distractors'"),
])
def test_bad_inputs_and_options_are_refused_clearly(spec, shape, expected):
    with pytest.raises(DataError, match=expected):
        load_data(spec, [InputSpec("image", shape)], (5,))


def test_labels_beyond_a_small_output_are_refused():
    with pytest.raises(DataError, match="labels go up to 4"):
        load_data({"name": "patterns", "samples": 100}, [IMAGE], (4,))


def test_the_gallery_graph_gets_its_data():
    inputs, output = graph_io(analyze(load_graph(ROOT / "graphs" / "find_the_pattern.yaml")))
    task = load_data({"name": "patterns", "limit": 50}, inputs, output)
    assert [tuple(x.shape[1:]) for x in task.train.inputs] == [s.shape for s in inputs]
