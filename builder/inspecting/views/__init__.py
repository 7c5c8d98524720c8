"""Views inside a trained network: filters, feature maps, embeddings, maximizing inputs,
attention maps and gate activity (``modelbuilder inspect``, the app's Inspect panel).

    from builder.inspecting import open_subject
    from builder.inspecting import views

    subject = open_subject("runs/lenet5-20261203-145503")
    views.applicable(subject, "fc1")     # {"filters": "node 'fc1' is a linear layer: ...", "activations": None, ...}
    view = views.activations(subject, subject.samples("val:3"), "conv1")
    view.arrays()["values"]              # [6, 28, 28]
    view.draw(fig)                       # into any matplotlib Figure (the app's Qt canvas)
    views.write(view, "out/")            # PNG + one .npy per array

Each view function refuses a node it does not apply to with an InspectError whose message
is :func:`applicable`'s reason for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from builder.inspecting.errors import InspectError
from builder.inspecting.subject import Samples, Subject, open_subject
from builder.inspecting.views.activations import ActivationView, activations, draw_activations
from builder.inspecting.views.applicable import VIEWS, applicable
from builder.inspecting.views.attention import AttentionView, attention, draw_attention
from builder.inspecting.views.base import View, write
from builder.inspecting.views.embedding import EmbeddingView, draw_embedding, embedding
from builder.inspecting.views.filters import FilterView, draw_filters, filters
from builder.inspecting.views.gates import GateView, draw_gates, gates
from builder.inspecting.views.maximize import MaximizeView, draw_maximize, maximize

SAMPLE_VIEWS = ("activations", "attention", "gates")  # the views of one input sample

__all__ = ["VIEWS", "SAMPLE_VIEWS", "applicable", "write", "run_view", "inspect", "View",
           "FilterView", "ActivationView", "EmbeddingView", "MaximizeView", "AttentionView", "GateView",
           "filters", "activations", "embedding", "maximize", "attention", "gates",
           "draw_filters", "draw_activations", "draw_embedding", "draw_maximize", "draw_attention", "draw_gates"]


def run_view(subject: Subject, view: str, node: str, samples: Optional[Samples] = None, index: int = 0,
             **options) -> View:
    """One view by name: ``samples`` (and ``index``) for activations, attention and gates;
    ``options`` go to the view function (``method``, ``limit``, ``unit``, ``steps``, ``layer``...)."""
    if view not in VIEWS:
        raise InspectError(f"unknown view {view!r}", f"use one of: {', '.join(VIEWS)}")
    if view in SAMPLE_VIEWS:
        if samples is None:
            raise InspectError(f"the {view} view looks at one input: give samples",
                               "e.g. val:0, val:misclassified, an image or a .npy file")
        return {"activations": activations, "attention": attention, "gates": gates}[view](
            subject, samples, node, index, **options)
    if view == "filters":
        return filters(subject, node, **options)
    if view == "embedding":
        return embedding(subject, node, samples=samples, **options)
    return maximize(subject, node, **options)


def inspect(source: str | Path | Subject, view: str, node: str, input: Optional[str | Path] = None, *,
            weights: str = "best", index: int = 0, **options) -> View:
    """``builder.inspect("runs/lenet5-...", "activations", "conv1", "val:3")``: open a run
    folder or bundle (or use an open Subject), read ``input`` as ``modelbuilder inspect
    --input`` does, and return the view."""
    subject = source if isinstance(source, Subject) else open_subject(source, weights)
    samples = subject.samples(input) if input is not None else None
    return run_view(subject, view, node, samples, index, **options)
