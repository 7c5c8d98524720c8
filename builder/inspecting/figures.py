"""Shared drawing helpers for the views and explanations: a sample as a picture a person
recognizes (normalization undone), Agg figures saved atomically, arrays saved as .npy.

The ``draw_*`` functions of the views draw into a given ``matplotlib.figure.Figure``, so
the desktop app shows the same figures in its Qt canvases that the CLI writes as PNG.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from builder.atomic import write_atomic

DPI = 100


def new_figure(width: float, height: float) -> Figure:
    """An Agg-backed figure (never a GUI backend in the engine)."""
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically; returns ``path``."""
    write_atomic(path, png_bytes(fig))
    return path


def save_array(array: np.ndarray, path: Path) -> Path:
    """Write ``array`` as a .npy file atomically (plain numbers, loadable without pickle)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    write_atomic(path, buffer.getvalue())
    return path


def output_folder(path: Path | str) -> Path:
    """``path`` created as a folder for the PNG and .npy files; InspectError when it cannot be."""
    from builder.inspecting.errors import InspectError

    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InspectError(f"{folder}: cannot create the output folder ({err.strerror or err})",
                           "choose another folder with --out") from None
    return folder


def unnormalize(x: torch.Tensor, normalization: Optional[dict]) -> torch.Tensor:
    """``x * std + mean``: one sample (``[*shape]``) back in the data set's units."""
    if not normalization:
        return x
    mean = torch.tensor(normalization["mean"], dtype=x.dtype)
    std = torch.tensor(normalization["std"], dtype=x.dtype)
    dim = normalization.get("dim")
    if dim is not None:
        trailing = len(normalization["shape"]) - dim - 1
        mean = mean.reshape((-1,) + (1,) * trailing)
        std = std.reshape((-1,) + (1,) * trailing)
    return x * std + mean


def as_picture(sample: torch.Tensor, normalization: Optional[dict] = None) -> np.ndarray:
    """One image sample ``[C, H, W]`` (or ``[H, W]``) as an array imshow draws: ``[H, W]``
    for one channel, ``[H, W, 3]`` for three, values stretched to [0, 1]."""
    x = unnormalize(sample.detach().float().cpu(), normalization)
    if x.dim() == 3:
        x = x[0] if x.shape[0] != 3 else x.permute(1, 2, 0)
    array = x.numpy()
    low, high = float(array.min()), float(array.max())
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def is_image(shape: tuple[int, ...]) -> bool:
    """A per-sample shape drawn as a picture: ``[C, H, W]`` with 1 or 3 channels."""
    return len(shape) == 3 and shape[0] in (1, 3) and shape[1] > 1 and shape[2] > 1


def grid_shape(count: int, max_columns: int = 8) -> tuple[int, int]:
    """Rows and columns of a near-square grid for ``count`` tiles."""
    columns = max(1, min(max_columns, int(np.ceil(np.sqrt(count)))))
    return int(np.ceil(count / columns)), columns
