"""Pictures of what a trained model predicts, written into the run folder at the end.

For an output that labels every pixel (segmentation), ``plots/masks.png`` shows a few
validation images, each with its true mask and the predicted mask laid over it, one class
colour each. For an output that places a box, ``plots/boxes.png`` shows the true box and
the predicted one on a few validation images. ``draw_masks`` and ``draw_boxes`` draw into a
given matplotlib Figure (as builder/training/plots.py's figures do), so the app can show
the same pictures.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from builder.atomic import write_atomic
from builder.data.targets import target_of

SHOWN = 4  # validation samples per picture
ALPHA = 0.45  # how strongly a mask colours the image under it
TITLE, SMALL = 11, 8


def _picture(x: torch.Tensor) -> np.ndarray:
    """One input ``[C, H, W]`` (normalized) as an image in [0, 1] to show (grey or RGB)."""
    image = x.detach().float().cpu()
    image = (image - image.min()) / (image.max() - image.min()).clamp(min=1e-8)
    if image.dim() == 3 and image.shape[0] == 3:
        return image.permute(1, 2, 0).numpy()
    return image.reshape(image.shape[-2:]).numpy() if image.dim() >= 2 else image.numpy()


def _class_colors(classes: int) -> np.ndarray:
    palette = colormaps["tab10" if classes <= 10 else "tab20"]
    colors = np.array([palette(i % palette.N)[:3] for i in range(classes)])
    colors[0] = (0.0, 0.0, 0.0)  # class 0 (the background) leaves the image as it is
    return colors


def _overlay(image: np.ndarray, mask: np.ndarray, colors: np.ndarray) -> np.ndarray:
    rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
    if mask.shape != rgb.shape[:2]:  # a mask smaller than the image: each label covers a block
        ys = np.arange(rgb.shape[0]) * mask.shape[0] // rgb.shape[0]
        xs = np.arange(rgb.shape[1]) * mask.shape[1] // rgb.shape[1]
        mask = mask[np.ix_(ys, xs)]
    coloured = colors[mask]
    alpha = np.where(mask[..., None] > 0, ALPHA, 0.0)
    return rgb * (1 - alpha) + coloured * alpha


def draw_masks(fig: Figure, images: list[np.ndarray], true: list[np.ndarray], predicted: list[np.ndarray],
               class_names: list[str]) -> bool:
    """Rows of (input, true mask, predicted mask over the input), with a class legend."""
    fig.clear()
    fig.set_layout_engine("constrained")
    if not images:
        return False
    colors = _class_colors(len(class_names))
    axes = fig.subplots(len(images), 3, squeeze=False)
    for row, (image, t, p) in enumerate(zip(images, true, predicted)):
        accuracy = float((t == p).mean()) if t.shape == p.shape else None
        panels = [(image, "input"), (_overlay(image, t, colors), "true mask"),
                  (_overlay(image, p, colors), "predicted" + (f" ({100 * accuracy:.0f}% of pixels right)"
                                                                if accuracy is not None else ""))]
        for ax, (picture, title) in zip(axes[row], panels):
            ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(title, fontsize=SMALL)
            ax.set_axis_off()
    handles = [Patch(color=colors[i] if i else (0.8, 0.8, 0.8), label=name) for i, name in enumerate(class_names)]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 7), fontsize=SMALL)
    fig.suptitle("Validation images: true and predicted masks", fontsize=TITLE)
    return True


def draw_boxes(fig: Figure, images: list[np.ndarray], true: list[np.ndarray], predicted: list[np.ndarray]) -> bool:
    """Validation images with the true box (green) and the predicted one (red)."""
    fig.clear()
    fig.set_layout_engine("constrained")
    if not images:
        return False
    axes = fig.subplots(1, len(images), squeeze=False)[0]
    for ax, image, t, p in zip(axes, images, true, predicted):
        height, width = image.shape[:2]
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
        for box, color in ((t, "tab:green"), (p, "tab:red")):
            x0, y0, x1, y1 = (float(v) for v in box)
            ax.add_patch(Rectangle((x0 * width - 0.5, y0 * height - 0.5), (x1 - x0) * width, (y1 - y0) * height,
                                   fill=False, edgecolor=color, linewidth=1.6))
        ax.set_axis_off()
    fig.legend(handles=[Patch(color="tab:green", label="true box"), Patch(color="tab:red", label="predicted box")],
               loc="outside lower center", ncol=2, fontsize=SMALL)
    fig.suptitle("Validation images: true and predicted boxes", fontsize=TITLE)
    return True


def _png(draw, size: tuple[float, float], *args) -> bytes | None:
    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    if not draw(fig, *args):
        return None
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


@torch.no_grad()
def write_prediction_plots(trainer: Any) -> list[Path]:
    """``masks.png`` and ``boxes.png`` in the run's plots folder, for the outputs they fit;
    none, with a warning, if they cannot be drawn (a picture never costs a finished run)."""
    heads = [h for h in trainer.objective.heads if h.kind in ("segmentation", "box")]
    val = trainer.val_data
    if not heads or val is None or not hasattr(val, "inputs") or len(val) == 0:
        return []
    try:
        model = trainer.model
        was_training = model.training
        model.eval()
        xs = [x[:SHOWN] for x in val.inputs]
        y = val.targets[:SHOWN]
        outs = trainer.objective.outputs(model(*xs))
        model.train(was_training)
        images = [_picture(x) for x in xs[0]]
        written = []
        for head in heads:
            out, true = outs[head.index].float().cpu(), target_of(y, head.target).cpu()
            name = "masks.png" if head.kind == "segmentation" else "boxes.png"
            if len(heads) > 1 and sum(h.kind == head.kind for h in heads) > 1:
                name = f"{name[:-4]}_{head.node}.png"
            if head.kind == "segmentation":
                names = trainer.data.class_names or [str(i) for i in range(head.num_classes)]
                data = _png(draw_masks, (9.0, 2.6 * len(images) + 0.8), images, list(true.numpy()),
                            list(out.argmax(1).numpy()), list(names)[:head.num_classes])
            else:
                data = _png(draw_boxes, (3.0 * len(images), 3.6), images, list(true.numpy()), list(out.numpy()))
            if data is not None:
                path = trainer.run_folder.plots / name
                write_atomic(path, data)
                written.append(path)
        return written
    except Exception as err:  # noqa: BLE001 - see the docstring
        warnings.warn(f"could not draw the predictions: {err}", stacklevel=2)
        return []
