"""``maximize``: the input a unit likes best, found by gradient ascent on the input.

Start from faint random noise and repeatedly move the input along the gradient of the
unit's activation (a channel's mean, a vector's entry, a class score). Left alone this
finds high-frequency patterns no image looks like, so three regularizers keep it
image-like (Yosinski et al. 2015): L2 decay pulls values back towards zero, a blur every
few steps removes the finest noise, and a random shift (jitter) before every step stops the
pattern from relying on exact pixel positions. On a classifier's output node this is the
class-model visualization of Simonyan, Vedaldi, Zisserman (2014): the class score before
the softmax, since maximizing the probability can be done by lowering the other scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar, Optional

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from builder.analysis import OUTPUT_BLOCK
from builder.inspecting.errors import InspectError
from builder.inspecting.figures import as_picture, is_image
from builder.inspecting.subject import Subject
from builder.inspecting.views.applicable import require
from builder.inspecting.views.base import (View, capture_only, channel_axis, fresh, is_small, one_thread,
                                           output_source)
from builder.inspecting.views.mosaic import no_frame, show, symmetric_limit

MAX_UNITS = 16  # units optimized together when none is named (one batch)
STEPS = 200
START_STD = 0.1  # the starting noise, in the input's normalized units


@dataclass
class MaximizeView(View):
    """``inputs`` ``[U, *input shape]`` (normalized units, as the model sees them), one per
    unit in ``units``; ``start`` and ``final`` the unit's activation for the starting noise
    and for the result; ``history`` ``[steps, U]``."""

    kind: ClassVar[str] = "maximize"
    target: str = ""  # the node whose output was maximized (the layer behind an output node)
    units: list[int] = field(default_factory=list)
    unit_names: list[str] = field(default_factory=list)
    inputs: np.ndarray = None
    start: np.ndarray = None
    final: np.ndarray = None
    history: np.ndarray = None
    pictures: Optional[list[np.ndarray]] = None
    class_model: bool = False

    @property
    def tag(self) -> str:
        return str(self.units[0]) if len(self.units) == 1 else "units"

    def arrays(self) -> dict[str, np.ndarray]:
        return {"inputs": self.inputs, "units": np.array(self.units), "start": self.start, "final": self.final,
                "history": self.history}

    def summary(self) -> list[str]:
        what = "class score" if self.class_model else "activation"
        return [f"{self.target} {name}: {what} {a:.3g} for the starting noise -> {b:.3g} after "
                f"{len(self.history)} steps" for name, a, b in zip(self.unit_names, self.start, self.final)]

    def _grid(self) -> tuple[int, int]:
        """Rows and columns: up to 6 in one row, up to 16 in two (10 classes: 2 x 5)."""
        count = len(self.units)
        columns = count if count <= 6 else (-(-count // 2) if count <= 16 else 8)
        return -(-count // columns), columns

    def figure_size(self) -> tuple[float, float]:
        rows, columns = self._grid()
        return (min(14.0, 2.2 * columns + 0.6), 2.75 * rows + 0.9)

    def draw(self, fig: Figure) -> None:
        fresh(fig, "constrained")  # makes room for every tile's two-line title
        rows, columns = self._grid()
        limit = symmetric_limit(self.inputs)
        for n, name in enumerate(self.unit_names):
            ax = fig.add_subplot(rows, columns, n + 1)
            if self.pictures is not None:
                picture = self.pictures[n]
                ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, interpolation="bilinear")
                no_frame(ax)
            else:  # a vector or a sequence: its values, one scale for all units
                values = self.inputs[n]
                values = values.reshape(1, -1) if values.ndim == 1 else values.reshape(values.shape[0], -1).T
                show(fig, ax, values, cmap="RdBu_r", vmin=-limit, vmax=limit, label="", colorbar=False,
                     aspect="auto")
                ax.tick_params(labelsize=7)
                ax.set_xlabel("position (time step)" if self.inputs[n].ndim == 2 else "input value", fontsize=7)
                ax.set_ylabel("feature" if self.inputs[n].ndim == 2 else "", fontsize=7)
            ax.set_title(f"{name}\n{self.start[n]:.2g} -> {self.final[n]:.2g}", fontsize=8)
        what = ("class model (Simonyan et al.): the input that maximizes each class score" if self.class_model
                else f"the input that maximizes each unit of {self.target}")
        fig.suptitle(f"{self.node}: {what}\n(above each: the {'score' if self.class_model else 'activation'} "
                     f"for the starting noise -> after {len(self.history)} steps of gradient ascent)", fontsize=10)


def _target(subject: Subject, node: str) -> tuple[str, bool]:
    """The layer to maximize and whether it is a classifier's score layer (class model)."""
    if subject.block_of(node) == OUTPUT_BLOCK:
        return output_source(subject, node), True
    is_head = any(output_source(subject, o) == node for o in subject.analysis.output_ids)
    return node, is_head and subject.is_classifier


def _units(subject: Subject, target: str, unit: Optional[int], class_model: bool) -> tuple[list[int], int]:
    shape = subject.output_shape(target)
    axis = channel_axis(subject, target, shape) if shape else 0
    count = shape[axis] if shape else 1
    word = "classes" if class_model else ("channels" if len(shape) > 1 else "units")
    if unit is None:
        return list(range(min(count, MAX_UNITS))), axis
    if not 0 <= unit < count:
        raise InspectError(f"unit {unit} is out of range: node {target!r} has {count} {word} (0 to {count - 1})",
                           f"use {target}:N with N from 0 to {count - 1}")
    return [int(unit)], axis


