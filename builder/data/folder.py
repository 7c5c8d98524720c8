"""Image folders: one subfolder per class, loaded into memory with Pillow."""

from __future__ import annotations

from itertools import zip_longest
from pathlib import Path
from typing import Any

import torch

from blocks.params import Text
from builder.data.arrays import count
from builder.data.errors import DataError
from builder.data.images import (
    IMAGE_SUFFIXES,
    image_layout,
    pixels_to_tensor,
    read_image,
)
from builder.data.source import IMAGE_OPTIONS, Context, Samples, Source


def class_folders(root: Path) -> list[tuple[str, list[Path]]]:
    """``[(class name, sorted image files)]`` for each subfolder of ``root``, sorted by name;
    DataError naming the folder when there are none or one holds no images."""
    if not root.is_dir():
        raise DataError("is not a folder", file=str(root),
                        hint="point path at a folder with one subfolder of images per class")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        loose = any(p.suffix.lower() in IMAGE_SUFFIXES for p in root.iterdir())
        raise DataError("has no class subfolders", file=str(root),
                        hint=("the images must sit in one subfolder per class, e.g. images/cat/1.png, "
                              "images/dog/2.png" if loose else "put each class's images in a subfolder named "
                              "after the class"))
    classes = []
    for folder in folders:
        files = sorted(p for p in folder.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        if not files:
            raise DataError(f"class folder {folder.name!r} has no images", file=str(folder),
                            hint=f"add images ({', '.join(sorted(IMAGE_SUFFIXES))}) or remove the folder")
        classes.append((folder.name, files))
    return classes


def load_folder(options: dict[str, Any], ctx: Context) -> Samples:
    """``folder``: images in one subfolder per class (``images/cat/*.png``, ``images/dog/*.jpg``).

    Class names are the subfolder names, sorted; class ids follow that order. Every image is
    converted to the graph input's channels (Pillow "L" for 1, "RGB" for 3), resized
    (bilinear) to its height and width and kept in memory. Samples are ordered round-robin
    over the classes, so ``limit`` keeps every class. Options: ``path`` (required; relative
    to the graph file), ``normalize`` (per-channel standardization with the training split's
    statistics; default true), ``augment`` (``{flip: true, crop: 4}``: random horizontal flip
    and random crop after padding by 4, on training batches), ``limit``, ``val_split``.
    """
    ctx.require_inputs(["images"])
    layout = image_layout(ctx.inputs[0], "folder")
    root = ctx.path(options["path"])
    classes = class_folders(root)
    order = [item for group in zip_longest(*[[(i, f) for f in files] for i, (_, files) in enumerate(classes)])
             for item in group if item is not None]
    if ctx.limit:
        order = order[:ctx.limit]
    pixels = [read_image(path, layout) for _, path in order]
    labels = torch.tensor([i for i, _ in order], dtype=torch.long)
    what = f"{root.name}/ ({count(len(order))} images in {len(classes)} classes, as {layout.size_text}" + \
           (" RGB)" if layout.channels == 3 else " grayscale)")
    return Samples([pixels_to_tensor(pixels, layout)], labels, "classification", what, str(root),
                   class_names=[name for name, _ in classes], images=True, scale=255.0)


SOURCES = [
    Source("folder", "images in one subfolder per class (PNG, JPEG ...), loaded with Pillow", load_folder,
           {"path": Text(doc="the folder, relative to the graph file"), **IMAGE_OPTIONS}),
]
