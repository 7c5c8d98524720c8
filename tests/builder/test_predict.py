"""Predictions from files: arrays, images and CSV rows, checked and normalized as in training."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from builder.cli import main
from builder.data.images import ImageLayout, fit_images
from builder.data.normalize import apply_normalization
from builder.exporting.api import export
from builder.exporting.errors import ExportError
from builder.exporting.predict import describe_prediction, predict, read_input
from builder.exporting.source import from_graph, open_trained
from builder.yaml_format import load_graph
from tests.conftest import ROOT

LAYOUT = ImageLayout(1, 32, 32, (1, 32, 32))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """LeNet-5 trained for one epoch on digits, exported as a bundle."""
    root = tmp_path_factory.mktemp("predict")
    assert main(["train", str(ROOT / "graphs/lenet5.yaml"), "--epochs", "1", "--out", str(root / "run"), "-q",
                 "--device", "cpu"]) == 0
    export(root / "run", "bundle", root / "bundle")
    return root / "bundle"


@pytest.fixture(scope="module")
def trained(bundle):
    return open_trained(bundle)


@pytest.fixture(scope="module")
def digits():
    """The first six digits: 8x8 pixels 0..16 and their labels."""
    pixels, labels = load_digits(return_X_y=True)
    return pixels[:6].reshape(-1, 8, 8), labels[:6]


def raw_lenet_inputs(pixels: np.ndarray) -> np.ndarray:
    """Digits resized to LeNet's [1, 32, 32] as the digits source does, in its units (0..16)."""
    x = torch.from_numpy(pixels).float().div(16).reshape(-1, 1, 8, 8)
    return (fit_images(x, LAYOUT) * 16).numpy()


def expected_inputs(pixels: np.ndarray, trained) -> torch.Tensor:
    x = torch.from_numpy(pixels).float().div(16).reshape(-1, 1, 8, 8)
    return apply_normalization(fit_images(x, LAYOUT), trained.normalization)


def check_classification(result: dict, samples: int, top: int) -> None:
    assert result["kind"] == "classification" and len(result["samples"]) == samples
    for sample in result["samples"]:
        assert len(sample["top"]) == top
        assert sample["label"] == sample["top"][0]["name"]
        probabilities = [c["probability"] for c in sample["top"]]
        assert probabilities == sorted(probabilities, reverse=True)
        for choice in sample["top"]:
            assert choice["name"] == str(choice["class"])


def test_npy_batch_is_normalized_as_in_training(tmp_path, trained, digits):
    pixels, _ = digits
    np.save(tmp_path / "digits.npy", raw_lenet_inputs(pixels))
    (x,) = read_input(tmp_path / "digits.npy", trained)
    assert x.shape == (6, 1, 32, 32) and x.dtype == torch.float32
    assert torch.allclose(x, expected_inputs(pixels, trained), atol=1e-5)

    result = predict(trained, (x,), top=10)
    check_classification(result, 6, 10)
    for sample in result["samples"]:
        assert math.isclose(sum(c["probability"] for c in sample["top"]), 1.0, abs_tol=1e-5)
    with torch.no_grad():
        best = trained.model(x).argmax(1).tolist()
    assert [s["top"][0]["class"] for s in result["samples"]] == best


def test_npy_single_sample(tmp_path, trained, digits):
    np.save(tmp_path / "one.npy", raw_lenet_inputs(digits[0])[0])  # [1, 32, 32]: no batch axis
    (x,) = read_input(tmp_path / "one.npy", trained)
    assert x.shape == (1, 1, 32, 32)
    check_classification(predict(trained, (x,), top=3), 1, 3)


def test_png_digits(tmp_path, trained, digits):
    pixels, _ = digits
    for index, image in enumerate(pixels[:3]):
        Image.fromarray((image * 255 / 16).round().astype(np.uint8), mode="L").save(tmp_path / f"{index}.png")
    Image.fromarray(np.stack([(pixels[0] * 255 / 16).astype(np.uint8)] * 3, axis=-1), mode="RGB").save(
        tmp_path / "rgb.bmp")
    for name in ("0.png", "1.png", "2.png", "rgb.bmp"):
        (x,) = read_input(tmp_path / name, trained)
        assert x.shape == (1, 1, 32, 32)
        result = predict(trained, (x,))
        check_classification(result, 1, 5)
        assert 0.0 < sum(c["probability"] for c in result["samples"][0]["top"]) <= 1.0 + 1e-6
    # the image path and the array path prepare pixels alike (PIL vs torch resizing aside)
    (from_png,) = read_input(tmp_path / "0.png", trained)
    assert (from_png[0] - expected_inputs(pixels[:1], trained)[0]).abs().mean() < 0.2


def test_unreadable_image(tmp_path, trained):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ExportError, match="cannot read this image") as caught:
        read_input(tmp_path / "broken.png", trained)
    assert "broken.png" in str(caught.value)


def test_npz_named_by_input_or_single_array(tmp_path, trained, digits):
    raw = raw_lenet_inputs(digits[0])
    np.savez(tmp_path / "named.npz", image=raw)
    np.savez(tmp_path / "single.npz", raw)
    a = read_input(tmp_path / "named.npz", trained)[0]
    b = read_input(tmp_path / "single.npz", trained)[0]
    assert torch.equal(a, b) and a.shape == (6, 1, 32, 32)