def _objective(value: torch.Tensor, units: list[int], axis: int) -> torch.Tensor:
    """``[U]``: sample ``b``'s activation of unit ``units[b]`` (the mean over the other axes)."""
    per_sample = value.reshape(len(value), 1) if value.dim() == 1 else value
    picked = per_sample.movedim(axis + 1, 1)[torch.arange(len(units)), torch.tensor(units)]
    return picked.reshape(len(units), -1).mean(dim=1)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A 3x3 Gaussian blur of every channel of ``[B, C, H, W]`` (edges replicated)."""
    t = torch.tensor([-1.0, 0.0, 1.0])
    g = torch.exp(-t ** 2 / (2 * sigma ** 2))
    kernel = (g[:, None] * g[None, :]) / g.sum() ** 2
    channels = x.shape[1]
    weight = kernel.expand(channels, 1, 3, 3).to(x.dtype)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), weight, groups=channels)


def _bounds(subject: Subject, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """What the data can hold, in normalized units: images were [0, 1] before
    standardization; anything else is kept within 3 standard deviations."""
    norm = subject.normalization
    if is_image(shape) and norm and norm.get("dim") == 0 and len(norm.get("mean", [])) == shape[0]:
        mean = torch.tensor(norm["mean"], dtype=torch.float32).reshape(-1, 1, 1)
        std = torch.tensor(norm["std"], dtype=torch.float32).reshape(-1, 1, 1)
        return (0 - mean) / std, (1 - mean) / std
    return torch.tensor(-3.0), torch.tensor(3.0)


def _ascend(x: torch.Tensor, activation: Callable[[torch.Tensor], torch.Tensor], steps: int, lr: float,
            l2: float, blur_every: int, blur_sigma: float, jitter: int, low: torch.Tensor, high: torch.Tensor,
            generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ascent loop: ``x`` after ``steps`` steps, the activation before and after, and
    the activation at every step ``[steps, U]``. ``blur_every``/``jitter`` 0: not spatial."""
    with torch.no_grad():
        start = activation(x)
    per_sample = (-1,) + (1,) * (x.dim() - 1)
    history = []
    for step in range(max(1, int(steps))):
        shift = [int(s) for s in torch.randint(-jitter, jitter + 1, (2,), generator=generator)] if jitter else [0, 0]
        moved = torch.roll(x, shifts=shift, dims=(-2, -1)) if jitter else x.clone()
        moved.requires_grad_(True)
        value = activation(moved)
        (grad,) = torch.autograd.grad(value.sum(), moved)
        with torch.no_grad():
            if jitter:
                grad = torch.roll(grad, shifts=[-s for s in shift], dims=(-2, -1))
            # a normalized step: every sample moves as far whatever its gradient's scale
            scale = grad.reshape(len(x), -1).abs().mean(dim=1).clamp_min(1e-12)
            x = (x + lr * grad / scale.reshape(per_sample)) * (1 - l2)
            if blur_every and (step + 1) % blur_every == 0:
                x = _blur(x.reshape(len(x), -1, *x.shape[-2:]), blur_sigma).reshape(x.shape)
            x = torch.maximum(torch.minimum(x, high), low)
        history.append(value.detach())
    with torch.no_grad():
        final = activation(x)
    return x, start, final, torch.stack(history)


def maximize(subject: Subject, node: str, unit: Optional[int] = None, *, steps: int = STEPS, lr: float = 0.02,
             l2: float = 1e-2, blur_every: int = 4, blur_sigma: float = 0.5, jitter: int = 2,
             seed: int = 0) -> MaximizeView:
    """Gradient ascent on the input for ``unit`` of ``node`` (a channel, a vector entry, or a
    class on a classifier's output node); ``unit=None``: the first units, one batch."""
    require(subject, node, "maximize")
    target, class_model = _target(subject, node)
    subject.check_node(target)
    units, axis = _units(subject, target, unit, class_model)
    shape = tuple(subject.trained.inputs[0].shape)
    spatial = len(shape) == 3 and shape[1] > 1 and shape[2] > 1  # [C, H, W]: blur and jitter apply
    low, high = _bounds(subject, shape)
    generator = torch.Generator().manual_seed(seed)
    x = (torch.randn((len(units),) + shape, generator=generator) * START_STD).clamp(low, high)

    def activation(inputs: torch.Tensor) -> torch.Tensor:
        value = capture_only(subject, [inputs], target, grad=True)
        if isinstance(value, (tuple, list)):  # a multi-output block (recurrent): its first port
            value = value[0]
        return _objective(value, units, axis)

    with one_thread(is_small(subject)):
        x, start, final, history = _ascend(x, activation, steps, lr, l2, blur_every if spatial else 0, blur_sigma,
                                           jitter if spatial else 0, low, high, generator)
    if class_model:
        names = [f"class {subject.class_name(u)}" for u in units]
    else:
        names = [f"{'channel' if len(subject.output_shape(target)) > 1 else 'unit'} {u}" for u in units]
    pictures = [as_picture(s, subject.normalization) for s in x] if is_image(shape) else None
    return MaximizeView(node, target, units, names, x.numpy(), start.numpy(), final.numpy(), history.numpy(),
                        pictures, class_model)


def draw_maximize(fig: Figure, view: MaximizeView) -> None:
    view.draw(fig)
