"""Images to the graph's input: layout from the InputSpec, channel count, size.

A graph image input is ``[C, H, W]`` with C = 1 (grayscale) or 3 (RGB), ``[H, W]``
(grayscale without a channel axis) or a flat ``[S*S]`` (grayscale, flattened, for MLPs).
Pixel values are floats in [0, 1] here; standardization happens later, per channel.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from builder.data.arrays import InputSpec, format_shape
from builder.data.errors import DataError

# Images larger than this are refused from their header, before a pixel is decoded: a
# "decompression bomb" (a few kilobytes of PNG that decode to gigabytes) never gets memory,
# and no photo a network of this project takes needs more (8000 x 5000 is 40 megapixels).
MAX_IMAGE_PIXELS = 40_000_000

# ITU-R 601-2 luma, the weights Pillow's convert("L") uses
LUMA = (0.299, 0.587, 0.114)
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})


@dataclass(frozen=True)
class ImageLayout:
    """How a graph input holds an image."""

    channels: int
    height: int
    width: int
    shape: tuple[int, ...]  # the input's per-sample shape, which fitted images are reshaped to

    @property
    def spatial(self) -> bool:
        """Whether the input keeps the image's rows and columns (augmentation needs them)."""
        return len(self.shape) == 3

    @property
    def size_text(self) -> str:
        return f"{self.height}x{self.width}"


def image_layout(spec: InputSpec, who: str) -> ImageLayout:
    """The image layout of ``spec``; DataError (naming ``who``, the source) when it holds none."""
    shape = tuple(spec.shape)
    expects = "[1, H, W] or [3, H, W] (or [H, W], or a flat [S*S]) with dtype float32"
    if spec.dtype != "float32":
        raise DataError(f"{who} gives images, but the graph's input {spec.node!r} takes {spec.dtype} token ids",
                        hint=f"declare the input as {expects}")
    if len(shape) == 3 and shape[0] in (1, 3):
        return ImageLayout(shape[0], shape[1], shape[2], shape)
    if len(shape) == 2:
        return ImageLayout(1, shape[0], shape[1], shape)
    if len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0]:
        side = math.isqrt(shape[0])
        return ImageLayout(1, side, side, shape)
    raise DataError(f"{who} gives images, but the graph's input {spec.node!r} has shape {format_shape(shape)}",
                    hint=f"declare the input as {expects}")


def fit_images(x: torch.Tensor, layout: ImageLayout, chunk: int = 4096) -> torch.Tensor:
    """``x`` (``[N, C, H, W]`` floats in [0, 1], C = 1, 3 or 4) with the layout's channels
    and size (bilinear, antialiased when shrinking), reshaped to the input's shape."""
    if x.shape[1] == 4:  # RGBA: drop alpha
        x = x[:, :3]
    if x.shape[1] != layout.channels:
        if layout.channels == 3:
            x = x.expand(-1, 3, -1, -1)
        else:
            x = (x * torch.tensor(LUMA, dtype=x.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)
    if len(x) == 0:
        return x.new_zeros((0,) + layout.shape)
    if tuple(x.shape[2:]) != (layout.height, layout.width):
        shrink = x.shape[2] > layout.height or x.shape[3] > layout.width
        # in chunks: resizing a whole data set at once can take several times its memory
        x = torch.cat([F.interpolate(part, size=(layout.height, layout.width), mode="bilinear",
                                     align_corners=False, antialias=shrink) for part in x.split(chunk)])
    return x.contiguous().reshape((len(x),) + layout.shape).float()


def read_image(path: Path, layout: ImageLayout):
    """One image file as a ``uint8`` array ``[H, W]`` or ``[H, W, 3]`` in the layout's mode and
    size; DataError naming the file when Pillow cannot read it."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 megapixels and refuses from 179; the limit here is lower
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)  # reads the header only
        with image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise DataError(f"the image is {width} x {height} pixels; images over {MAX_IMAGE_PIXELS:,} pixels "
                                "are refused before decoding (a decompression bomb, or far larger than any "
                                "input needs)", file=str(path), hint="resize it first")
            image = image.convert("L" if layout.channels == 1 else "RGB")
            if image.size != (layout.width, layout.height):
                image = image.resize((layout.width, layout.height), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as err:
        raise DataError(f"cannot read this image ({err.__class__.__name__}: {err})", file=str(path),
                        hint="remove the file or replace it with a PNG/JPEG that opens") from None


def pixels_to_tensor(arrays: list, layout: ImageLayout) -> torch.Tensor:
    """Stacked ``uint8`` arrays from ``read_image`` as floats in [0, 1], in the input's shape."""
    import numpy as np

    if not arrays:
        return torch.zeros((0,) + layout.shape)
    stacked = torch.from_numpy(np.stack(arrays))
    if stacked.dim() == 3:
        stacked = stacked.unsqueeze(1)
    else:
        stacked = stacked.permute(0, 3, 1, 2)
    return (stacked.float() / 255.0).reshape((len(arrays),) + layout.shape)


def load_image(path: str | Path, spec: InputSpec) -> torch.Tensor:
    """One image file prepared for ``spec`` as training prepared the folder source's images:
    channels converted, resized, pixels in [0, 1]. Apply the recorded normalization next
    (:func:`builder.data.apply_normalization`). For ``predict``."""
    layout = image_layout(spec, "an image file")
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", file=str(path))
    return pixels_to_tensor([read_image(path, layout)], layout)[0]
