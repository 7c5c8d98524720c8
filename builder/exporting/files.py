"""Writing export results so that an interrupted export never leaves a half-written file
or folder under the final name."""

from __future__ import annotations

import glob
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from builder.atomic import write_atomic
from builder.faults import crash_point

__all__ = ["atomic_folder", "write_atomic"]


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; when the block ends without an
    error it becomes ``target`` (replacing an older one), else it is removed.

    Replacing takes two renames (the old folder aside, the new one in), and a process killed
    between them leaves the old one only under its hidden ``.old`` name: the next export to
    the same target first puts it back, and removes temporary folders that killed exports
    left, so that what stands under ``target`` is always one whole export."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    old = target.with_name(f".{target.name}.old")
    _recover(target, old)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield scratch
        crash_point("export.written")
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            crash_point("export.old-aside")
            scratch.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            scratch.rename(target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _recover(target: Path, old: Path) -> None:
    """Undo what a killed export left beside ``target`` (see :func:`atomic_folder`)."""
    if old.is_dir() and not target.exists():
        old.rename(target)  # the previous export, set aside just before the kill
    shutil.rmtree(old, ignore_errors=True)
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
