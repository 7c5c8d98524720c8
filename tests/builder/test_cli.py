"""The ``modelbuilder`` command line, run as a user would."""

from __future__ import annotations

import json
import subprocess
import sys

from blocks import all_blocks
from builder.cli import main
from builder.commands.blocks_cmd import markdown
from tests.conftest import ROOT

BAD_GRAPH = """\
format: 1
name: broken
nodes:
  image:
    block: input
    params: {shape: [1, 8, 8]}
  conv1:
    block: conv2
    params: {out_channels: 4, kernel_size: 3}
    inputs: [image]
  conv2:
    block: conv2d
    params: {out_channels: 4, kernel_sise: 3}
    inputs: [image]
  out:
    block: output
    inputs: [conv2]
"""


def test_blocks_lists_every_block_by_category(capsys):
    assert main(["blocks"]) == 0
    text = capsys.readouterr().out
    for block in all_blocks():
        assert block.name in text and block.category in text
        assert block.summary()[:30] in text


def test_blocks_name_shows_parameters_and_ports(capsys):
    assert main(["blocks", "conv2d"]) == 0
    text = capsys.readouterr().out
    for expected in ("kernel_size", "padding", "'same'", "required", "inputs:", "outputs:", "[1, 32, 32]"):
        assert expected in text


def test_blocks_unknown_name_suggests(capsys):
    assert main(["blocks", "lstn"]) == 1
    assert "did you mean 'lstm'" in capsys.readouterr().err


def test_check_prints_table_and_totals(capsys):
    assert main(["check", str(ROOT / "graphs/lenet5.yaml")]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "[6, 28, 28]" in out
    assert "total: 61,706 parameters" in out
    assert "valid (0 errors, 0 warnings)" in out


def test_check_reports_every_problem_with_location(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_GRAPH)
    assert main(["check", str(path)]) == 1
    captured = capsys.readouterr()
    assert f"{path}:8:5: error: node 'conv1': unknown block 'conv2'" in captured.err
    assert "did you mean 'conv2d'?" in captured.err
    assert f"{path}:13:31: error: node 'conv2': unknown parameter 'kernel_sise'" in captured.err
    assert f"{path}:13:5: error: node 'conv2': missing required parameter 'kernel_size'" in captured.err
    assert "INVALID (3 errors" in captured.out
    assert "Traceback" not in captured.err


def test_check_json_is_machine_readable(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_GRAPH)
    assert main(["check", "--json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert {p["node"] for p in report["problems"]} >= {"conv1", "conv2"}
    assert main(["check", "--json", str(ROOT / "graphs/lenet5.yaml")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"]["params"] == 61706 and report["nodes"]["conv1"]["outputs"] == {"out": [6, 28, 28]}


def test_check_malformed_and_missing_files(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("nodes:\n  a: {block: input\n")
    assert main(["check", str(path), str(tmp_path / "missing.yaml")]) == 1
    err = capsys.readouterr().err
    assert f"{path}:3:1: error: malformed YAML" in err
    assert "missing.yaml: error: cannot read the graph file" in err


def test_block_reference_in_docs_is_up_to_date():
    generated = markdown() + "\n"
    assert (ROOT / "docs/blocks.md").read_text() == generated, "run `make docs`"


def test_console_script_and_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "builder", "check", "-q", "graphs/lenet5.yaml"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "61,706" in result.stdout
