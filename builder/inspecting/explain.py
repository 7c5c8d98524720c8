"""Attribution maps of a trained model: which part of an input its answer rests on.

    from builder.inspecting import open_subject
    from builder.inspecting.explain import explain, write_explanation
    subject = open_subject("runs/lenet5-20261203-145503")
    result = explain(subject, subject.samples("val:3"), "gradcam")   # result.maps: [1, 32, 32]
    write_explanation(subject, result, Path("explain"))              # val-3_gradcam.png / .npy

Maps are ``[N, H, W]`` for image inputs and ``[N, T]`` for sequences (token ids: one value
per token, taken at the embedding node's output; float steps ``[T, F]``: one per step).
What can't be explained (Grad-CAM without spatial axes, token ids for an image-only
method, a model without class scores) raises InspectError naming the node and why.
docs/explain.md describes each method and its pitfalls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from builder.inspecting import attributions
from builder.inspecting.errors import InspectError
from builder.inspecting.figures import as_picture, new_figure, output_folder, save_array, save_figure
from builder.inspecting.methods import METHODS
from builder.inspecting.subject import Samples, Subject

TITLES = {"saliency": "saliency", "smoothgrad": "SmoothGrad", "integrated_gradients": "integrated gradients",
          "gradcam": "Grad-CAM", "occlusion": "occlusion"}
UNITS = {"saliency": "|gradient of the score|", "smoothgrad": "mean |gradient| over noisy copies",
         "integrated_gradients": "contribution to the score", "gradcam": "class activation (ReLU)",
         "occlusion": "probability lost when covered"}
SIGNED = {"integrated_gradients", "occlusion"}  # maps with both signs: drawn on a diverging scale
CONV1D_BLOCKS = {"conv1d", "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "batch_norm1d"}


@dataclass
class Explanation:
    """One method's maps for a batch of samples, and what the model said about each."""

    method: str
    node: Optional[str]  # Grad-CAM's layer, or the embedding node token ids were attributed at
    maps: np.ndarray  # float32 [N, H, W] for images, [N, T] for sequences
    predicted: list[int]
    probability: list[float]  # of the predicted class (a non-classifier: the output's value)
    target: list[int]  # the class each map explains
    target_probability: list[float]
    samples: Samples
    captions: list[str]
    layout: str = "image"  # image | signal | sequence | tokens | vector: how the input is drawn
    classifier: bool = True  # False: "probabilities" are the raw outputs

    @property
    def signed(self) -> bool:
        return self.method in SIGNED


# ------------------------------------------------------------------------ what the input is
def input_layout(subject: Subject) -> str:
    """``image`` ``[C, H, W]``, ``signal`` ``[C, L]`` (read by 1-D convolutions),
    ``sequence`` ``[T, F]``, ``vector`` ``[F]`` or ``tokens`` (int64 ids ``[T]``)."""
    port = subject.trained.inputs[0]
    shape = tuple(port.shape)
    if port.dtype != "float32":
        if len(shape) == 1:
            return "tokens"
        raise InspectError(f"input {port.name!r} is {port.dtype} {list(shape)}; explain reads float inputs "
                           "or token ids [T]")
    if len(shape) == 3:
        return "image"
    if len(shape) == 2:
        readers = {subject.block_of(n) for n, info in subject.analysis.nodes.items()
                   if any(ref.node == port.name for refs in info.inputs.values() for ref in refs)}
        return "signal" if readers & CONV1D_BLOCKS else "sequence"
    if len(shape) == 1:
        return "vector"
    raise InspectError(f"input {port.name!r} is {list(shape)}; explain draws maps of images [C, H, W], "
                       "signals [C, L], sequences [T, F], feature vectors [F] and token ids [T]")


def _spatial(shape: tuple[int, ...], layout: str) -> bool:
    rank = 3 if layout == "image" else 2
    return len(shape) == rank and int(np.prod(shape[1:])) > 1


