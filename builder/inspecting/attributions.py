"""The attribution methods on Captum: which part of one input made the model give a score.

Each method gets an :class:`Attributed` (a score function, the tensor attributed and how to
fold its per-element values into one map per sample) and returns the maps as a tensor
``[N, *map_shape]``. Choosing the tensor, the target and the layer, and refusing what cannot
be explained, is :mod:`builder.inspecting.explain`'s job.

Baselines (integrated gradients, occlusion) are zero *in the normalized space the model
sees*: the training data's mean. That is a "nothing special here" input for a standardized
model, where a black image is not (after normalization it is a strongly negative, unusual
input, and covering a digit with black adds ink-like contrast on a dark border).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# Elements of one forward batch that the batched methods (smoothgrad, integrated gradients,
# occlusion) put together: ResNet-18 at 224x224 gets ~28 copies per forward, LeNet-5 all of
# its windows in one.
BATCH_ELEMENTS = 2 ** 22
SMOOTHGRAD_SAMPLES = 20
SMOOTHGRAD_NOISE = 0.15  # noise std as a share of the input's value range (Smilkov et al. 2017: 10-20%)
IG_STEPS = 32  # Gauss-Legendre points: the completeness error is already small at 32
OCCLUSION_SHARE = 5  # the occluding window is about 1/5 of the side


@dataclass
class Attributed:
    """What the methods explain: ``score(x, *extra)`` gives ``[N, K]`` scores, ``x`` is the
    tensor attributed (the model input, or an embedding node's output for token ids), and
    ``layout`` says how its axes fold into a map: ``image`` ``[C, H, W] -> [H, W]``,
    ``signal`` ``[C, L] -> [L]``, ``sequence`` ``[T, F] -> [T]``, ``vector`` ``[F] -> [F]``."""

    score: Callable[..., torch.Tensor]
    x: torch.Tensor
    layout: str
    extra: tuple = ()
    model: torch.nn.Module | None = None  # frozen (no weight gradients) while attributing

    @property
    def map_shape(self) -> tuple[int, ...]:
        shape = tuple(self.x.shape[1:])
        return {"image": shape[1:], "signal": shape[1:], "sequence": shape[:1]}.get(self.layout, shape)

    def probability_score(self) -> Callable[..., torch.Tensor]:
        """Softmax of the scores: occlusion's differences then read as probability lost."""
        return lambda *args: torch.softmax(self.score(*args), dim=-1)


class OneForward:
    """The score of the class to explain, one number per sample, for the methods that need
    just one forward of the unperturbed input (saliency, Grad-CAM): the model's outputs of
    that forward are kept, so the predicted class and the probabilities cost no forward of
    their own. ``target`` None: each sample's highest-scoring class (argmax has no
    gradient, so the map is that of the logit of the predicted class)."""

    def __init__(self, score: Callable[..., torch.Tensor], target: int | None):
        self.score = score
        self.target = target
        self.outputs: torch.Tensor | None = None

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        out = self.score(*args)
        if self.outputs is None:
            self.outputs = out.detach()
        if self.target is None:
            index = out.detach().argmax(dim=-1)
        else:
            index = torch.full((len(out),), self.target, dtype=torch.long, device=out.device)
        return out.gather(-1, index[:, None])[:, 0]


def fold(values: torch.Tensor, layout: str, how: str) -> torch.Tensor:
    """Per-element attributions ``[N, *shape]`` to one map per sample. ``magnitude``: the
    largest |value| over an image's channels (as Simonyan et al. fold gradients), the sum of
    |value| over a step's features (every feature of a token's vector counts); ``sum``:
    signed, so that integrated gradients keep adding up to the score difference."""
    if layout == "vector":
        return values.abs() if how == "magnitude" else values
    axis = 2 if layout == "sequence" else 1  # the feature axis of [T, F]; the channels otherwise
    if how == "magnitude":
        return values.abs().sum(dim=axis) if layout == "sequence" else values.abs().amax(dim=axis)
    return values.sum(dim=axis)


@contextmanager
def quiet_attribution(model: torch.nn.Module | None) -> Iterator[None]:
    """No weight gradients (only those towards the input are wanted: half a backward saved),
    the weights' flags restored after, and Captum's and autograd's advice kept off the
    user's screen (e.g. "Input Tensor 0 did not already require gradients")."""
    flags = [(p, p.requires_grad) for p in model.parameters()] if model is not None else []
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            with torch.enable_grad():
                yield
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)


