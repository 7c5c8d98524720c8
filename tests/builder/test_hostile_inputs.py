"""Hostile and broken inputs besides graph files: forged weight and state files, huge or
nested meta.json, image bombs, non-finite predict inputs, and SIGKILL while exporting or
saving. Each gets a clear error naming the file, never a traceback, and nothing
half-written ever stands under a final name."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from builder import load_graph
from builder.cli import main
from builder.compiler import compile_graph
from builder.data.errors import DataError
from builder.data.images import MAX_IMAGE_PIXELS, ImageLayout, read_image
from builder.exporting.bundle import read_meta, write_bundle
from builder.exporting.errors import ExportError
from builder.exporting.predict import read_input
from builder.exporting.source import from_graph, open_trained
from builder.faults import ENV as CRASH_ENV
from builder.training.checkpoint import CheckpointError, load_state, load_weights
from tests.conftest import ROOT

LENET = ROOT / "graphs/lenet5.yaml"


def safetensors(header: dict | bytes, body: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


FORGED = {
    "header longer than the file": struct.pack("<Q", 10**15) + b"{}",
    "header not JSON": safetensors(b"{abcd"),
    "data past the end": safetensors({"conv1.weight": {"dtype": "F32", "shape": [6, 1, 5, 5],
                                                       "data_offsets": [0, 10**12]}}, b"\0" * 100),
    "unknown dtype": safetensors({"conv1.weight": {"dtype": "Q99", "shape": [6, 1, 5, 5],
                                                   "data_offsets": [0, 600]}}, b"\0" * 600),
    "shape that overflows": safetensors({"w": {"dtype": "F32", "shape": [10**10, 10**10],
                                               "data_offsets": [0, 600]}}, b"\0" * 600),
    "empty file": b"",
    "deeply nested header": safetensors(b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    "pickle": b"\x80\x04\x95" + b"\0" * 64,
}


@pytest.mark.parametrize("name", list(FORGED))
def test_forged_weight_files_are_refused_with_the_file_named(tmp_path, name):
    path = tmp_path / "weights.safetensors"
    path.write_bytes(FORGED[name])
    with pytest.raises(CheckpointError) as caught:
        load_weights(path, compile_graph(load_graph(LENET)))
    assert str(path) in str(caught.value)


def test_a_training_state_with_a_bomb_in_its_skeleton_is_refused(tmp_path):
    from safetensors.torch import save

    path = tmp_path / "state.safetensors"
    path.write_bytes(save({}, metadata={"skeleton": "[" * 100_000 + "]" * 100_000}))
    with pytest.raises(CheckpointError, match="not a valid training-state file"):
        load_state(path)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "lenet"
    write_bundle(from_graph(load_graph(LENET)), out)
    return out


def test_huge_or_nested_meta_json_is_refused_unread(bundle, tmp_path, capsys):
    import shutil

    copy = Path(shutil.copytree(bundle, tmp_path / "b"))
    with open(copy / "meta.json", "r+b") as handle:
        handle.truncate(50_000_000)  # sparse: 50 MB on paper, nothing written
    with pytest.raises(ExportError, match="refused unread"):
        read_meta(copy)
    (copy / "meta.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ExportError, match="not valid JSON"):
        read_meta(copy)
    assert main(["predict", str(copy), str(tmp_path / "x.npy")]) == 1
    assert "Traceback" not in capsys.readouterr().err


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, in a few bytes: what a
    decompression bomb looks like before it is decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


def test_image_bombs_are_refused_before_decoding(tmp_path, bundle):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(10_000, 10_000))  # 100 megapixels in ~100 bytes
    with pytest.raises(DataError, match="refused before decoding") as caught:
        read_image(bomb, ImageLayout(1, 32, 32, (1, 32, 32)))
    assert str(bomb) in str(caught.value) and f"{MAX_IMAGE_PIXELS:,}" in str(caught.value)
    giant = tmp_path / "giant.png"
    giant.write_bytes(png_header_only(100_000, 100_000))  # past Pillow's own limit: its refusal, named
    with pytest.raises(DataError, match="DecompressionBombError") as caught:
        read_image(giant, ImageLayout(1, 32, 32, (1, 32, 32)))
    assert str(giant) in str(caught.value)
    with pytest.raises(ExportError, match="refused before decoding"):
        read_input(bomb, open_trained(bundle))


def test_non_finite_inputs_to_predict_are_refused(tmp_path, bundle):
    values = np.zeros((2, 1, 32, 32), dtype=np.float32)
    values[1, 0, 3, 4] = np.nan
    np.save(tmp_path / "x.npy", values)
    with pytest.raises(ExportError, match=r"NaN or infinite values \(the first at index \[1, 0, 3, 4\]\)"):
        read_input(tmp_path / "x.npy", open_trained(bundle))


def _killed(code: str, point: str) -> subprocess.CompletedProcess:
    env = {**os.environ, CRASH_ENV: point, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    return done


EXPORT = ("from pathlib import Path; from builder import load_graph; "
          "from builder.exporting.bundle import write_bundle; from builder.exporting.source import from_graph; "
          "write_bundle(from_graph(load_graph('graphs/lenet5.yaml'), seed={seed}), Path({out!r}))")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_an_export_killed_at_any_moment_leaves_the_old_bundle_or_none(bundle, tmp_path):
    import shutil

    target = Path(shutil.copytree(bundle, tmp_path / "lenet"))
    before = (target / "weights.safetensors").read_bytes()
    for point in ("export.written", "export.old-aside"):
        _killed(EXPORT.format(seed=5, out=str(target)), point)
        whole = target if target.exists() else None
        if whole is not None:  # never a half-written bundle under the final name
            assert (whole / "weights.safetensors").read_bytes() == before
        else:  # killed between the two renames: the old bundle is aside, and says so
            with pytest.raises(ExportError, match="interrupted"):
                open_trained(target)
        write_bundle(from_graph(load_graph(LENET)), tmp_path / "other")  # an export elsewhere changes nothing
        # the next export into the same target puts the old one back before it starts
        from builder.exporting.files import _recover

        _recover(target, target.with_name(f".{target.name}.old"))
        assert (target / "weights.safetensors").read_bytes() == before
        assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".lenet")]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_saving_a_graph_killed_before_the_rename_keeps_the_file_as_it_was(tmp_path):
    graph = tmp_path / "lenet.yaml"
    graph.write_text(LENET.read_text())
    code = ("from builder import load_graph, save_graph; g = load_graph({p!r}); g.name = 'changed'; "
            "save_graph(g, {p!r})").format(p=str(graph))
    _killed(code, "atomic.written")
    assert graph.read_text() == LENET.read_text()
