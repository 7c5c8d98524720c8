"""The data layer: every source's shapes, dtypes and determinism, and a DataError that names
the file and what was expected for every kind of bad data."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
from PIL import Image

from builder.data import (
    SOURCES,
    ArrayData,
    DataError,
    InputSpec,
    TaskData,
    apply_normalization,
    graph_io,
    load_data,
    load_image,
)
from builder.data.augment import ImageAugment, random_crop, random_flip
from tests.conftest import ROOT

IMAGE = InputSpec("image", (1, 32, 32), "float32")


def data_error(spec, inputs, output_shape, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        load_data(spec, inputs, output_shape, **kwargs)
    return str(info.value)


# --- digits -------------------------------------------------------------------------------

def test_digits_resized_for_lenet5_and_standardized_on_the_train_split():
    task = load_data({"name": "digits"}, [IMAGE], (10,))
    assert isinstance(task, TaskData) and isinstance(task.train, ArrayData)
    assert task.description == "digits (scikit-learn, 1,797 images 8x8 resized to 32x32): 1,438 train / 359 val"
    (x,), y = task.train.inputs, task.train.targets
    assert x.shape == (1438, 1, 32, 32) and x.dtype == torch.float32
    assert y.shape == (1438,) and y.dtype == torch.int64
    assert task.val.inputs[0].shape == (359, 1, 32, 32)
    assert task.kind == "classification" and task.num_classes == 10
    assert task.class_names == [str(i) for i in range(10)]
    assert task.augment is None
    norm = task.normalization
    assert norm["input"] == "image" and norm["dim"] == 0 and norm["scale"] == 16.0 and len(norm["mean"]) == 1
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 1e-2
    sample, label = task.train[0]
    assert sample[0].shape == (1, 32, 32) and label.shape == ()


def test_digits_split_is_fixed_by_the_seed():
    a = load_data({"name": "digits"}, [IMAGE], (10,), seed=3)
    b = load_data({"name": "digits"}, [IMAGE], (10,), seed=3)
    c = load_data({"name": "digits"}, [IMAGE], (10,), seed=4)
    assert torch.equal(a.train.inputs[0], b.train.inputs[0]) and torch.equal(a.val.targets, b.val.targets)
    assert not torch.equal(a.val.targets, c.val.targets)


def test_digits_adapt_to_rgb_and_flat_inputs():
    rgb = load_data({"name": "digits", "normalize": False}, [InputSpec("image", (3, 16, 16))], (10,))
    x = rgb.train.inputs[0]
    assert x.shape[1:] == (3, 16, 16) and torch.equal(x[:, 0], x[:, 2])
    assert 0 <= float(x.min()) and float(x.max()) <= 1 and rgb.normalization is None
    flat = load_data({"name": "digits", "limit": 100, "val_split": 0}, [InputSpec("pixels", (64,))], (10,))
    assert flat.train.inputs[0].shape == (100, 64) and flat.val is None
    assert flat.normalization["dim"] is None  # one mean for the whole (flattened) image


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, and do not stall when the CPU is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_digits_are_learnable_by_a_tiny_conv_net(one_thread):
    # plain SGD written out: torch.optim's first step costs a second of imports
    torch.manual_seed(0)
    task = load_data({"name": "digits"}, [InputSpec("image", (1, 8, 8))], (10,))
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 6 * 6, 10))
    (x,), y = task.train.inputs, task.train.targets
    for _ in range(4):
        for i in range(0, len(y), 32):
            loss = torch.nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
            model.zero_grad()
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.05 * p.grad
    with torch.no_grad():
        accuracy = (model(task.val.inputs[0]).argmax(1) == task.val.targets).float().mean()
    assert accuracy > 0.9


# --- synthetic tasks ----------------------------------------------------------------------

def test_first_token_labels_are_the_first_token():
    task = load_data({"name": "first_token", "samples": 500}, [InputSpec("tokens", (40,), "int64")], (4,))
    x, y = task.train.inputs[0], task.train.targets
    assert x.shape == (400, 40) and x.dtype == torch.int64 and torch.equal(y, x[:, 0])
    assert int(x.max()) == 3 and task.num_classes == 4  # vocab defaults to min(8, output size)
    again = load_data({"name": "first_token", "samples": 500}, [InputSpec("tokens", (40,), "int64")], (4,))
    assert torch.equal(again.train.inputs[0], x)


def test_first_token_one_hot_for_a_float_input():
    task = load_data({"name": "first_token", "samples": 200, "vocab": 8},
                     [InputSpec("signal", (30, 8), "float32")], (8,))
    x, y = task.train.inputs[0], task.train.targets
    assert x.shape == (160, 30, 8) and x.dtype == torch.float32
    assert torch.equal(x.sum(-1), torch.ones(160, 30)) and torch.equal(x[:, 0].argmax(-1), y)
    message = data_error({"name": "first_token", "vocab": 9}, [InputSpec("signal", (30, 8))], (9,))
    assert "vocab: 9" in message and "width 8" in message


def test_adding_targets_are_the_sum_of_the_two_marked_values():
    task = load_data({"name": "adding", "samples": 300}, [InputSpec("sequence", (50, 2))], (1,))
    x, y = task.train.inputs[0], task.train.targets
    assert task.kind == "regression" and task.num_classes is None and task.class_names is None
    assert x.shape == (240, 50, 2) and y.shape == (240, 1) and y.dtype == torch.float32
    markers = x[..., 1]
    assert torch.equal(markers.sum(1), torch.full((240,), 2.0))
    assert torch.equal(markers[:, :25].sum(1), torch.ones(240))  # one marker in each half
    assert torch.allclose((x[..., 0] * markers).sum(1, keepdim=True), y)


def test_sentiment_labels_follow_the_word_counts():
    task = load_data({"name": "sentiment", "samples": 1000, "val_split": 0},
                     [InputSpec("tokens", (32,), "int64")], (4,))
    x, y = task.train.inputs[0], task.train.targets
    assert x.shape == (1000, 32) and int(x.max()) < 100 and task.class_names == ["negative", "positive"]
    positive = ((x >= 1) & (x <= 5)).sum(1)
    negative = ((x >= 6) & (x <= 10)).sum(1)
    assert torch.all((positive + negative) % 2 == 1)  # no ties
    assert torch.equal(y, (positive > negative).long())
    assert 0.4 < y.float().mean() < 0.6
    assert torch.all(x[:, -1] != 0)  # padding on the left
    assert task.num_classes == 2  # the graph's 4 outputs are enough


def test_reverse_targets_are_the_reversed_source():
    inputs = [InputSpec("source", (20,), "int64"), InputSpec("target_in", (20,), "int64")]
    task = load_data({"name": "reverse", "samples": 100}, inputs, (20, 16))
    source, decoder_in = task.train.inputs
    target = task.train.targets
    assert target.shape == (80, 20) and target.dtype == torch.int64 and task.kind == "classification"
    assert torch.equal(target, source.flip(1))
    assert torch.all(decoder_in[:, 0] == 0) and torch.equal(decoder_in[:, 1:], target[:, :-1])
    assert int(source.min()) >= 1 and int(source.max()) <= 15 and task.num_classes == 16


def test_gallery_graphs_get_their_data_sets():
    from builder import analyze, load_graph

    for graph, data in [("lenet5", "digits"), ("lstm_classifier", "first_token"), ("rnn_classifier", "first_token"),
                        ("transformer_classifier", "sentiment"), ("bilstm_stacked", "sentiment"),
                        ("seq2seq_attention", "reverse")]:
        inputs, output = graph_io(analyze(load_graph(ROOT / "graphs" / f"{graph}.yaml")))
        task = load_data({"name": data, "limit": 50}, inputs, output)
        assert [tuple(x.shape[1:]) for x in task.train.inputs] == [s.shape for s in inputs], graph


# --- files --------------------------------------------------------------------------------

def test_npz_happy_path_with_dtype_conversion(tmp_path):
    x = np.random.default_rng(0).random((50, 1, 8, 8))  # float64
    np.savez(tmp_path / "data.npz", x=x, y=np.arange(50) % 3)
    task = load_data({"name": "npz", "path": "data.npz"}, [InputSpec("image", (1, 8, 8))], (3,), base_dir=tmp_path)
    assert task.train.inputs[0].dtype == torch.float32 and task.train.targets.dtype == torch.int64
    assert task.kind == "classification" and task.num_classes == 3 and task.normalization is None
    assert len(task.train) == 40 and len(task.val) == 10 and task.description.startswith("data.npz (50 samples)")


def test_npz_several_inputs_text_labels_and_regression(tmp_path):
    tokens = np.arange(60).reshape(20, 3)
    np.savez(tmp_path / "two.npz", a=tokens, b=np.ones((20, 2), np.float32),
             y=np.array(["cat", "dog"] * 10), r=np.linspace(0, 1, 20))
    inputs = [InputSpec("tokens", (3,), "int64"), InputSpec("extra", (2,))]
    task = load_data({"name": "npz", "path": "two.npz", "x": ["a", "b"], "val_split": 0}, inputs, (2,),
                     base_dir=tmp_path)
    assert task.train.inputs[0].dtype == torch.int64 and task.class_names == ["cat", "dog"]
    assert task.train.targets.tolist()[:3] == [0, 1, 0]
    reg = load_data({"name": "npz", "path": str(tmp_path / "two.npz"), "x": ["a", "b"], "y": "r",
                     "normalize": True}, inputs, (1,))
    assert reg.kind == "regression" and reg.train.targets.shape == (16, 1)
    assert reg.normalization is None  # input 0 holds token ids: nothing to standardize


def test_csv_with_header_text_labels_and_a_named_label_column(tmp_path):
    (tmp_path / "iris.csv").write_text("label,a,b\nsetosa,1,2\nvirginica,3,4.5\nsetosa,5,6\nversicolor,7,8\n")
    task = load_data({"name": "csv", "path": "iris.csv", "label": "label", "val_split": 0},
                     [InputSpec("features", (2,))], (3,), base_dir=tmp_path)
    assert task.class_names == ["setosa", "versicolor", "virginica"]
    assert task.train.targets.tolist() == [0, 2, 0, 1]
    assert task.train.inputs[0].tolist() == [[1, 2], [3, 4.5], [5, 6], [7, 8]]


def test_csv_without_header_reshaped_to_the_input(tmp_path):
    (tmp_path / "px.csv").write_text("".join(f"{i},{i + 1},{i + 2},{i + 3},{i % 2}\n" for i in range(10)))
    task = load_data({"name": "csv", "path": "px.csv", "normalize": True}, [InputSpec("image", (1, 2, 2))], (2,),
                     base_dir=tmp_path)
    assert task.train.inputs[0].shape == (8, 1, 2, 2) and task.num_classes == 2
    assert task.normalization["dim"] == 0
    values = load_data({"name": "csv", "path": "px.csv", "task": "regression", "val_split": 0},
                       [InputSpec("x", (4,))], (1,), base_dir=tmp_path)
    assert values.kind == "regression" and values.train.targets[:2].tolist() == [[0.0], [1.0]]


def write_png(path, color, size=(10, 6)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def make_folder(root):
    for i in range(3):
        write_png(root / "cat" / f"{i}.png", (200, 10 * i, 0))
        write_png(root / "dog" / f"{i}.png", (0, 10 * i, 200))
    (root / "dog" / "notes.txt").write_text("not an image: ignored")
    return root


def test_folder_happy_path_rgb_and_grayscale(tmp_path):
    make_folder(tmp_path / "images")
    spec = {"name": "folder", "path": "images", "val_split": 0, "normalize": False}
    task = load_data(spec, [InputSpec("image", (3, 8, 8))], (2,), base_dir=tmp_path)
    assert task.class_names == ["cat", "dog"] and task.num_classes == 2
    x, y = task.train.inputs[0], task.train.targets
    assert x.shape == (6, 3, 8, 8) and y.tolist() == [0, 1, 0, 1, 0, 1]  # round-robin over classes
    assert torch.allclose(x[0, :, 4, 4], torch.tensor([200 / 255, 0, 0]))
    gray = load_data({**spec, "limit": 2}, [InputSpec("image", (1, 4, 4))], (2,), base_dir=tmp_path)
    assert gray.train.inputs[0].shape == (2, 1, 4, 4) and gray.train.targets.tolist() == [0, 1]
    single = load_image(tmp_path / "images" / "cat" / "0.png", InputSpec("image", (3, 8, 8)))
    assert torch.equal(single, x[0])


def test_folder_augmentation_and_normalization(tmp_path):
    make_folder(tmp_path / "images")
    task = load_data({"name": "folder", "path": "images", "augment": {"flip": True, "crop": 2}},
                     [InputSpec("image", (3, 8, 8))], (2,), base_dir=tmp_path)
    assert task.augment == ImageAugment(flip=True, crop=2) and "augmented" in task.description
    assert len(task.normalization["mean"]) == 3
    batch = task.train.inputs[0]
    assert task.augment(batch, torch.Generator().manual_seed(0)).shape == batch.shape
    raw = load_image(tmp_path / "images" / "cat" / "0.png", InputSpec("image", (3, 8, 8)))
    normalized = apply_normalization(raw, task.normalization)
    assert torch.allclose(normalized, apply_normalization(raw[None], task.normalization)[0])


# --- augmentation -------------------------------------------------------------------------

def test_augmentation_keeps_shapes_and_replays_from_the_generator():
    x = torch.arange(4 * 3 * 8 * 8, dtype=torch.float32).reshape(4, 3, 8, 8)
    augment = ImageAugment(flip=True, crop=3)
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    c = augment(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    flipped = random_flip(x, torch.Generator().manual_seed(0))
    for original, out in zip(x, flipped):
        assert torch.equal(out, original) or torch.equal(out, original.flip(-1))
    cropped = random_crop(x, 2, torch.Generator().manual_seed(0))
    for original, out in zip(x, cropped):  # a shifted copy: some window of the padded image
        padded = torch.nn.functional.pad(original, (2, 2, 2, 2))
        assert any(torch.equal(out, padded[:, i:i + 8, j:j + 8]) for i in range(5) for j in range(5))


# --- bad data: DataError naming the file and what was expected ------------------------------

def test_missing_file(tmp_path):
    message = data_error({"name": "npz", "path": "nowhere.npz"}, [IMAGE], (10,), base_dir=tmp_path)
    assert message.startswith(f"{tmp_path / 'nowhere.npz'}: file not found")
    assert "graph file's folder" in message


def test_npz_wrong_shape_names_file_key_expected_and_found(tmp_path):
    np.savez(tmp_path / "data.npz", x=np.zeros((5, 64)), y=np.zeros(5, int))
    message = data_error({"name": "npz", "path": "data.npz"}, [InputSpec("image", (1, 8, 8))], (10,),
                         base_dir=tmp_path)
    assert message.startswith(f"{tmp_path / 'data.npz'}: x has per-sample shape [64] but the graph's input "
                              "'image' expects [1, 8, 8]")
    assert "hint: the sizes agree; reshape it" in message


def test_npz_nan_and_missing_array(tmp_path):
    x = np.zeros((5, 2))
    x[3, 1] = np.nan
    np.savez(tmp_path / "data.npz", x=x, y=np.zeros(5, int))
    message = data_error({"name": "npz", "path": "data.npz"}, [InputSpec("x", (2,))], (2,), base_dir=tmp_path)
    assert "data.npz: x has NaN at sample 3" in message
    message = data_error({"name": "npz", "path": "data.npz", "y": "labels"}, [InputSpec("x", (2,))], (2,),
                         base_dir=tmp_path)
    assert "no array named 'labels'" in message and "holds: x, y" in message


def test_labels_out_of_range(tmp_path):
    np.savez(tmp_path / "data.npz", x=np.zeros((5, 2)), y=np.array([0, 1, 2, 7, 1]))
    message = data_error({"name": "npz", "path": "data.npz"}, [InputSpec("x", (2,))], (4,), base_dir=tmp_path)
    assert message.startswith(f"{tmp_path / 'data.npz'}: labels go up to 7 but the graph's output has 4 values")
    assert "at least 8 outputs" in message
    assert "labels go up to 9" in data_error({"name": "digits"}, [IMAGE], (5,))


def test_csv_non_numeric_cell_names_line_and_column(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,label\n1,2,x\n3,4,y\n\n5,oops,x\n")
    message = data_error({"name": "csv", "path": "t.csv"}, [InputSpec("f", (2,))], (2,), base_dir=tmp_path)
    assert message.startswith(f"{tmp_path / 't.csv'}:5: column 'b' has 'oops', not a number")
    (tmp_path / "n.csv").write_text("1,2,0\n3,4\n")
    assert "n.csv:2: this row has 2 cells" in data_error({"name": "csv", "path": "n.csv"}, [InputSpec("f", (2,))],
                                                          (2,), base_dir=tmp_path)
    message = data_error({"name": "csv", "path": "t.csv"}, [InputSpec("f", (3,))], (2,), base_dir=tmp_path)
    assert "2 feature columns but the graph's input 'f' expects [3]" in message


def test_folder_problems_name_the_path(tmp_path):
    (tmp_path / "empty").mkdir()
    spec = [InputSpec("image", (3, 8, 8))]
    message = data_error({"name": "folder", "path": "empty"}, spec, (2,), base_dir=tmp_path)
    assert message.startswith(f"{tmp_path / 'empty'}: has no class subfolders")
    (tmp_path / "some" / "cat").mkdir(parents=True)
    write_png(tmp_path / "some" / "dog" / "1.png", (0, 0, 0))
    message = data_error({"name": "folder", "path": "some"}, spec, (2,), base_dir=tmp_path)
    assert f"{tmp_path / 'some' / 'cat'}: class folder 'cat' has no images" in message
    (tmp_path / "some" / "cat" / "broken.png").write_bytes(b"not a png")
    message = data_error({"name": "folder", "path": "some"}, spec, (2,), base_dir=tmp_path)
    assert message.startswith(f"{tmp_path / 'some' / 'cat' / 'broken.png'}: cannot read this image")
    message = data_error({"name": "folder", "path": "some"}, [InputSpec("tokens", (8,), "int64")], (2,),
                         base_dir=tmp_path)
    assert "takes int64 token ids" in message


def test_unknown_source_option_and_bad_values():
    message = data_error({"name": "digts"}, [IMAGE], (10,))
    assert "unknown data source 'digts'; did you mean 'digits'?" in message and "sources: digits" in message
    message = data_error({"name": "digits", "resize": True}, [IMAGE], (10,))
    assert "digits: unknown option 'resize'" in message and "digits takes: normalize, augment, classes, val_split, limit" \
        in message
    assert "option 'limit': expected an integer >= 1" in data_error({"name": "digits", "limit": 0}, [IMAGE], (10,))
    assert "unknown augmentation 'rotate'" in data_error({"name": "digits", "augment": {"rotate": 5}}, [IMAGE], (10,))
    assert "option 'path' is required" in data_error({"name": "npz"}, [IMAGE], (10,))
    assert "needs a name" in data_error({"path": "x.npz"}, [IMAGE], (10,))


def test_input_count_and_shape_mismatches():
    two = [IMAGE, InputSpec("extra", (4,))]
    message = data_error({"name": "digits"}, two, (10,))
    assert "digits gives 1 input (images) but the graph has 2 ('image', 'extra')" in message
    message = data_error({"name": "reverse"}, [InputSpec("source", (20,), "int64")], (20, 16))
    assert "reverse gives 2 inputs" in message
    assert "needs token ids [T]" in data_error({"name": "first_token"}, [InputSpec("x", (3, 4, 5))], (4,))
    assert "length: 12 but the graph's input 'tokens' has 40 steps" in data_error(
        {"name": "first_token", "length": 12}, [InputSpec("tokens", (40,), "int64")], (4,))
    assert "augment needs an image input" in data_error(
        {"name": "digits", "augment": {"flip": True}}, [InputSpec("pixels", (64,))], (10,))


def test_spec_options_override_split_and_limit():
    task = load_data({"name": "digits", "val_split": 0.5, "limit": 100}, [IMAGE], (10,), val_split=0.1)
    assert len(task.train) == 50 and len(task.val) == 50
    assert load_data("adding", [InputSpec("s", (10, 2))], (1,), val_split=0).val is None


# --- torchvision --------------------------------------------------------------------------

def test_torchvision_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import fails, installed or not
    message = data_error({"name": "torchvision", "dataset": "MNIST"}, [IMAGE], (10,))
    assert "torchvision is not installed" in message and "install torchvision" in message


def test_torchvision_path_with_a_stand_in_module(monkeypatch, tmp_path):
    class FakeMNIST:
        classes = tuple(f"{i} - digit" for i in range(10))

        def __init__(self, root, train=True, download=False):
            assert download is False
            if not (tmp_path / "data").exists():
                raise RuntimeError("Dataset not found. You can use download=True to download it")
            n = 30 if train else 10
            self.data = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8)
            self.targets = torch.arange(n) % 10

    package = types.ModuleType("torchvision")
    package.datasets = types.ModuleType("torchvision.datasets")
    package.datasets.MNIST = FakeMNIST
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", package.datasets)
    spec = {"name": "torchvision", "dataset": "MNIST", "root": "data"}
    message = data_error(spec, [IMAGE], (10,), base_dir=tmp_path)
    assert message.startswith(f"{tmp_path / 'data'}: torchvision: MNIST (train) is not in this folder")
    assert "download=True" in message
    assert "did you mean 'MNIST'" in data_error({**spec, "dataset": "MNIS"}, [IMAGE], (10,), base_dir=tmp_path)
    (tmp_path / "data").mkdir()
    task = load_data(spec, [IMAGE], (10,), base_dir=tmp_path)
    assert task.train.inputs[0].shape == (30, 1, 32, 32) and len(task.val) == 10
    assert task.class_names[0] == "0 - digit" and task.normalization["scale"] == 255.0


def test_every_source_is_documented():
    docs = (ROOT / "docs" / "data.md").read_text()
    for name, source in SOURCES.items():
        assert source.load.__doc__ and f"`{name}`" in docs
        for option in source.options:
            assert f"`{option}`" in docs, (name, option)
