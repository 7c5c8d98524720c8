"""The TorchScript export: a saved ScriptModule that reloads with ``torch.jit.load`` and
computes what the compiled model does, for every gallery graph."""

from __future__ import annotations

import warnings

import pytest
import torch

from builder.exporting.api import export
from builder.exporting.errors import ExportError
from builder.exporting.parity import as_tuple, example_inputs
from builder.exporting.source import from_graph
from builder.yaml_format import load_graph
from tests.builder.test_export_python import gallery_case
from tests.conftest import GALLERY, ROOT


def jit_load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated in torch 2.13
        return torch.jit.load(str(path), map_location="cpu")


def assert_same_outputs(found, expected) -> None:
    """TorchScript runs the same kernels on the same weights, so the outputs are equal in
    practice (0.0 for every gallery graph); the bound is the issue's 1e-4 absolute, scaled by
    the output's magnitude above 1 (float32 resolution), room only for a different kernel
    choice or a fused op, never for a wrong layer or weight."""
    found, expected = as_tuple(found), as_tuple(expected)
    assert len(found) == len(expected)
    for f, e in zip(found, expected):
        assert f.shape == e.shape and f.dtype == e.dtype
        limit = 1e-4 * max(1.0, e.abs().max().item())
        assert (f - e).abs().max().item() <= limit


@pytest.mark.parametrize("path", GALLERY, ids=lambda p: p.stem)
def test_every_gallery_graph_exports_as_torchscript(path, tmp_path):
    trained, inputs, expected = gallery_case(path.stem)  # shared with the python export's tests
    out = tmp_path / f"{path.stem}.torchscript.pt"
    result = export(trained, "torchscript", out)

    assert result.format == "torchscript" and result.path == out and result.files == [out]
    assert result.max_difference is not None and result.max_difference <= 1e-4
    assert any("torch.jit.script" in note for note in result.notes)  # every gallery graph scripts
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no scratch file left

    loaded = jit_load(out)
    assert isinstance(loaded, torch.jit.ScriptModule)
    loaded.eval()
    with torch.no_grad():
        assert_same_outputs(loaded(*inputs), expected)


def test_the_expected_deprecation_warnings_stay_inside(tmp_path):
    trained = from_graph(load_graph(ROOT / "graphs" / "seq2seq_attention.yaml"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = export(trained, "torchscript", tmp_path / "model.pt")
    assert [str(w.message) for w in caught if "jit" in str(w.message) or "TorchScript" in str(w.message)] == []
    assert any("deprecated" in note for note in result.notes)


def test_a_model_that_does_not_script_is_traced(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("cannot script this")

    monkeypatch.setattr(torch.jit, "script", refuse)
    trained = from_graph(load_graph(ROOT / "graphs" / "lenet5.yaml"))
    out = tmp_path / "lenet.pt"
    result = export(trained, "torchscript", out)
    assert any("torch.jit.trace" in note and "cannot script this" in note for note in result.notes)
    inputs = example_inputs(trained.inputs, batch=3, seed=4)
    with torch.no_grad():
        assert_same_outputs(jit_load(out)(*inputs), trained.model(*inputs))


def test_a_failed_check_leaves_no_file_and_keeps_an_older_one(tmp_path, monkeypatch):
    from builder.exporting import torchscript

    trained = from_graph(load_graph(ROOT / "graphs" / "lenet5.yaml"))
    out = tmp_path / "lenet.pt"
    out.write_bytes(b"an older export")

    def differs(*args, **kwargs):
        raise ExportError("outputs differ")

    monkeypatch.setattr(torchscript, "check_parity", differs)
    with pytest.raises(ExportError, match="outputs differ"):
        export(trained, "torchscript", out)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    assert out.read_bytes() == b"an older export"
