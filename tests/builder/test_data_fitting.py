"""Which built-in data sources fit a graph (builder/data/fitting.py), and the messages that
name them: a graph without data, a declared source that cannot fit."""

from __future__ import annotations

import pytest

from builder import analyze, load_graph
from builder.cli import main
from builder.data import DataError, InputSpec
from builder.data.fitting import fitting_sources, graph_sources, load_graph_data, no_data_message, rank_sources
from tests.conftest import ROOT

TOKENS = [InputSpec("tokens", (40,), "int64")]
IMAGE = [InputSpec("image", (1, 32, 32), "float32")]
RGB = [InputSpec("image", (3, 224, 224), "float32")]


SEQUENCES = {"first_token", "sentiment", "adding", "reverse"}
IMAGES = {"digits", "patterns"}


def fitting(inputs, output):
    return set(fitting_sources(inputs, output)) & (SEQUENCES | IMAGES)  # (other sources come and go)


def test_token_graphs_fit_the_sequence_sources_and_image_graphs_the_image_sources():
    assert fitting(TOKENS, (4,)) == {"first_token", "sentiment"}
    assert fitting(IMAGE, (10,)) == IMAGES
    assert fitting(RGB, (1000,)) == IMAGES, "resized images fit"
    two = [InputSpec("source", (20,), "int64"), InputSpec("target_in", (20,), "int64")]
    assert fitting(two, (20, 16)) == {"reverse"}
    assert fitting([InputSpec("signal", (30, 2), "float32")], (1,)) == {"adding"}
    assert fitting_sources(TOKENS, (4,))[:2] == ["first_token", "sentiment"], "in the order of SOURCES"


def test_ranked_fitting_first_then_own_files_then_the_others_with_their_reasons():
    ranked = rank_sources(TOKENS, (4,))
    kinds = [0 if f.fits else 1 if f.needs else 2 for f in ranked]
    assert kinds == sorted(kinds) and kinds[0] == 0 and 1 in kinds and 2 in kinds
    why = {f.source: f for f in ranked}
    assert why["sentiment"].fits and why["sentiment"].reason is None and why["sentiment"].label == "sentiment"
    digits = why["digits"]
    assert not digits.fits and digits.label == digits.reason
    assert "'tokens' is [40] int64" in digits.reason and "[1, H, W]" in digits.reason
    assert why["npz"].needs == ("path",) and "path" in why["npz"].reason
    assert "2 inputs" in why["reverse"].reason


def test_too_many_classes_is_a_reason():
    fits = {f.source: f for f in rank_sources(IMAGE, (5,))}
    assert fits["patterns"].fits
    assert not fits["digits"].fits and "10 classes" in fits["digits"].reason and "[5]" in fits["digits"].reason


def test_graph_sources_reads_an_analysis_also_of_a_graph_with_problems():
    graph = load_graph(ROOT / "graphs/seq2seq_attention.yaml")
    assert [f.source for f in graph_sources(analyze(graph)) if f.fits] == ["reverse"]
    graph.nodes["encoder"].inputs = []  # a dangling block: shapes below it are unknown
    fits = graph_sources(analyze(graph))
    assert fits and not any(f.fits for f in fits) and all("has problems" in f.reason for f in fits)


def test_no_data_names_the_sources_that_fit():
    message, hint = no_data_message(TOKENS, (4,))
    assert "no 'data'" in message
    assert "first_token, sentiment" in hint and "--data first_token" in hint and "digits" not in hint
    assert "patterns" not in hint
    _, hint = no_data_message([InputSpec("x", (7,), "int64"), InputSpec("y", (3, 3), "float32")], (2,))
    assert "no built-in source fits" in hint and "'x' [7] int64" in hint and "npz" in hint


def test_a_declared_source_that_cannot_fit_names_the_input_both_shapes_and_the_ones_that_fit():
    with pytest.raises(DataError) as caught:
        load_graph_data({"name": "sentiment"}, IMAGE, (10,))
    text = str(caught.value)
    assert "sentiment cannot train this graph" in text
    assert "'image' [1, 32, 32] float32" in text and "token ids [T]" in text
    assert "built-in sources that fit it: digits, " in text and "patterns" in text and "reverse" not in text
    with pytest.raises(DataError) as caught:  # an option error of a source that fits stays as it was
        load_graph_data({"name": "digits", "bogus": 1}, IMAGE, (10,))
    assert "unknown option" in str(caught.value) and "cannot train" not in str(caught.value)


def test_the_cli_without_data_and_with_data_that_cannot_fit(tmp_path, capsys):
    text = (ROOT / "graphs/gru_classifier.yaml").read_text(encoding="utf-8")
    bare = tmp_path / "bare.yaml"
    bare.write_text(text[:text.index("\ntraining:") + 1], encoding="utf-8")
    assert main(["train", str(bare), "--out", str(tmp_path / "a"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "no dataset" in err and "first_token, sentiment" in err and "--data first_token" in err
    assert main(["train", str(bare), "--data", "digits", "--out", str(tmp_path / "b"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "digits cannot train this graph" in err and "'tokens' is [40] int64" in err
    assert "first_token, sentiment" in err and "Traceback" not in err


def test_naming_the_declared_source_keeps_its_options(tmp_path, capsys):
    """The app passes the data set it shows (--data NAME): the graph's limit must stand."""
    text = (ROOT / "graphs/lenet5.yaml").read_text(encoding="utf-8").replace(
        "data: {name: digits}", "data: {name: digits, limit: 30}")
    graph = tmp_path / "lenet.yaml"
    graph.write_text(text, encoding="utf-8")
    args = ["train", str(graph), "--max-steps", "1", "--no-estimate", "--no-tensorboard", "--threads", "1"]
    assert main([*args, "--data", "digits", "--out", str(tmp_path / "same")]) == 0
    assert "24 train / 6 validation" in capsys.readouterr().out
    assert main([*args, "--data", "sentiment", "--out", str(tmp_path / "other")]) == 1  # another name replaces it
    assert "sentiment cannot train this graph" in capsys.readouterr().err
