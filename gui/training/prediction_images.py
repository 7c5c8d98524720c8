"""The pictures of a run's predictions, for the live plots' "Predictions" tab.

At the end of a run the engine draws a few validation images with their true and
predicted masks (segmentation: ``plots/masks.png``) or boxes (localization:
``plots/boxes.png``) into the run folder. This module finds them and draws them into a
figure, so the tab shows them like every other plot (rendered off the window's thread,
saved with Save plot…).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from matplotlib.figure import Figure

from builder import figure_note

IMAGES = ("masks.png", "boxes.png")  # what builder/training/prediction_plots.py writes into plots/


def run_dir_of(events: list[dict]) -> Optional[Path]:
    """The run folder the events' last ``run_started`` names."""
    for event in reversed(events):
        if event.get("event") == "run_started" and event.get("run_dir"):
            return Path(event["run_dir"])
    return None


def prediction_images(run_dir: Optional[Path]) -> list[Path]:
    """The prediction pictures of the run in ``run_dir`` (none while it trains)."""
    if run_dir is None:
        return []
    return [path for path in (Path(run_dir) / "plots" / name for name in IMAGES) if path.is_file()]


def draw_predictions(fig: Figure, paths: list[Path]) -> bool:
    """The pictures side by side, as they are (no axes); False (with a note) without any."""
    import matplotlib.image as mpimg

    fig.clear()
    fig.set_layout_engine("constrained")
    images = []
    for path in paths:
        try:
            images.append(mpimg.imread(str(path)))
        except (OSError, ValueError, SyntaxError):  # a file being written, or damaged
            continue
    if not images:
        figure_note(fig, "no prediction pictures: a segmentation or box run draws them when it ends")
        return False
    for i, image in enumerate(images):
        ax = fig.add_subplot(1, len(images), i + 1)
        ax.imshow(image, interpolation="antialiased")
        ax.set_axis_off()
    return True