def spatial_nodes(subject: Subject) -> list[str]:
    """Nodes whose output keeps the input's spatial axes (``[C, H, W]``, or ``[C, L]``)."""
    layout = input_layout(subject)
    if layout not in ("image", "signal"):
        return []
    return [n for n in subject.node_ids() if subject.ports(n) and _spatial(subject.output_shape(n), layout)]


def default_gradcam_node(subject: Subject) -> str:
    """The last node with a spatial output before the head: the finest map of the most
    abstract features (Selvaraju et al. take the last convolutional layer)."""
    _require_spatial_input(subject)
    nodes = spatial_nodes(subject)
    if not nodes:
        raise InspectError(f"the graph {subject.trained.graph.name!r} has no node with spatial axes [C, H, W] "
                           "to take Grad-CAM at", "use saliency, integrated_gradients or occlusion")
    return nodes[-1]


def _require_spatial_input(subject: Subject) -> None:
    layout = input_layout(subject)
    if layout not in ("image", "signal"):
        port = subject.trained.inputs[0]
        what = "token ids" if layout == "tokens" else f"a {layout}"
        raise InspectError(f"Grad-CAM needs an image input [C, H, W] (or a signal [C, L]); the input "
                           f"{port.name!r} is {what} {list(port.shape)} ({port.dtype})",
                           "for sequences use saliency, smoothgrad, integrated_gradients or occlusion")


def _gradcam_node(subject: Subject, node: Optional[str]) -> str:
    if node is None:
        return default_gradcam_node(subject)
    _require_spatial_input(subject)
    subject.check_node(node)
    shape = subject.output_shape(node)
    if not _spatial(shape, input_layout(subject)):
        axes = "[C, H, W]" if input_layout(subject) == "image" else "[C, L]"
        candidates = spatial_nodes(subject)
        raise InspectError(f"Grad-CAM needs a node with spatial axes {axes}; node {node!r} "
                           f"({subject.block_of(node)}) outputs {list(shape)}, which has none",
                           f"pick one of: {', '.join(candidates[-12:])} (default: {candidates[-1]})"
                           if candidates else "use saliency, integrated_gradients or occlusion")
    return node


def _embedding_node(subject: Subject, node: Optional[str]) -> str:
    """Where token ids are attributed: ``node``, or the first embedding that reads the input."""
    port = subject.trained.inputs[0]
    if node is not None:
        subject.check_node(node)
        shape = subject.output_shape(node)
        if len(shape) != 2 or shape[0] != port.shape[0]:
            raise InspectError(f"node {node!r} outputs {list(shape)}, not one vector per token "
                               f"[{port.shape[0]}, E]; token ids are attributed at such a node",
                               "leave --node out to use the embedding after the input")
        return node
    for n in subject.node_ids():
        info = subject.analysis.nodes[n]
        if subject.block_of(n) == "embedding" and any(r.node == port.name for refs in info.inputs.values()
                                                        for r in refs):
            return n
    raise InspectError(f"token ids cannot be differentiated, and no embedding node reads the input {port.name!r}",
                       "attributions of token inputs are taken at an embedding node's output")


# ---------------------------------------------------------------------------- explaining
def _attributed(subject: Subject, samples: Samples, method: str, node: Optional[str]
                ) -> tuple[attributions.Attributed, Optional[str], str]:
    layout = input_layout(subject)
    model = subject.model
    if layout != "tokens":
        if node is not None and method != "gradcam":
            raise InspectError(f"--node {node}: {method} attributes to the input itself; --node picks "
                               "Grad-CAM's layer (or, for token ids, the embedding node)")
        return (attributions.Attributed(lambda x: subject.forward([x]), samples.inputs[0], layout, model=model),
                None, layout)
    embedding = _embedding_node(subject, node)
    module = subject.module(embedding)

    def score(embedded: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        # the embedding's output replaced by the tensor being attributed
        handle = module.register_forward_hook(lambda _m, _args, _out: embedded)
        try:
            return subject.forward([tokens])
        finally:
            handle.remove()

    tokens = samples.inputs[0]
    with torch.no_grad():
        embedded = subject.value([tokens], embedding).detach()
    return attributions.Attributed(score, embedded, "sequence", (tokens,), model), embedding, "tokens"


def _target_index(subject: Subject, target: int | str | None) -> Optional[int]:
    """The class (output value) to explain, checked; None: each sample's predicted class.
    InspectError for an output that is not one score vector per sample, or a model that is
    not a classifier when no target says which of its outputs to explain."""
    port = subject.trained.outputs[0]
    if len(port.shape) != 1:
        raise InspectError(f"explain needs one score per class for each sample; the output {port.name!r} of "
                           f"{subject.trained.graph.name!r} is {list(port.shape)}",
                           "explain a classifier (or a model with one output vector)")
    classes = port.shape[0]
    chosen = None if target is None else _class_index(subject, target, classes)
    if chosen is None and not subject.is_classifier:
        if classes > 1:
            raise InspectError(f"the model is not a classifier (its data is {subject.trained.data.get('kind')}), "
                               f"so there is no predicted class; its output {port.name!r} has {classes} values",
                               f"say which output value to explain: --target INDEX (0 to {classes - 1})")
        chosen = 0
    return chosen


def _summary(subject: Subject, out: torch.Tensor, chosen: Optional[int]
             ) -> tuple[list[int], list[float], list[int], list[float]]:
    """Predicted class and probability, and the target and its probability, per sample
    (a non-classifier: its raw outputs in place of probabilities)."""
    out = out.float()
    if subject.is_classifier:
        probs = torch.softmax(out, dim=-1)
        predicted = probs.argmax(dim=-1)
    else:
        probs = out
        predicted = torch.full((len(out),), chosen or 0, dtype=torch.long)
    targets = predicted if chosen is None else torch.full_like(predicted, chosen)
    rows = torch.arange(len(out))
    return (predicted.tolist(), probs[rows, predicted].tolist(), targets.tolist(), probs[rows, targets].tolist())


def _class_index(subject: Subject, target: int | str, classes: int) -> int:
    names = subject.class_names or []
    if isinstance(target, str) and target in names:
        return names.index(target)
    try:
        index = int(target)
    except (TypeError, ValueError):
        from builder.data.errors import did_you_mean

        raise InspectError(f"--target {target!r}: no such class{did_you_mean(str(target), names)}",
                           f"classes: {', '.join(map(str, names[:20]))}" if names else
                           f"give a class index, 0 to {classes - 1}") from None
    if not 0 <= index < classes:
        raise InspectError(f"--target {index}: the model scores {classes} classes (0 to {classes - 1})")
    return index


def check_method(method: str) -> str:
    if method in METHODS:
        return method
    from builder.data.errors import did_you_mean

    raise InspectError(f"unknown method {method!r}{did_you_mean(str(method), METHODS)}",
                       f"methods: {', '.join(METHODS)}")


def explain(subject: Subject, samples: Samples, method: str, *, target: int | str | None = None,
            node: Optional[str] = None) -> Explanation:
    """``method``'s map for each sample: of class ``target`` (default: the predicted one), at
    ``node`` (Grad-CAM's layer; default the last spatial one). InspectError when it can't."""
    check_method(method)
    if len(subject.trained.inputs) != 1:
        names = ", ".join(repr(p.name) for p in subject.trained.inputs)
        raise InspectError(f"explain attributes to one input; {subject.trained.graph.name!r} has "
                           f"{len(subject.trained.inputs)} ({names})")
    layer = _gradcam_node(subject, node) if method == "gradcam" else None
    try:
        import captum.attr  # noqa: F401 - checked before any work
    except ImportError:
        raise InspectError("explain needs the Python package 'captum', which is not installed",
                           'pip install "modelbuilder[explain]"') from None
    chosen = _target_index(subject, target)
    attributed, at_node, layout = _attributed(subject, samples, method, None if layer else node)
    subject.model.eval()
    if method in ("saliency", "gradcam"):  # one forward: the predictions come from it
        picker = attributions.OneForward(attributed.score, chosen)
        attributed.score = picker
        if method == "gradcam":
            maps = attributions.gradcam(attributed, None, subject.module(layer))
        else:
            maps = attributions.saliency(attributed, None)
        out = picker.outputs
    else:
        with torch.no_grad():
            out = subject.forward(samples.inputs)
        maps = getattr(attributions, method)(attributed, _summary(subject, out, chosen)[2])
    predicted, probability, targets, target_probability = _summary(subject, out, chosen)
    return Explanation(method, layer or at_node, maps.detach().float().numpy().astype(np.float32),
                       predicted, probability, targets, target_probability, samples, list(samples.captions),
                       layout, subject.is_classifier)


# ----------------------------------------------------------------------------- drawing
def figure_size(explanation: Explanation) -> tuple[float, float]:
    """Inches of one sample's figure: three panels for an image, two rows for a sequence."""
    return (12.0, 4.2) if explanation.layout == "image" else (11.0, 5.0)


def _headline(subject: Subject, e: Explanation, i: int) -> str:
    caption = e.captions[i] if i < len(e.captions) else f"sample {i}"
    if not e.classifier:
        return f"{caption}: output[{e.target[i]}] = {e.target_probability[i]:.4g}"
    text = (f"{caption}: predicted {subject.class_name(e.predicted[i])} ({e.probability[i]:.1%}), "
            f"explaining {subject.class_name(e.target[i])} ({e.target_probability[i]:.1%})")
    labels = e.samples.labels
    if labels is not None and labels.dim() == 1 and i < len(labels):
        text += f", true {subject.class_name(int(labels[i]))}"
    return text


def _method_title(e: Explanation) -> str:
    title = TITLES[e.method]
    return f"{title} at {e.node}" if e.node else title


def _scale(e: Explanation, values: np.ndarray) -> dict:
    if e.signed:
        bound = float(np.abs(values).max()) or 1.0
        return {"cmap": "RdBu_r", "vmin": -bound, "vmax": bound}
    return {"cmap": "inferno", "vmin": 0.0, "vmax": float(values.max()) or 1.0}


def draw_explanation(fig, subject: Subject, explanation: Explanation, index: int = 0) -> None:
    """Draw sample ``index`` into ``fig`` (cleared first): for an image the input, the map
    with its colour bar and the map over the input; for a sequence the input over its steps
    and the map as bars coloured on the same scale."""
    e = explanation
    fig.clear()
    values = e.maps[index]
    scale = _scale(e, values)
    fig.suptitle(_headline(subject, e, index), fontsize=12)
    sample = e.samples.inputs[0][index]
    if e.layout == "image":
        picture = as_picture(sample, subject.normalization)
        grey = {"cmap": "gray"} if picture.ndim == 2 else {}
        shown, heat, overlay = fig.subplots(1, 3)
        shown.imshow(picture, **grey)
        shown.set_title("input", fontsize=11)
        image = heat.imshow(values, interpolation="nearest", **scale)
        heat.set_title(_method_title(e), fontsize=11)
        fig.colorbar(image, ax=heat, fraction=0.046, pad=0.04).set_label(UNITS[e.method], fontsize=9)
        overlay.imshow(picture, **grey)
        # opaque where the map is strong, clear where it is near zero: the input stays visible
        strength = np.abs(values) / (np.abs(values).max() or 1.0)
        overlay.imshow(values, alpha=0.8 * np.clip(strength, 0.0, 1.0), interpolation="nearest", **scale)
        overlay.set_title("map over the input", fontsize=11)
        for axes in (shown, heat, overlay):
            axes.set_xticks([])
            axes.set_yticks([])
        fig.subplots_adjust(left=0.02, right=0.98, top=0.84, bottom=0.04, wspace=0.45)
        return
    _draw_sequence(fig, subject, e, sample, values, scale)


def _draw_sequence(fig, subject: Subject, e: Explanation, sample: torch.Tensor, values: np.ndarray,
                   scale: dict) -> None:
    import matplotlib as mpl

    shown, bars = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 2]})
    steps = np.arange(len(values))
    x = sample.detach().float().cpu()
    if e.layout == "tokens":
        shown.imshow(x.numpy()[None, :], aspect="auto", cmap="tab20", interpolation="nearest",
                     extent=(-0.5, len(values) - 0.5, 0, 1))
        shown.set_yticks([])
        if len(values) <= 60:
            for step, token in enumerate(x.long().tolist()):
                shown.text(step, 0.5, str(token), ha="center", va="center", fontsize=7)
        shown.set_title("input (token ids)", fontsize=11)
    elif x.dim() == 2:
        features = x if e.layout == "signal" else x.T  # drawn as features x steps
        shown.imshow(features.numpy(), aspect="auto", cmap="gray", interpolation="nearest",
                     extent=(-0.5, len(values) - 0.5, features.shape[0] - 0.5, -0.5))
        shown.set_ylabel("channel" if e.layout == "signal" else "feature")
        shown.set_title("input", fontsize=11)
    else:
        shown.bar(steps, x.numpy(), color="grey")
        shown.set_title("input (features)", fontsize=11)
    norm = mpl.colors.Normalize(scale["vmin"], scale["vmax"])
    colours = mpl.colormaps[scale["cmap"]](norm(values))
    bars.bar(steps, values, color=colours, edgecolor="black", linewidth=0.3)
    bars.axhline(0.0, color="black", linewidth=0.5)
    bars.set_title(_method_title(e), fontsize=11)
    bars.set_xlabel("feature" if e.layout == "vector" else ("token" if e.layout == "tokens" else "time step"))
    bars.set_ylabel(UNITS[e.method], fontsize=9)
    fig.subplots_adjust(left=0.08, right=0.9, top=0.86, bottom=0.1, hspace=0.35)
    box = bars.get_position()  # the colour bar beside the bars, after the layout is fixed
    legend = fig.add_axes((box.x1 + 0.015, box.y0, 0.012, box.height))
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=scale["cmap"]), cax=legend)


