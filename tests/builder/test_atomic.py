"""Atomic writes (builder/atomic.py): whole files or none, with the permissions any file
written in place would have: saved graphs and plots must not turn private (0600)."""

from __future__ import annotations

import os
import stat

import pytest

from builder import load_graph, save_graph
from builder.atomic import write_atomic
from tests.conftest import ROOT


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_new_file_gets_the_umask_mode_and_a_replaced_file_keeps_its_own(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "a.txt"
        write_atomic(path, "one")
        assert mode(path) == 0o644 and path.read_text() == "one"
        path.chmod(0o640)
        write_atomic(path, "two")
        assert mode(path) == 0o640 and path.read_text() == "two"
        graph = load_graph(ROOT / "graphs" / "lenet5.yaml")
        saved = save_graph(graph, tmp_path / "lenet5.yaml")
        assert mode(saved) == 0o644
    finally:
        os.umask(old)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind
