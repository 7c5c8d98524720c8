"""Generating with decoder graphs: the searches, the decoding contract and its errors (on
untrained models), and trained captioner and language models (generate, free-running
accuracy in training, the CLI)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from builder import load_graph, parse_graph
from builder.cli import main
from builder.data.captions import VOCABULARY, caption_words, draw
from builder.data.text_corpus import WORDS
from builder.exporting.source import from_graph
from builder.generation import GenerationError, open_generator
from builder.generation.runner import DecoderRunner
from builder.training.engine import Trainer
from builder.training.events import read_events
from builder.training.runs import RunFolder
from builder.training.settings import resolve_settings
from tests.conftest import ROOT

SEQ2SEQ = ROOT / "graphs/seq2seq_attention.yaml"
REVERSE_VOCAB = ["<start>"] + [str(i) for i in range(1, 16)]
SOURCE = "3 1 4 1 5 9 2 6 5 3 5 8 9 7 9 3 2 3 8 4"


def untrained(path=SEQ2SEQ, names=REVERSE_VOCAB, graph=None):
    trained = from_graph(graph or load_graph(path), seed=1)
    trained.data = {"kind": "classification", "class_names": names}
    return open_generator(trained)


@pytest.fixture(scope="module")
def seq2seq():
    return untrained()


# --- the searches ----------------------------------------------------------------------------
def test_greedy_is_deterministic_and_is_the_argmax_of_its_own_teacher_forced_run(seq2seq):
    [first] = seq2seq.generate(SOURCE)
    [again] = untrained().generate(SOURCE)
    assert first.ids == again.ids and len(first.ids) == 20 and first.log_probability == again.log_probability
    # fed its own tokens back in one pass, the model picks the same token at every step
    decoder_in = torch.tensor([[0] + first.ids[:-1]])
    source = torch.tensor([[int(t) for t in SOURCE.split()]])
    logits = seq2seq.trained.model(source, decoder_in)
    assert logits[0].argmax(-1).tolist() == first.ids
    assert first.text == " ".join(first.tokens) and first.attention["attention"].shape == (4, 20, 20)
    assert first.keys == SOURCE.split()


def test_sampling_is_fixed_by_the_seed(seq2seq):
    runs = [seq2seq.generate(SOURCE, method="sample", temperature=2.0, seed=s)[0].ids for s in (7, 7, 8)]
    assert runs[0] == runs[1] and runs[0] != runs[2]
    greedy = seq2seq.generate(SOURCE)[0].ids
    cold = seq2seq.generate(SOURCE, method="sample", temperature=1e-4, seed=8)[0].ids
    assert cold == greedy  # a temperature near 0 samples the argmax


def test_beam_of_one_is_greedy_and_wider_beams_find_likelier_sequences(seq2seq):
    greedy = seq2seq.generate(SOURCE)[0]
    narrow = seq2seq.generate(SOURCE, method="beam", beam=1)[0]
    assert narrow.ids == greedy.ids and narrow.log_probability == pytest.approx(greedy.log_probability)
    # two steps: the most likely of all 16 x 16 sequences, by brute force
    runner = DecoderRunner(seq2seq.trained.model, seq2seq.contract, [torch.tensor([[int(t) for t in SOURCE.split()]])])
    first = runner.score(torch.tensor([[0]]))[0]
    second = runner.score(torch.tensor([[0, a] for a in range(16)]))
    best = float((first[:, None] + second).max())
    assert seq2seq.generate(SOURCE, method="beam", beam=16, max_length=2)[0].log_probability == pytest.approx(best)
    two_greedy = seq2seq.generate(SOURCE, max_length=2)[0].log_probability
    assert two_greedy <= seq2seq.generate(SOURCE, method="beam", beam=4, max_length=2)[0].log_probability + 1e-9
    assert two_greedy < best  # at random weights, greedy is not the best here (else the test shows nothing)


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("call, message", [
    (lambda g: g.generate("3 1 x 1"), "unknown token 'x' (token 3 of '3 1 x 1')"),
    (lambda g: g.generate(SOURCE + " 7"), "21 tokens, longer than the graph allows: its input 'source' takes 20"),
    (lambda g: g.generate("3 1 4"), "'source' takes exactly 20"),
    (lambda g: g.generate(SOURCE, prompt="1 " * 20), "the prompt has 20 tokens, longer than the graph allows"),
    (lambda g: g.generate(SOURCE, max_length=21), "--max-length 21 is longer than the graph allows"),
    (lambda g: g.generate(SOURCE, method="sample", temperature=0), "temperature must be above 0"),
    (lambda g: g.generate(None), "give --input"),
])
def test_bad_input_gets_a_clear_error(seq2seq, call, message):
    with pytest.raises(GenerationError) as caught:
        call(seq2seq)
    assert message in str(caught.value)


def test_graphs_that_cannot_generate_say_why():
    with pytest.raises(GenerationError, match=r"not a decoder graph: its output 'logits' is \[8\]"):
        untrained(ROOT / "graphs/lstm_memory.yaml", [str(i) for i in range(8)])
    with pytest.raises(GenerationError, match="no <start> token"):
        untrained(names=[str(i) for i in range(16)])
    # a bidirectional decoder reads the future: found on the model when generation starts
    text = SEQ2SEQ.read_text().replace("params: {hidden_size: 64}\n    inputs: {x: target_embed",
                                       "params: {hidden_size: 32, bidirectional: true}\n    inputs: {x: target_embed")
    peeking = untrained(graph=parse_graph(text, str(SEQ2SEQ)))
    with pytest.raises(GenerationError, match="changes with decoder inputs after step 10"):
        peeking.generate(SOURCE)


def test_cli_reports_errors_without_a_traceback(tmp_path, capsys):
    assert main(["generate", str(tmp_path / "nothing")]) == 1
    assert "no such run folder or bundle" in capsys.readouterr().err


# --- trained models -------------------------------------------------------------------------------
def train(tmp_path, graph, **overrides):
    out = tmp_path / graph
    path = ROOT / f"graphs/{graph}.yaml"
    settings = resolve_settings(load_graph(path).training, {"threads": 1, "device": "cpu", "tensorboard": False,
                                                            "estimate": False, **overrides})
    assert Trainer(load_graph(path), settings, RunFolder.at(out)).run()["status"] == "completed"
    return out


@pytest.fixture(scope="module")
def language_model(tmp_path_factory):
    """char_lstm for 2 epochs (measured 88% of next characters right, 8 s on 1 core)."""
    return train(tmp_path_factory.mktemp("lm"), "char_lstm", epochs=2)


def test_language_model_writes_words_of_its_corpus(language_model):
    epochs = [e for e in read_events(str(language_model / "metrics.jsonl")) if e["event"] == "epoch"]
    assert epochs[-1]["val_accuracy"] >= 0.8  # measured 88%
    # free-running: half a window given, the other half generated: the first word the model picks
    # differently from the text puts every later character out of step (measured 27%)
    assert 0.1 <= epochs[-1]["val_generated_accuracy"] < epochs[-1]["val_accuracy"]
    generator = open_generator(language_model)
    for method in ("greedy", "sample", "beam"):
        [result] = generator.generate("the old man ", method=method, temperature=0.7, max_length=120)
        words = (result.prompt + result.text).split()[:-1]  # the last word may be cut off
        known = [w.rstrip(".") in WORDS for w in words]
        # measured: every word for greedy and beam search, 23 of 25 sampled at temperature 0.7
        assert len(words) >= 12 and sum(known) >= 0.85 * len(known), (method, result.text)


def test_cli_generates_deterministically_and_writes_the_results(language_model, tmp_path, capsys):
    flags = ["generate", str(language_model), "-i", "a bird ", "--sample", "--seed", "3", "--max-length", "40"]
    assert main(flags) == 0
    first = capsys.readouterr().out
    assert main(flags + ["--out", str(tmp_path / "out.json")]) == 0
    assert capsys.readouterr().out.startswith(first) and first.startswith("a bird ")
    saved = json.loads((tmp_path / "out.json").read_text())
    assert saved[0]["prompt"] == "a bird " and first == "a bird " + saved[0]["text"] + "\n"
    assert len(saved[0]["ids"]) == 40
    assert main(["generate", str(language_model), "-i", "The cat"]) == 1
    assert "unknown token 'T'" in capsys.readouterr().err


def test_captioner_learns_to_caption_and_looks_at_the_shapes(tmp_path):
    run = train(tmp_path, "captioner", epochs=5)
    last = [e for e in read_events(str(run / "metrics.jsonl")) if e["event"] == "epoch"][-1]
    # measured after 5 epochs: 96.6% of words teacher-forced, 96.1% generated, 77% exact captions
    assert last["val_accuracy"] >= 0.9 and last["val_exact_match"] >= 0.5
    generator = open_generator(run)
    results = generator.generate("val:0-9")
    assert sum(r.text == r.reference for r in results) >= 6
    assert results[0].attention["attention"].shape == (4, len(results[0].ids), 16)
    # an image file, read and normalized as in training
    shapes, colours, vertical = torch.tensor([[2, 0]]), torch.tensor([[1, 3]]), torch.tensor([False])
    image = draw((shapes[:, 0], colours[:, 0]), (shapes[:, 1], colours[:, 1]), vertical, 32,
                 torch.Generator().manual_seed(5))[0]
    pixels = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "shapes.png")
    [result] = generator.generate(tmp_path / "shapes.png")
    assert result.source == "shapes.png" and result.tokens[-1] == "<end>" and set(result.tokens) <= set(VOCABULARY)
    truth = caption_words(2, 1, 0, 3, False)  # green triangle left of yellow circle
    words = result.text.split()
    # after 5 epochs colours and the relation are learned first; shapes mostly
    assert words[0] == truth[0] and words[2:-2] == truth[2:-2] and words[-2] == truth[-2], result.text
