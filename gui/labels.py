"""Short texts for the canvas and the status bar: shapes, counts, key parameters."""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence


def short_shape(shape: Optional[Sequence[int]]) -> str:
    """``(16, 28, 28)`` -> ``16×28×28``; a shape that could not be inferred is ``?``."""
    if shape is None:
        return "?"
    if len(shape) == 0:
        return "scalar"
    return "×".join(str(d) for d in shape)


def human_count(number: float) -> str:
    """``61100840`` -> ``61.1M``: three significant digits with k/M/G/T."""
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= limit:
            value = number / limit
            return f"{value:.3g}{suffix}"
    return f"{number:.0f}" if float(number).is_integer() else f"{number:.3g}"


_UNITS = (("G", 10**9), ("M", 10**6), ("K", 10**3))


def short_number(n: int) -> str:
    """61100840 -> "61.1 M": the size at a glance (K, M, G are powers of 1000)."""
    for unit, size in _UNITS:
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return str(n)


def exact_count(n: int) -> str:
    """61100840 -> "61,100,840 (61.1 M)": every digit, and the size at a glance; small
    numbers stay plain (the inspector's parameter and MAC counts)."""
    return f"{n:,} ({short_number(n)})" if abs(n) >= 1000 else f"{n:,}"


def param_text(value: Any) -> str:
    """A parameter value as the canvas shows it: ``(3, 3)`` -> ``3×3``, lists compact."""
    if isinstance(value, (list, tuple)):
        if value and all(v == value[0] for v in value) and len(value) in (2, 3) and isinstance(value[0], int):
            return "×".join(str(v) for v in value)
        return "[" + ",".join(param_text(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def key_params_text(names: Iterable[str], params: dict[str, Any], defaults: dict[str, Any]) -> str:
    """``out=64  k=3×3  s=2``-style line: the block's key parameters whose value differs
    from the default (a default says nothing new; short names keep it to one line)."""
    short = {"out_channels": "out", "kernel_size": "k", "stride": "s", "padding": "p", "out_features": "out",
             "hidden_size": "hidden", "num_layers": "layers", "num_heads": "heads", "bidirectional": "bi",
             "embed_dim": "dim", "dilation": "d", "channels": "ch", "output_size": "size",
             "dim_feedforward": "ff", "num_embeddings": "vocab", "embedding_dim": "dim"}
    parts = []
    for name in names:
        if name not in params or (name in defaults and params[name] == defaults[name]):
            continue
        value = params[name]
        parts.append(f"{short.get(name, name)}={param_text(value)}")
    return "  ".join(parts)
