"""torchvision's image data sets (MNIST, FashionMNIST, CIFAR10 ...), when torchvision is installed.

Nothing is downloaded during training: the data set must already be in ``root``. The
dataset's own test split serves as validation data (``val: test``), or a share of the
training split does (``val: split``).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import torch

from blocks.params import Choice, Text
from builder.data.arrays import count
from builder.data.errors import DataError, did_you_mean
from builder.data.images import ImageLayout, fit_images, image_layout
from builder.data.source import IMAGE_OPTIONS, Context, Samples, Source


def _datasets():
    try:
        from torchvision import datasets
    except ImportError:
        raise DataError("torchvision: torchvision is not installed",
                        hint="install torchvision (the build that matches your torch), or use the folder or "
                             "npz source") from None
    return datasets


def open_split(cls: type, name: str, root: Path, split: str) -> Any:
    """``cls(root, train=...)`` or ``cls(root, split=...)``, never downloading; DataError when
    the files are not there."""
    params = inspect.signature(cls).parameters
    kwargs: dict[str, Any] = {"download": False} if "download" in params else {}
    if "train" in params:
        kwargs["train"] = split == "train"
    elif "split" in params:
        kwargs["split"] = split
    try:
        return cls(str(root), **kwargs)
    except (RuntimeError, OSError) as err:  # torchvision's "Dataset not found" is a RuntimeError
        raise DataError(f"torchvision: {name} ({split}) is not in this folder ({err})", file=str(root),
                        hint=f"nothing is downloaded during training; fetch it once where the internet is "
                             f"reachable: python -c \"from torchvision.datasets import {name}; "
                             f"{name}('{root}', download=True)\"") from None


def split_to_tensors(dataset: Any, layout: ImageLayout, limit: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (fitted to ``layout``) and labels of a torchvision data set: its ``data`` array
    ([N, H, W], [N, H, W, C] or [N, C, H, W], uint8) when it has one, else item by item."""
    data = getattr(dataset, "data", None)
    labels = getattr(dataset, "targets", getattr(dataset, "labels", None))
    if data is not None and labels is not None:
        x = torch.as_tensor(np.asarray(data[:limit] if limit else data))
        y = torch.as_tensor(np.asarray(labels[:limit] if limit else labels)).long()
    else:
        n = min(len(dataset), limit or len(dataset))
        items = [dataset[i] for i in range(n)]
        x = torch.as_tensor(np.stack([np.asarray(image) for image, _ in items]))
        y = torch.tensor([int(label) for _, label in items], dtype=torch.long)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    elif x.dim() == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        x = x.permute(0, 3, 1, 2)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    return fit_images(x, layout), y


def load_torchvision(options: dict[str, Any], ctx: Context) -> Samples:
    """``torchvision``: a torchvision.datasets image set already on disk, e.g.
    ``{name: torchvision, dataset: MNIST, root: data/}``. Images are fitted to the graph
    input like the folder source's (channels, bilinear resize, per-channel standardization).
    Options: ``dataset`` (required: a class in torchvision.datasets with a ``train`` or
    ``split`` argument), ``root`` (default "data", relative to the graph file), ``val``
    (test: the data set's test split; split: a share of the training split), ``normalize``,
    ``augment``, ``limit`` (per split), ``val_split``.
    """
    ctx.require_inputs(["images"])
    layout = image_layout(ctx.inputs[0], "torchvision")
    datasets = _datasets()
    name = options["dataset"]
    cls = getattr(datasets, name, None)
    if not isinstance(cls, type):
        known = [n for n in dir(datasets) if isinstance(getattr(datasets, n), type) and n[0].isupper()]
        raise DataError(f"torchvision: no data set named {name!r}{did_you_mean(name, known)}",
                        hint="e.g. MNIST, FashionMNIST, CIFAR10, CIFAR100")
    root = Path(options["root"]).expanduser()
    root = root if root.is_absolute() else ctx.base_dir / root
    train_set = open_split(cls, name, root, "train")
    x, y = split_to_tensors(train_set, layout, ctx.limit)
    val = None
    if options["val"] == "test":
        vx, vy = split_to_tensors(open_split(cls, name, root, "test"), layout, ctx.limit)
        val = Samples([vx], vy, "classification", f"{count(len(vy))} test images", str(root), images=True, scale=255.0)
    classes = getattr(train_set, "classes", None)
    what = f"{name} (torchvision, {count(len(y))} training images as {layout.size_text})"
    return Samples([x], y, "classification", what, str(root), images=True, scale=255.0, val=val,
                   class_names=[str(c) for c in classes] if isinstance(classes, (list, tuple)) else None)


SOURCES = [
    Source("torchvision", "a torchvision.datasets image set already on disk (MNIST, CIFAR10 ...)",
           load_torchvision,
           {"dataset": Text(doc="class name in torchvision.datasets, e.g. MNIST"),
            "root": Text("data", doc="folder holding the data set, relative to the graph file"),
            "val": Choice("test", choices=("test", "split"), doc="validate on the test split or on a share "
                                                                "of the training split"),
            **IMAGE_OPTIONS}),
]
