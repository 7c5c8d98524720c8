"""Mutated gallery graphs (tests/builder/graph_mutations.py): only the project's problems,
in bounded time, and every document that checks compiles and runs forward with the
shapes the analysis promised. A few seconds here; bench/fuzz_graphs.py runs 10,000."""

from __future__ import annotations

import random
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml.error import ReusedAnchorWarning

from tests.builder.graph_mutations import (
    INNER, STRUCTURAL, TEXTUAL, _dump, _load, check_cli, check_document, gallery_texts, make_project, mutate,
    write_case,
)

# the small gallery graphs (a forward pass on the CPU each), a composite part, and one
# large graph that runs on the meta device
SOURCES = ["lenet5.yaml", "rnn_classifier.yaml", "gru_classifier.yaml", "transformer_classifier.yaml",
           "seq2seq_attention.yaml", "unet_small.yaml", INNER, "resnet18.yaml"]
TEXTS = gallery_texts()
SLOW_S = 3.0  # loading and analysis take well under a second; room for a busy machine


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("fuzz") / "project")


def verdict(project, source: str, text: str):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReusedAnchorWarning)  # it printed stack text on stderr
        outcome = check_document(write_case(project, source, text), limit_s=10.0, slow_s=SLOW_S)
    assert not outcome.failed, \
        f"{outcome.kind} ({outcome.seconds:.2f} s): {outcome.detail}\n--- document:\n{text[:3000]}"
    return outcome


@settings(derandomize=True, max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(source=st.sampled_from(SOURCES), rng=st.randoms(use_true_random=False))
def test_mutated_gallery_graphs(project, source, rng):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the mutator's own YAML reader may warn
        text, _ = mutate(rng, TEXTS[source])
    verdict(project, source, text)


@pytest.mark.parametrize("name", sorted(STRUCTURAL) + sorted(TEXTUAL))
def test_every_mutation_once(project, name):
    rng = random.Random(name)
    if name in STRUCTURAL:
        text = _dump(STRUCTURAL[name](rng, _load(TEXTS["lenet5.yaml"])))
    else:
        text = TEXTUAL[name](rng, TEXTS["lenet5.yaml"])
    verdict(project, "lenet5.yaml", text)


def test_documents_that_check_run_forward(project):
    """The fuzzer's forward pass is real: plausible edits check, compile and run."""
    ran = []
    for seed in range(6):
        rng = random.Random(seed)
        data = _load(TEXTS["lenet5.yaml"])
        for _ in range(2):
            data = STRUCTURAL["tweak_param"](rng, data)
        outcome = verdict(project, "lenet5.yaml", _dump(data))
        ran.append(outcome.ran)
    assert ran.count("cpu") >= 3, ran


def test_modelbuilder_check_on_mutated_documents(project):
    rng = random.Random(7)
    for _ in range(5):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            text, _ = mutate(rng, TEXTS["lenet5.yaml"])
        outcome = check_cli(write_case(project, "lenet5.yaml", text))
        assert not outcome.failed, outcome.detail
