"""Crash points: a test kills the process for real at a named moment.

A checkpoint is only as safe as its worst moment to die. Tests set
``MODELBUILDER_CRASH_AT=<point>[@<n>]`` and the process sends itself SIGKILL the n-th time
(default: the first) it reaches ``crash_point(<point>)``: no exception handler, ``finally``
block or atexit hook runs, exactly as after the out-of-memory killer or a power cut.
Unset (always, for users), a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "MODELBUILDER_CRASH_AT"
_reached: dict[str, int] = {}


def crash_point(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    point, _, nth = spec.partition("@")
    if point != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] >= int(nth or 1):
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
