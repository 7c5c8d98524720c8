"""The ``letters`` source: an invented alphabet drawn by hand, for the transfer-learning demo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from builder.data import DataError, InputSpec, load_data
from builder.data.stroke_letters import ALPHABET, GRID, alphabet, render_letters

IMAGE = InputSpec("image", (1, 20, 20))


def test_the_alphabet_is_fixed_and_no_letter_is_a_shifted_copy_of_another():
    letters = alphabet()
    assert len(letters) == len(set(letters)) == ALPHABET
    for strokes in letters:
        points = [GRID[p] for stroke in strokes for p in stroke]
        # each spans the whole grid, so moving a letter never turns it into another
        assert {r for r, _ in points} >= {0, 2} and {c for _, c in points} >= {0, 2}
        assert all(max(abs(GRID[a][0] - GRID[b][0]), abs(GRID[a][1] - GRID[b][1])) == 1 for a, b in strokes)
    # fixed for good: a run trained on letters 0-9 must meet the same letters 10-19 in any later run
    assert letters[0] == ((0, 3), (0, 4), (2, 4), (3, 6)) and letters[99] == ((0, 4), (2, 4), (3, 4), (4, 8))


def test_images_are_balanced_seeded_and_show_the_strokes():
    images, labels = render_letters([3, 7], 40, 20, 24, np.random.default_rng(1), noise=0.0)
    again, _ = render_letters([3, 7], 40, 20, 24, np.random.default_rng(1), noise=0.0)
    other, _ = render_letters([3, 7], 40, 20, 24, np.random.default_rng(2), noise=0.0)
    assert images.shape == (80, 20, 24) and np.bincount(labels).tolist() == [40, 40]
    assert np.array_equal(images, again) and not np.array_equal(images, other)
    assert images.min() >= 0.2 - 1e-6 and images.max() <= 1.0  # background 0.2 .. 0.4, ink up to 1
    assert np.all((images > 0.5).sum(axis=(1, 2)) >= 15)  # every image holds a letter's strokes


def test_the_source_gives_the_classes_asked_for_with_a_validation_set_of_its_own():
    task = load_data({"name": "letters", "classes": [12, 10, 11], "per_class": 3, "val_per_class": 20},
                     [IMAGE], (3,), seed=5)
    assert task.class_names == ["letter 12", "letter 10", "letter 11"]
    assert torch.bincount(task.train.targets).tolist() == [3, 3, 3]
    assert torch.bincount(task.val.targets).tolist() == [20, 20, 20]
    assert task.description.startswith("letters (9 images 20x20 of 3 invented letters ([12, 10, 11]), "
                                       "validation: 60 more): 9 train / 60 val")
    again = load_data({"name": "letters", "classes": [12, 10, 11], "per_class": 3}, [IMAGE], (3,), seed=5)
    assert torch.equal(task.train.inputs[0], again.train.inputs[0])  # the training images do not follow the val size
    default = load_data({"name": "letters", "val_per_class": 0, "limit": 50}, [IMAGE], (10,), seed=0)
    assert default.class_names[-1] == "letter 9" and (len(default.train), len(default.val)) == (40, 10)


def test_bad_options_and_inputs_are_refused_with_a_reason():
    with pytest.raises(DataError, match="names a letter twice"):
        load_data({"name": "letters", "classes": [1, 1]}, [IMAGE], (2,))
    with pytest.raises(DataError, match=rf"option 'classes'.*integer in \[0, {ALPHABET - 1}\], found {ALPHABET}"):
        load_data({"name": "letters", "classes": [ALPHABET]}, [IMAGE], (2,))
    with pytest.raises(DataError, match="at least 16x16"):
        load_data({"name": "letters"}, [InputSpec("image", (1, 8, 8))], (10,))
