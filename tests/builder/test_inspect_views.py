"""The inspect views on briefly trained models: what each must show (k-NN accuracy of an
embedding, the reverse task's anti-diagonal, a maximized unit), and ``modelbuilder inspect``
end to end. Gallery coverage and refusals with untrained models: test_inspect_gallery.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from builder.cli import main
from builder.inspecting import open_subject
from builder.inspecting import views
from builder.inspecting.errors import InspectError
from builder.inspecting.figures import new_figure
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory) -> Path:
    """LeNet-5 trained for 5 epochs on digits (about 95% validation accuracy, seconds)."""
    out = tmp_path_factory.mktemp("inspect") / "lenet"
    assert main(["train", str(ROOT / "graphs/lenet5.yaml"), "--epochs", "5", "--out", str(out), "-q",
                 "--device", "cpu"]) == 0
    return out


@pytest.fixture(scope="module")
def lenet(lenet_run):
    return open_subject(lenet_run)


@pytest.fixture(scope="module")
def reverse_run(tmp_path_factory) -> Path:
    """seq2seq_attention trained on the reverse task for 5 epochs (~99% per-token accuracy,
    measured 4-8 s on 2 CPU cores)."""
    out = tmp_path_factory.mktemp("inspect") / "reverse"
    assert main(["train", str(ROOT / "graphs/seq2seq_attention.yaml"), "--data", "reverse", "--epochs", "5",
                 "--lr", "0.003", "--out", str(out), "-q", "--device", "cpu"]) == 0
    return out


# --- what the views must show --------------------------------------------------------------
def test_embedding_of_lenet_penultimate_features_separates_the_digits(lenet):
    view = views.embedding(lenet, "act4", "tsne")
    n = len(lenet.validation().targets)
    assert view.points.shape == (n, 2) and view.labels.shape == (n,)
    assert view.knn_accuracy >= 0.90, view.knn_accuracy  # measured 93-96%
    assert view.queries.shape[0] == 5 and view.neighbours.shape == (5, 6)
    assert all(q not in row for q, row in zip(view.queries, view.neighbours))
    assert view.class_names[:3] == ["0", "1", "2"]
    pca = views.embedding(lenet, "act4", "pca", limit=100)
    assert pca.points.shape == (100, 2) and 0 <= pca.knn_accuracy <= 1


def test_attention_of_the_trained_reverse_model_lies_on_the_anti_diagonal(reverse_run):
    subject = open_subject(reverse_run)
    samples = subject.samples("val:0-9")
    band, chance = [], []
    for i in range(len(samples)):
        view = views.attention(subject, samples, "attention", i)
        heads, tq, tk = view.weights.shape
        assert (heads, tq, tk) == (4, 20, 20)
        assert np.allclose(view.weights.sum(axis=2), 1.0, atol=1e-5)
        band.append(view.diagonal_mass(anti=True, band=1).mean())  # key 19-q, and one either side
        chance.append(3 / tk)
        assert view.query_tokens[0] == "0" and len(view.key_tokens) == 20  # the start token, the source
    # measured 0.73 after 5 epochs; uniform attention would put 0.15 there
    assert np.mean(band) >= 3 * np.mean(chance), np.mean(band)


def test_filters_of_the_first_layer_are_its_weights(lenet):
    view = views.filters(lenet, "conv1")
    weight = lenet.module("conv1").weight.detach().numpy()
    assert view.mode == "grey" and view.shown == (6, 1)
    assert np.array_equal(view.arrays()["weights"], weight)
    assert view.arrays()["bias"].shape == (6,)


def test_filters_of_a_deeper_layer_form_a_filter_by_input_channel_grid(lenet):
    view = views.filters(lenet, "conv2")
    assert view.mode == "grid" and view.shown == (16, 6)
    assert view.weights.shape == (16, 6, 5, 5)
    fig = new_figure(*view.figure_size())
    view.draw(fig)
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (6 * 5 + 5, 16 * 5 + 15)  # 6 rows x 16 columns of 5x5 tiles, 1-pixel gaps
    assert np.allclose(image[0:5, 0:5], view.weights[0, 0]) and np.allclose(image[6:11, 0:5], view.weights[0, 1])


def test_maximize_raises_the_unit_far_above_the_starting_noise(lenet):
    klass = views.maximize(lenet, "logits", 3)
    assert klass.class_model and klass.target == "fc3" and klass.units == [3]
    assert klass.final[0] > klass.start[0] + 3, (klass.start, klass.final)  # measured ~0.8 -> ~5.6
    assert klass.inputs.shape == (1, 1, 32, 32) and klass.history.shape == (200, 1)
    with torch.no_grad():  # the reported score is the model's own for that input
        score = lenet.forward([torch.from_numpy(klass.inputs)])[0, 3]
    assert abs(float(score) - klass.final[0]) < 1e-4
    channels = views.maximize(lenet, "conv2", None, steps=60)
    assert channels.units == list(range(16))
    assert np.all(channels.final > channels.start + 0.5) and np.mean(channels.final) > 5 * abs(np.mean(channels.start))


def test_activations_are_the_node_output_for_the_sample(lenet):
    samples = lenet.samples("val:4-6")
    view = views.activations(lenet, samples, "conv1", 2)
    expected = lenet.value([x[2:3] for x in samples.inputs], "conv1")[0].numpy()
    assert view.layout == "maps" and np.array_equal(view.values, expected)
    assert view.caption == "val #6" and view.picture.shape == (32, 32)
    assert "true" in view.prediction
    bars = views.activations(lenet, samples, "fc3")
    assert bars.layout == "bars" and bars.class_names == [str(i) for i in range(10)]
    with pytest.raises(InspectError, match="out of range"):
        views.activations(lenet, samples, "conv1", 3)


def test_every_view_draws_into_a_given_figure_and_writes_png_and_npy(lenet, reverse_run, tmp_path):
    reverse = open_subject(reverse_run)
    made = [views.filters(lenet, "conv1"), views.activations(lenet, lenet.samples("val:0"), "act2"),
            views.embedding(lenet, "fc2", "pca", limit=50), views.maximize(lenet, "conv1", 0, steps=5),
            views.attention(reverse, reverse.samples("val:0"), "attention"),
            views.gates(reverse, reverse.samples("val:0"), "decoder")]
    for view in made:
        fig = new_figure(6, 4)
        getattr(views, f"draw_{view.kind}")(fig, view)
        assert fig.axes
        paths = views.write(view, tmp_path)
        assert paths[0].suffix == ".png" and paths[0].read_bytes()[:4] == b"\x89PNG"
        for path, (name, array) in zip(paths[1:], view.arrays().items()):
            assert path.name == f"{view.stem}_{name}.npy"
            assert np.array_equal(np.load(path, allow_pickle=False), array)


def test_embedding_refuses_a_bundle_without_validation_data(lenet_run, tmp_path):
    assert main(["export", str(lenet_run), "--out", str(tmp_path / "bundle")]) == 0
    subject = open_subject(tmp_path / "bundle")
    reason = views.applicable(subject, "act4")["embedding"]
    assert "act4" in reason and "bundle" in reason
    with pytest.raises(InspectError, match="bundle"):
        views.embedding(subject, "act4")


# --- the command line ----------------------------------------------------------------------------
CLI_CASES = [
    ("lenet", ["--filters", "conv2"], ["filters_conv2.png", "filters_conv2_weights.npy"]),
    ("lenet", ["--activations", "conv1", "--input", "val:1-2"],
     ["activations_conv1_val1.png", "activations_conv1_val2_values.npy"]),
    ("lenet", ["--embedding", "act4", "--method", "pca", "--limit", "80"], ["embedding_act4_pca.png",
                                                                            "embedding_act4_pca_points.npy"]),
    ("lenet", ["--maximize", "logits:7", "--steps", "20"], ["maximize_logits_7.png", "maximize_logits_7_inputs.npy"]),
    ("reverse", ["--attention", "attention", "--input", "val:0"], ["attention_attention_val0.png",
                                                                   "attention_attention_val0_weights.npy"]),
    ("reverse", ["--gates", "encoder", "--input", "val:0"],
     ["gates_encoder_val0.png", "gates_encoder_val0_forget.npy"]),
]


@pytest.mark.parametrize("which, flags, files", CLI_CASES, ids=[c[1][0][2:] for c in CLI_CASES])
def test_cli_writes_each_view_and_prints_the_paths(which, flags, files, lenet_run, reverse_run, tmp_path, capsys):
    run = {"lenet": lenet_run, "reverse": reverse_run}[which]
    assert main(["inspect", str(run), *flags, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in files:
        assert (tmp_path / name).is_file()
        assert str(tmp_path / name) in out


def test_cli_default_out_is_inside_the_run_and_list_names_the_views(lenet_run, capsys):
    assert main(["inspect", str(lenet_run), "--filters", "conv1"]) == 0
    assert (lenet_run / "inspect/filters_conv1.png").is_file()
    assert main(["inspect", str(lenet_run), "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    conv1 = next(line for line in lines if line.startswith("conv1 "))
    assert conv1.split()[-4:] == ["filters", "activations", "embedding", "maximize"]


CLI_ERRORS = [
    (["--filters", "fc1"], "node 'fc1' is a linear layer: filters are shown for convolutions"),
    (["--filters", "conv3"], "did you mean"),
    (["--activations", "conv1"], "give it with --input"),
    (["--activations", "conv1", "--input", "val:99999"], "the validation split has"),
    (["--activations", "conv1", "--input", "missing.png"], "missing.png"),
    (["--attention", "conv1", "--input", "val:0"], "node 'conv1' is a convolution: attention maps"),
    (["--gates", "pool1", "--input", "val:0"], "node 'pool1' is an avg_pool2d block: gate activity"),
    (["--maximize", "conv1:40"], "unit 40 is out of range: node 'conv1' has 6 channels"),
    (["--maximize", "logits:seven"], "neither a unit index nor a class name"),
    (["--embedding", "act4", "--limit", "2"], "--limit must be 10 or more"),
]


@pytest.mark.parametrize("flags, message", CLI_ERRORS, ids=[" ".join(c[0]) for c in CLI_ERRORS])
def test_cli_errors_exit_1_with_error_and_hint_never_a_traceback(flags, message, lenet_run, tmp_path, capsys):
    assert main(["inspect", str(lenet_run), *flags, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_cli_reports_a_missing_run_and_a_bundle_without_validation(lenet_run, tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nowhere"), "--filters", "conv1"]) == 1
    assert "no such run folder or bundle" in capsys.readouterr().err
    assert main(["export", str(lenet_run), "--out", str(tmp_path / "bundle")]) == 0
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "bundle"), "--activations", "conv1", "--input", "val:0"]) == 1
    err = capsys.readouterr().err
    assert "no validation split" in err and "hint:" in err