def test_npz_with_wrong_names(tmp_path, trained, digits):
    raw = raw_lenet_inputs(digits[0])
    np.savez(tmp_path / "two.npz", x=raw, y=raw)
    with pytest.raises(ExportError, match="holds arrays 'x', 'y'") as caught:
        read_input(tmp_path / "two.npz", trained)
    assert "two.npz" in str(caught.value) and "'image'" in str(caught.value)


class Marker:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (touch, (self.path,))


def touch(path: str) -> None:
    Path(path).touch()


def test_pickled_object_arrays_are_refused_and_never_unpickled(tmp_path, trained):
    marker = tmp_path / "unpickled.txt"
    evil = np.array([Marker(marker), 1], dtype=object)
    np.savez(tmp_path / "evil.npz", image=evil)
    np.save(tmp_path / "evil.npy", evil, allow_pickle=True)
    for name in ("evil.npz", "evil.npy"):
        with pytest.raises(ExportError, match="pickled Python objects") as caught:
            read_input(tmp_path / name, trained)
        assert name in str(caught.value)
    assert not marker.exists()
    np.load(tmp_path / "evil.npy", allow_pickle=True)  # the test's own proof that it would have run
    assert marker.exists()


def test_wrong_shape_npy(tmp_path, trained):
    np.save(tmp_path / "wrong.npy", np.zeros((3, 28, 28), dtype=np.float32))
    with pytest.raises(ExportError) as caught:
        read_input(tmp_path / "wrong.npy", trained)
    message = str(caught.value)
    assert "wrong.npy" in message and "[3, 28, 28]" in message and "[1, 32, 32]" in message
    assert "[N, 1, 32, 32]" in message


@pytest.mark.parametrize("array, message", [
    (np.array(["a", "b"]).reshape(2, 1, 1, 1).repeat(32, 2).repeat(32, 3), "takes numbers"),
    (np.zeros((0, 1, 32, 32)), "holds no samples"),
])
def test_wrong_dtype_or_empty_npy(tmp_path, trained, array, message):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(ExportError, match=message):
        read_input(tmp_path / "bad.npy", trained)


def test_csv_rows(tmp_path, trained, digits):
    raw = raw_lenet_inputs(digits[0])[:3].reshape(3, -1)
    header = ",".join(f"p{i}" for i in range(raw.shape[1]))
    np.savetxt(tmp_path / "rows.csv", raw, delimiter=",", header=header, comments="")
    (x,) = read_input(tmp_path / "rows.csv", trained)
    assert torch.allclose(x, expected_inputs(digits[0][:3], trained), atol=1e-4)
    check_classification(predict(trained, (x,), top=2), 3, 2)


def test_csv_errors(tmp_path, trained):
    (tmp_path / "short.csv").write_text("1,2,3\n")
    with pytest.raises(ExportError, match=r"short.csv:1: 3 numbers, .* takes 1024 per row"):
        read_input(tmp_path / "short.csv", trained)
    (tmp_path / "text.csv").write_text(",".join(["0"] * 1024) + "\n" + ",".join(["0"] * 1023 + ["x"]) + "\n")
    with pytest.raises(ExportError, match=r"text.csv:2: 'x' is not a number"):
        read_input(tmp_path / "text.csv", trained)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ExportError, match="no rows"):
        read_input(tmp_path / "empty.csv", trained)


def test_unknown_or_missing_input_file(tmp_path, trained):
    (tmp_path / "data.xyz").write_text("1")
    with pytest.raises(ExportError, match="unknown input file type '.xyz'"):
        read_input(tmp_path / "data.xyz", trained)
    with pytest.raises(ExportError, match="no such input file"):
        read_input(tmp_path / "missing.npy", trained)


def test_describe_prediction_lines(trained, tmp_path, digits):
    np.save(tmp_path / "d.npy", raw_lenet_inputs(digits[0])[:2])
    result = predict(trained, read_input(tmp_path / "d.npy", trained), top=2)
    lines = describe_prediction(result, trained)
    assert len(lines) == 2 and lines[0].startswith("sample 0: ") and lines[0].count("%") == 2
    json.dumps(result)  # plain JSON types only


def test_untrained_graph_gives_raw_outputs(tmp_path):
    trained = from_graph(load_graph(ROOT / "graphs/lenet5.yaml"))
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 32, 32), dtype=np.float32))
    result = predict(trained, read_input(tmp_path / "x.npy", trained))
    assert result["kind"] == "raw" and result["outputs"] == ["logits"]
    assert len(result["samples"][0]["outputs"]["logits"]) == 10
    assert describe_prediction(result, trained)[0].startswith("sample 0: logits [")


def test_token_id_inputs(tmp_path):
    trained = from_graph(load_graph(ROOT / "graphs/lstm_classifier.yaml"))
    (port,) = trained.inputs
    assert port.dtype == "int64"
    np.save(tmp_path / "ids.npy", np.ones((2, *port.shape), dtype=np.int32))
    (x,) = read_input(tmp_path / "ids.npy", trained)
    assert x.dtype == torch.int64
    assert len(predict(trained, (x,))["samples"]) == 2
    np.save(tmp_path / "frac.npy", np.full(port.shape, 0.5))
    with pytest.raises(ExportError, match="whole-number token ids"):
        read_input(tmp_path / "frac.npy", trained)
    np.save(tmp_path / "huge.npy", np.full(port.shape, 10**6))
    with pytest.raises(ExportError, match="cannot run on this input"):
        predict(trained, read_input(tmp_path / "huge.npy", trained))