# ----------------------------------------------------------------------------- writing
def file_stem(caption: str, index: int) -> str:
    """A file name part for a sample: ``val #12`` -> ``val-12``, ``digit.png`` -> ``digit``,
    ``batch.npy #3`` -> ``batch-3``."""
    base, _, number = caption.partition(" #")
    if "." in base:
        base = Path(base).stem
    stem = f"{base}-{number}" if number else base
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._")
    return stem or f"sample-{index}"


def write_explanation(subject: Subject, explanation: Explanation, out_dir: Path) -> list[Path]:
    """One PNG (the drawing) and one .npy (the raw map: ``[H, W]``, or ``[T]`` for a sequence)
    per sample in ``out_dir``, named ``<sample>_<method>``; returns the paths written."""
    out_dir = output_folder(out_dir)
    written: list[Path] = []
    used: set[str] = set()
    for i in range(len(explanation.maps)):
        stem = file_stem(explanation.captions[i] if i < len(explanation.captions) else "", i)
        if stem in used:
            stem = f"{stem}-{i}"
        used.add(stem)
        name = f"{stem}_{explanation.method}"
        fig = new_figure(*figure_size(explanation))
        draw_explanation(fig, subject, explanation, i)
        try:
            written.append(save_figure(fig, out_dir / f"{name}.png"))
            written.append(save_array(explanation.maps[i], out_dir / f"{name}.npy"))
        except OSError as err:
            raise InspectError(f"{out_dir / name}: cannot write it ({err.strerror or err})",
                               "give another --out folder") from None
    return written
