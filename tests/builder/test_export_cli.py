"""``modelbuilder export`` and ``modelbuilder predict``, run as a user would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from builder.cli import main
from builder.exporting import api
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", str(ROOT / "graphs/lenet5.yaml"), "--epochs", "1", "--out", str(out), "-q",
                 "--device", "cpu"]) == 0
    return out


@pytest.fixture(scope="module")
def bundle(run_dir) -> Path:
    out = run_dir.parent / "bundle"
    assert main(["export", str(run_dir), "--format", "bundle", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def digits_npy(run_dir) -> Path:
    """Three digits at LeNet's input size, in the digits set's units (0..16)."""
    import torch

    from builder.data.images import ImageLayout, fit_images

    pixels, _ = load_digits(return_X_y=True)
    x = torch.from_numpy(pixels[:3]).float().div(16).reshape(-1, 1, 8, 8)
    path = run_dir.parent / "digits.npy"
    np.save(path, (fit_images(x, ImageLayout(1, 32, 32, (1, 32, 32))) * 16).numpy())
    return path


def test_export_bundle_prints_what_it_wrote(run_dir, tmp_path, capsys):
    assert main(["export", str(run_dir), "--out", str(tmp_path / "b"), "--weights", "last"]) == 0
    out = capsys.readouterr().out
    assert f"wrote bundle: {tmp_path / 'b'}" in out
    for name in ("graph.yaml", "weights.safetensors", "meta.json"):
        assert name in out
    assert "max abs difference against the compiled model 0" in out


def test_export_default_out_is_inside_the_run(run_dir, capsys):
    assert main(["export", str(run_dir)]) == 0
    assert (run_dir / "lenet5_bundle/meta.json").is_file()
    shutil.rmtree(run_dir / "lenet5_bundle")


def test_export_errors_are_messages_not_tracebacks(run_dir, tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope"), "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no such run folder" in err and "Traceback" not in err

    run = Path(shutil.copytree(run_dir, tmp_path / "run"))
    shutil.rmtree(run / "checkpoints")
    assert main(["export", str(run), "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "error: " in err and "has no checkpoint" in err and "hint:" in err
    assert not (tmp_path / "b").exists()


def test_export_graph_errors_print_problem_lines(bundle, tmp_path, capsys):
    broken = Path(shutil.copytree(bundle, tmp_path / "broken"))
    (broken / "graph.yaml").write_text("format: 1\nnodes: [oops\n")
    assert main(["export", str(broken), "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "graph.yaml" in err and "error: malformed YAML" in err


def test_export_format_whose_writer_is_missing(run_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(api.FORMATS, "python", "builder.exporting.no_such_writer:write_python")
    assert main(["export", str(run_dir), "--format", "python", "--out", str(tmp_path / "m.py")]) == 1
    err = capsys.readouterr().err
    assert "error: the python export is not available" in err and "Traceback" not in err


def test_export_format_whose_package_is_missing(run_dir, tmp_path, capsys, monkeypatch):
    def needs_onnx(trained, out):
        raise ModuleNotFoundError("No module named 'onnxruntime'", name="onnxruntime")

    monkeypatch.setattr(api, "import_module", lambda name: type("M", (), {"write_onnx": staticmethod(needs_onnx)}))
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert "needs the Python package 'onnxruntime'" in err and "modelbuilder[export]" in err


def test_export_unknown_format_is_a_usage_error(run_dir, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["export", str(run_dir), "--format", "keras"])
    assert caught.value.code == 2
    assert "invalid choice: 'keras'" in capsys.readouterr().err


def test_predict_prints_top_classes(bundle, digits_npy, capsys):
    assert main(["predict", str(bundle), str(digits_npy), "--top", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["sample 0", "sample 1", "sample 2"]
    assert all(line.count("%") == 3 for line in lines)


def test_predict_json_parses(bundle, digits_npy, capsys):
    assert main(["predict", str(bundle), str(digits_npy), "--json", "--top", "10"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "lenet5" and result["input"] == str(digits_npy)
    assert len(result["samples"]) == 3
    for sample in result["samples"]:
        assert abs(sum(c["probability"] for c in sample["top"]) - 1) < 1e-5
        assert {c["name"] for c in sample["top"]} == {str(i) for i in range(10)}


def test_predict_from_a_run_folder(run_dir, digits_npy, capsys):
    assert main(["predict", str(run_dir), str(digits_npy), "--top", "1"]) == 0
    assert capsys.readouterr().out.count("sample ") == 3


def test_predict_errors(bundle, tmp_path, capsys):
    np.save(tmp_path / "wrong.npy", np.zeros((2, 3, 32, 32), dtype=np.float32))
    assert main(["predict", str(bundle), str(tmp_path / "wrong.npy")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "wrong.npy" in err and "[2, 3, 32, 32]" in err and "[1, 32, 32]" in err

    garbled = Path(shutil.copytree(bundle, tmp_path / "garbled"))
    (garbled / "meta.json").write_text("{")
    assert main(["predict", str(garbled), str(tmp_path / "wrong.npy")]) == 1
    err = capsys.readouterr().err
    assert "meta.json" in err and "not valid JSON" in err and "Traceback" not in err

    assert main(["predict", str(bundle), str(tmp_path / "wrong.npy"), "--top", "0"]) == 1
    assert "--top must be 1 or more" in capsys.readouterr().err


def test_cli_exit_status_in_a_real_process(bundle, digits_npy, tmp_path):
    """The installed entry point: exit codes and stderr as a shell sees them."""
    ok = subprocess.run([sys.executable, "-m", "builder", "predict", str(bundle), str(digits_npy), "--top", "2"],
                        check=False, capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("sample 0: ")
    bad = subprocess.run([sys.executable, "-m", "builder", "export", str(tmp_path / "missing")],
                         check=False, capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