def _copies(x: torch.Tensor, wanted: int) -> int:
    """How many copies of the batch ``x`` fit one forward within BATCH_ELEMENTS."""
    return max(1, min(wanted, BATCH_ELEMENTS // max(1, x.numel())))


def saliency(a: Attributed, target: list[int] | None) -> torch.Tensor:
    """|d score / d input| (Simonyan, Vedaldi, Zisserman 2014): one forward, one backward."""
    from captum.attr import Saliency

    with quiet_attribution(a.model):
        grads = Saliency(a.score).attribute(a.x.detach().clone(), target=target, abs=True,
                                            additional_forward_args=a.extra or None)
    return fold(grads, a.layout, "magnitude")


def smoothgrad(a: Attributed, target: list[int]) -> torch.Tensor:
    """Saliency averaged over noisy copies of the input (Smilkov et al. 2017): the speckle
    of single gradients averages out, the structure the model uses stays."""
    from captum.attr import NoiseTunnel, Saliency

    x = a.x.detach().clone()
    spread = float(x.max() - x.min()) or 1.0
    with quiet_attribution(a.model):
        grads = NoiseTunnel(Saliency(a.score)).attribute(
            x, nt_type="smoothgrad", nt_samples=SMOOTHGRAD_SAMPLES,
            nt_samples_batch_size=_copies(x, SMOOTHGRAD_SAMPLES), stdevs=SMOOTHGRAD_NOISE * spread,
            target=target, abs=True, additional_forward_args=a.extra or None)
    return fold(grads, a.layout, "magnitude")


def integrated_gradients(a: Attributed, target: list[int]) -> torch.Tensor:
    """Gradients averaged along the straight path from the baseline (zero: the data mean)
    to the input, times (input - baseline) (Sundararajan et al. 2017). Signed; the map sums
    to about the score's change from the baseline to the input."""
    from captum.attr import IntegratedGradients

    x = a.x.detach().clone()
    with quiet_attribution(a.model):
        values = IntegratedGradients(a.score).attribute(
            x, baselines=torch.zeros_like(x), target=target, additional_forward_args=a.extra or None,
            n_steps=IG_STEPS, internal_batch_size=len(x) * _copies(x, IG_STEPS))
    return fold(values, a.layout, "sum")


def gradcam(a: Attributed, target: list[int] | None, layer: torch.nn.Module) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017) at ``layer``: its channels weighted by their mean
    gradient, summed, ReLU; upsampled (bilinear) from the layer's grid to the input's."""
    from captum.attr import LayerAttribution, LayerGradCam

    x = a.x.detach().clone().requires_grad_()  # the weights are frozen: the path needs a leaf
    with quiet_attribution(a.model):
        cam = LayerGradCam(a.score, layer).attribute(x, target=target, additional_forward_args=a.extra or None,
                                                    relu_attributions=True)
    if isinstance(cam, tuple):  # a block with several output ports: its first
        cam = cam[0]
    cam = cam.detach()
    if a.layout == "image":
        return LayerAttribution.interpolate(cam, tuple(a.map_shape), interpolate_mode="bilinear")[:, 0]
    return F.interpolate(cam, size=a.map_shape, mode="linear")[:, 0]


def occlusion_window(side: int) -> tuple[int, int]:
    """(window, stride) along an axis of ``side`` elements: a window of about 1/5 of the side
    (an object part, not a pixel), moved by half of itself, so each element is covered by
    2 windows per axis (a third would smooth a little more at 2.25 times the forwards)."""
    stride = max(1, round(side / OCCLUSION_SHARE / 2))
    return min(side, 2 * stride), stride


def occlusion(a: Attributed, target: list[int]) -> torch.Tensor:
    """How much the target's probability drops when a window of the input is replaced by
    the baseline (Zeiler and Fergus 2014), averaged over the windows covering each element.
    Batched: many windows go through the model in one forward.

    Images and signals: windows span every channel; the input is padded (with the baseline)
    so that windows also hang over the edges, and every element is covered by equally many
    windows: without that, a corner pixel's value is one window's drop, not an average, and
    an object near the border wins the map's peak by that alone."""
    from captum.attr import Occlusion

    x = a.x.detach().clone()
    score = a.probability_score()
    if a.layout == "sequence":  # one step (all its features) at a time
        window, strides, padded, crop = (1, x.shape[2]), (1, x.shape[2]), x, (slice(None),) * 3
    elif a.layout == "vector":  # one feature at a time
        window, strides, padded, crop = (1,), (1,), x, (slice(None),) * 2
    else:
        sized = [occlusion_window(side) for side in x.shape[2:]]
        window = (x.shape[1], *(w for w, _ in sized))
        strides = (x.shape[1], *(s for _, s in sized))
        # before: w - s, so the first element is covered by w/s windows like the rest; after:
        # as much again, rounded up so that the windows tile the padded axis exactly
        pads = [(w - s, w - s + (-side) % s) for side, (w, s) in zip(x.shape[2:], sized)]
        padded = F.pad(x, [p for pair in reversed(pads) for p in pair], value=0.0)
        crop = (slice(None), slice(None), *(slice(b, b + side) for (b, _), side in zip(pads, x.shape[2:])))
        inner = score
        score = lambda big, *extra: inner(big[crop], *extra)  # noqa: E731 - the model sees the input size
    count = 1
    for side, w, s in zip(padded.shape[1:], window, strides):
        count *= (side - w) // s + 1
    with quiet_attribution(a.model), torch.no_grad():
        values = Occlusion(score).attribute(
            padded, sliding_window_shapes=window, strides=strides, baselines=0.0, target=target,
            additional_forward_args=a.extra or None, perturbations_per_eval=_copies(padded, count))
    values = torch.nan_to_num(values[crop])  # an element no window covered: cannot happen with these windows
    if a.layout in ("image", "signal"):
        return values[:, 0]  # the window spans every channel: each holds the same value
    return values[..., 0] if a.layout == "sequence" else values
