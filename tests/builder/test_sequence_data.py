"""The decoder data sets: ``captions`` (images of two shapes with their captions) and
``text`` (character windows for language modelling)."""

from __future__ import annotations

import pytest
import torch

from builder.data import DataError, InputSpec, load_data
from builder.data.captions import COLOURS, SHAPES, VOCABULARY
from builder.data.text_corpus import ALPHABET, WORDS

IMAGE, CAPTION = InputSpec("image", (3, 32, 32)), InputSpec("caption_in", (8,), "int64")
TEXT = InputSpec("text", (48,), "int64")


def test_captions_name_what_the_image_shows():
    task = load_data({"name": "captions", "samples": 64, "normalize": False, "val_split": 0}, [IMAGE, CAPTION], (8, 13))
    images, decoder_in = task.train.inputs
    target = task.train.targets
    assert images.shape == (64, 3, 32, 32) and target.shape == (64, 8) and task.class_names == VOCABULARY
    # teacher forcing: <start>, then the target shifted right by one
    assert torch.all(decoder_in[:, 0] == VOCABULARY.index("<start>"))
    assert torch.equal(decoder_in[:, 1:], target[:, :-1])
    palette = torch.tensor(list(COLOURS.values()))
    for image, row in zip(images, target.tolist()):
        words = [VOCABULARY[i] for i in row[:row.index(VOCABULARY.index("<end>"))]]
        assert len(words) in (5, 6) and words[0] in COLOURS and words[1] in SHAPES and words[-1] in SHAPES
        assert words[2:-2] in (["left", "of"], ["above"])
        # both named colours cover a good share of pixels; the first one lies left of (or above) the second
        where = []
        for colour in (words[0], words[-2]):
            match = (image - palette[list(COLOURS).index(colour)][:, None, None]).abs().amax(0) < 1e-6
            assert match.sum() >= 20, (words, colour)
            ys, xs = match.nonzero(as_tuple=True)
            where.append((float(xs.float().mean()), float(ys.float().mean())))
        if words[0] != words[-2]:
            axis = 0 if words[2] == "left" else 1
            assert where[0][axis] < where[1][axis], words


def test_text_windows_are_the_input_shifted_by_one():
    task = load_data({"name": "text", "samples": 50}, [TEXT], (48, 28))
    x, y = task.train.inputs[0], task.train.targets
    assert x.shape == (50, 48) and y.shape == (50, 48) and len(task.val) == 10
    assert torch.equal(x[:, 1:], y[:, :-1]) and task.class_names == list(ALPHABET)
    text = "".join(ALPHABET[i] for i in x[0])
    inner = text.split()[1:-1]  # the first and last word may be cut
    assert inner and all(word.rstrip(".") in WORDS for word in inner), text


def test_text_from_a_file_has_its_own_vocabulary(tmp_path):
    (tmp_path / "poem.txt").write_text("Roses are red,\nviolets are blue.\n" * 30, encoding="utf-8")
    task = load_data({"name": "text", "path": "poem.txt", "samples": 20}, [TEXT], (48, 20), base_dir=tmp_path)
    assert task.class_names == sorted(set("Roses are red, violets are blue."))
    with pytest.raises(DataError, match="distinct characters but the graph's output scores 10"):
        load_data({"name": "text", "path": "poem.txt"}, [TEXT], (48, 10), base_dir=tmp_path)


def test_decoder_sources_refuse_graphs_that_do_not_fit():
    with pytest.raises(DataError, match="captions gives 2 inputs"):
        load_data({"name": "captions"}, [IMAGE], (8, 13))
    with pytest.raises(DataError, match="at least 7 steps"):
        load_data({"name": "captions"}, [IMAGE, InputSpec("caption_in", (5,), "int64")], (5, 13))
    with pytest.raises(DataError, match="13 words but the graph's output scores 9"):
        load_data({"name": "captions"}, [IMAGE, CAPTION], (8, 9))
    with pytest.raises(DataError, match=r"character ids \[T\]"):
        load_data({"name": "text"}, [InputSpec("text", (48, 3))], (48, 28))
