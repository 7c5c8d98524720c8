"""What the Inspect panel's worker thread computes: a run opened with its strip of
validation samples, and each figure the panel shows, drawn by the engine.

Nothing here runs on the window's thread (:mod:`gui.inspect.worker` calls it). The figures
are the engine's own (``builder.inspecting.views``' ``draw`` and ``draw_explanation``), drawn
at the panel's size by :mod:`gui.inspect.render` into a ``QImage``, which the window only
paints: the app shows the same pictures ``modelbuilder inspect`` writes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from matplotlib.figure import Figure
from PySide6.QtGui import QImage

from builder import EXPLAIN_METHODS, InspectError, draw_explanation, explain, inspect, open_subject, picture_of
from gui.inspect.render import render, warm_up

WRONG_SHOWN = 16  # misclassified samples in the strip, most confidently wrong first
RIGHT_SHOWN = 8  # then a few classified correctly, to compare with
PLAIN_SHOWN = 16  # samples of a model that is not a classifier
TOKENS_SHOWN = 10  # a sequence sample shows its first tokens
CACHED_VIEWS = 12  # computed views kept: going back to a sample or node is instant
EXPLANATION_SIZE = (11.0, 4.5)  # inches: the engine's explanation figures, three panels side by side

# what each view needs chosen before it can be computed
NEEDS_SAMPLE = {"activations", "explain", "attention", "gates"}
NEEDS_NODE = {"activations", "filters", "embedding", "maximize", "attention", "gates"}
# views that take seconds (a t-SNE of the validation set, gradient ascent): computed on the
# worker's slow lane with a model of their own (gui/inspect/worker.py)
SLOW_VIEWS = {"embedding", "maximize"}


@dataclass
class StripRow:
    """One sample of the strip, as the panel shows it."""

    position: int  # in the strip
    index: int  # in the run's validation split
    caption: str  # "val #169"
    true: Optional[str] = None
    predicted: Optional[str] = None
    probability: Optional[float] = None
    picture: Optional[np.ndarray] = None  # [H, W] or [H, W, 3] in 0..1, for an image input
    tokens: Optional[str] = None  # a short text, for a sequence input

    @property
    def wrong(self) -> Optional[bool]:
        return None if self.true is None or self.predicted is None else self.true != self.predicted


@dataclass
class RunData:
    """A run opened for inspection: what the panel shows about it and what the worker reuses."""

    path: Path
    subject: Any  # builder.inspecting.Subject
    graph_name: str
    nodes: list[str]
    rows: list[StripRow] = field(default_factory=list)  # the strip's samples (none: no validation split)
    wrong_count: int = 0
    total: int = 0
    note: str = ""  # why there is no strip (a bundle has no validation split)
    class_names: list[str] = field(default_factory=list)
    cache: OrderedDict = field(default_factory=OrderedDict)  # Request -> view (both lanes: under lock)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _slow_subject: Any = None

    def subject_for(self, view: str) -> Any:
        """The slow views' own Subject (opened on first use, on the slow lane), else the main one."""
        if view not in SLOW_VIEWS:
            return self.subject
        if self._slow_subject is None:
            self._slow_subject = open_subject(self.path)
        return self._slow_subject


@dataclass(frozen=True)
class Request:
    """One figure of the panel: which view, of which sample and node, with which options."""

    view: str  # "activations", "explain", "filters", "embedding", "maximize", "attention", "gates"
    sample: Optional[int] = None  # position in the strip (RunData.rows)
    node: Optional[str] = None
    method: str = "saliency"  # explain
    target: Optional[int] = None  # explain: class index, None for the predicted class
    projection: str = "pca"  # embedding
    unit: Optional[int] = None  # maximize: None for the first units, side by side


@dataclass
class Drawn:
    """A finished figure: the request, the matplotlib figure (tests read its axes) and the picture."""

    request: Request
    figure: Figure
    image: QImage
    title: str
    size: tuple[int, int]  # logical pixels it was drawn at
    ratio: float  # device pixel ratio
    view: Any = None  # the engine's view object (its arrays, for tests)
    notes: list[str] = field(default_factory=list)  # the view's summary: what to read off it


# --- opening a run ----------------------------------------------------------------------------
def load_run(path: str | Path) -> RunData:
    """Open the run folder at ``path`` and choose the strip's samples: misclassified first."""
    subject = open_subject(path)
    names = [subject.class_name(i) for i in range(len(subject.class_names or []))]
    run = RunData(Path(path), subject, subject.trained.graph.name or Path(path).name, subject.node_ids(),
                  class_names=names)
    try:
        validation = subject.validation()
    except InspectError as error:
        run.note = str(error).split("\n    hint:")[0]
        return run
    run.total = len(validation.targets)
    if subject.is_classifier:
        wrong = subject.misclassified()
        run.wrong_count = len(wrong)
        shown = set(wrong)
        right = [i for i in range(run.total) if i not in shown][:RIGHT_SHOWN]
        picked = wrong[:WRONG_SHOWN] + right
    else:
        picked = list(range(min(PLAIN_SHOWN, run.total)))
    run.rows = _strip_rows(subject, validation, picked)
    warm_up()
    return run


def _strip_rows(subject, validation, picked: list[int]) -> list[StripRow]:
    inputs = [x[picked] for x in validation.inputs]
    probabilities = subject.predictions(inputs) if subject.is_classifier else None
    first = subject.trained.inputs[0]
    normalization = subject.normalization
    if normalization and normalization.get("input") not in (None, first.name):
        normalization = None  # it belongs to another input
    rows = []
    for position, index in enumerate(picked):
        row = StripRow(position, index, f"val #{index}")
        x = inputs[0][position]
        if x.is_floating_point() and x.dim() == 3 and x.shape[0] in (1, 3):  # [C, H, W]: grey or colour
            row.picture = picture_of(x, normalization)
        else:
            row.tokens = token_text(x)
        if probabilities is not None:
            predicted = int(probabilities[position].argmax())
            row.true = subject.class_name(int(validation.targets[index]))
            row.predicted = subject.class_name(predicted)
            row.probability = float(probabilities[position, predicted])
        rows.append(row)
    return rows


def token_text(x: torch.Tensor) -> str:
    """A sequence sample as a short row: its first tokens, or its first values."""
    flat = x.flatten()
    shown = TOKENS_SHOWN if not x.is_floating_point() else TOKENS_SHOWN // 2
    if x.is_floating_point():
        head = " ".join(f"{float(v):.2g}" for v in flat[:shown])
    else:
        head = " ".join(str(int(t)) for t in flat[:shown])
    more = " …" if flat.numel() > shown else ""
    return f"[{'×'.join(str(s) for s in x.shape)}] {head}{more}"


# --- views ------------------------------------------------------------------------------------
def figure(run: RunData, request: Request, size: tuple[int, int], ratio: float) -> Drawn:
    """Compute the view (or take it from the cache) and draw it at ``size`` pixels."""
    with run.lock:
        view = run.cache.get(request)
    if view is None:
        view = make_view(run, request)
        with run.lock:
            run.cache[request] = view
            while len(run.cache) > CACHED_VIEWS:
                run.cache.popitem(last=False)
    fig, image = render(view, size, ratio)
    summary = view.summary() if hasattr(view, "summary") else []
    used = view.explanation.node if isinstance(view, ExplanationView) else None
    return Drawn(request, fig, image, title(run, request, used), tuple(size), ratio, view, list(summary))


def make_view(run: RunData, request: Request) -> Any:
    """The engine's view object for ``request`` (anything with ``draw(fig)``)."""
    subject = run.subject_for(request.view)
    spec = f"val:{run.rows[request.sample].index}" if request.sample is not None else None
    if request.view == "explain":
        return _explanation(subject, spec, request)
    options: dict[str, Any] = {}
    if request.view == "embedding":
        options["method"] = request.projection
    elif request.view == "maximize":
        options["unit"] = request.unit
    return inspect(subject, request.view, request.node, spec, **options)


class ExplanationView:
    """An explanation drawn like the views: ``draw(fig)``."""

    def __init__(self, subject, explanation):
        self.subject = subject
        self.explanation = explanation

    def figure_size(self) -> tuple[float, float]:
        return EXPLANATION_SIZE

    def draw(self, fig: Figure) -> None:
        draw_explanation(fig, self.subject, self.explanation, 0)


def _explanation(subject, spec: str, request: Request) -> ExplanationView:
    samples = subject.samples(spec)
    if request.method == "gradcam" and request.node is not None:
        try:  # at the chosen node, when it has spatial axes ...
            return ExplanationView(subject, explain(subject, samples, "gradcam", target=request.target,
                                                    node=request.node))
        except InspectError:
            pass  # ... else at the engine's default layer (the last spatial one before the head)
    return ExplanationView(subject, explain(subject, samples, request.method, target=request.target))


def units(run: RunData, node: str) -> int:
    """How many units (channels, features, classes) ``node`` numbers, for the Maximize unit box
    (an upper bound for a [T, F] sequence; the engine checks the unit asked for)."""
    subject = run.subject
    if node in subject.analysis.output_ids:
        return len(run.class_names) or 1  # a classifier's output: its classes
    try:
        shape = subject.output_shape(node)
    except (KeyError, StopIteration):
        return 1
    return int(shape[0] if len(shape) != 2 else max(shape)) if shape else 1


def title(run: RunData, request: Request, used: Optional[str] = None) -> str:
    """What the figure shows, in words: the view, the node, the sample and its labels
    (``used``: the node an explanation was taken at, once known)."""
    names = {"activations": "Feature maps", "filters": "Filters", "attention": "Attention", "gates": "Gates"}
    if request.view == "explain":
        text = METHOD_TITLES.get(request.method, request.method)
        if request.method == "gradcam" and (used or request.node):
            text += f" at {used or request.node}"
            if used and request.node and used != request.node:
                text += f" (the default layer: {request.node} has no spatial axes)"
    elif request.view == "embedding":
        text = f"{'PCA' if request.projection == 'pca' else 't-SNE'} embedding of {request.node}"
    elif request.view == "maximize":
        text = (f"Input that maximizes unit {request.unit} of {request.node}" if request.unit is not None
                else f"Inputs that maximize the first units of {request.node}")
    else:
        text = f"{names.get(request.view, request.view)} of {request.node}"
    if request.sample is not None and request.view in NEEDS_SAMPLE and request.sample < len(run.rows):
        text += f" for {sample_text(run.rows[request.sample])}"
    return text


def sample_text(row: StripRow) -> str:
    """``val #169 (true 4, predicted 9, 87%)``."""
    if row.true is None:
        return row.caption
    chance = f", {100 * row.probability:.0f}%" if row.probability is not None else ""
    return f"{row.caption} (true {row.true}, predicted {row.predicted}{chance})"


# the engine's methods, as the picker names them
METHOD_TITLES = {"saliency": "Saliency", "smoothgrad": "SmoothGrad", "integrated_gradients": "Integrated gradients",
                 "gradcam": "Grad-CAM", "occlusion": "Occlusion"}
METHODS = tuple(EXPLAIN_METHODS)
