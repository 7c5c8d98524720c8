"""What every view shares: the View base class (raw arrays, a figure, summary lines, a file
stem), writing a view as PNG + .npy, and small questions about nodes that several views ask
(which block, which axis holds the channels, which token ids a sequence came from).
"""

from __future__ import annotations

import re
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator, Optional, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from builder.analysis import INPUT_BLOCK, OUTPUT_BLOCK
from builder.inspecting.errors import InspectError
from builder.inspecting.figures import new_figure, output_folder, save_array, save_figure
from builder.inspecting.subject import Samples, Subject

SMALL_MODEL_MACS = 50_000_000  # per sample; below this one thread is faster than several
MAX_TICK_LABELS = 40  # tokens written along an axis; longer sequences get plain positions

# blocks whose [T, F] outputs put time first and features last (everything else is
# channels-first: [C, H, W], [C, L]); downstream nodes inherit the layout of their input
SEQUENCE_BLOCKS = {"embedding", "rnn", "lstm", "gru", "multi_head_attention", "transformer_encoder_layer",
                   "positional_encoding"}

BLOCK_WORDS = {
    "conv1d": "a 1-D convolution", "conv2d": "a convolution", "conv_transpose2d": "a transposed convolution",
    "linear": "a linear layer", "embedding": "an embedding", "lstm": "an LSTM", "gru": "a GRU",
    "rnn": "a vanilla RNN", "multi_head_attention": "a multi-head attention block",
    "transformer_encoder_layer": "a transformer encoder layer", "flatten": "a flatten",
    "residual": "a residual block", "inception": "an inception block", "concat": "a concatenation",
    "add": "an addition", "dropout": "a dropout", "global_avg_pool": "a global average pooling",
}


def describe_block(subject: Subject, node: str) -> str:
    """``a linear layer``, ``an LSTM``, ``a max_pool2d block``: for sentences naming a node."""
    block = subject.block_of(node)
    return BLOCK_WORDS.get(block, f"{'an' if block[:1] in 'aeiou' else 'a'} {block} block")


@dataclass
class View:
    """A computed view: ``arrays()`` holds its raw numbers, ``draw(fig)`` renders it into a
    matplotlib Figure (the app's Qt canvas or the CLI's PNG), ``summary()`` says in words
    what a student should read off it. Subclasses set ``kind`` and fill these in."""

    kind: ClassVar[str] = "view"
    node: str

    def arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def draw(self, fig: Figure) -> None:
        raise NotImplementedError

    def summary(self) -> list[str]:
        return []

    @property
    def tag(self) -> str:
        """What distinguishes this view of ``node`` from others (the sample, the unit)."""
        return ""

    @property
    def stem(self) -> str:
        parts = [self.kind, self.node] + ([self.tag] if self.tag else [])
        return "_".join(safe_name(p) for p in parts)

    def figure_size(self) -> tuple[float, float]:
        return (8.0, 6.0)

    def figure(self) -> Figure:
        fig = new_figure(*self.figure_size())
        self.draw(fig)
        return fig


def fresh(fig: Figure, engine: str = "none") -> None:
    """Empty ``fig`` for a new drawing. The app reuses one figure for every view, and views
    lay out differently (``tight_layout`` once, or the ``constrained`` engine), so the
    previous view's layout engine is replaced too."""
    fig.clear()
    fig.set_layout_engine(engine)


def safe_name(text: str) -> str:
    """A file-name-safe piece: ``val #3`` -> ``val3``, ``digit.png`` -> ``digit``."""
    text = re.sub(r"\.(png|jpe?g|bmp|gif|tiff?|webp|npy|npz|csv)$", "", text, flags=re.I)
    return re.sub(r"[^A-Za-z0-9_.-]+", "", text.replace(".", "-")) or "x"


def write(view: View, out_dir: str | Path) -> list[Path]:
    """The view's figure as ``<stem>.png`` and each raw array as ``<stem>_<name>.npy`` in
    ``out_dir`` (created), each written atomically; returns the paths written."""
    out = output_folder(out_dir)
    paths = [save_figure(view.figure(), out / f"{view.stem}.png")]
    for name, array in view.arrays().items():
        paths.append(save_array(np.asarray(array), out / f"{view.stem}_{name}.npy"))
    return paths


# --- questions about nodes ---------------------------------------------------------------------
def split_port(subject: Subject, name: str) -> tuple[str, Optional[str]]:
    """``node`` or ``node.port`` (as in the YAML file's references); InspectError naming the
    node's ports for a port it does not have. An unknown node is left to check_node."""
    if name in subject.analysis.nodes or "." not in name:
        return name, None
    node, port = name.split(".", 1)
    if node in subject.analysis.nodes and port not in subject.ports(node):
        raise InspectError(f"node {node!r} has no output port {port!r}",
                           f"its ports: {', '.join(subject.ports(node)) or 'none'}")
    return node, port


def first_source(subject: Subject, node: str) -> Optional[str]:
    """The node feeding ``node``'s first input port (None for an input node)."""
    info = subject.analysis.nodes[node]
    for refs in info.inputs.values():
        if refs:
            return refs[0].node
    return None


def output_source(subject: Subject, node: str) -> Optional[str]:
    """For an output node: the layer it returns (its first input)."""
    if subject.block_of(node) != OUTPUT_BLOCK:
        return None
    return first_source(subject, node)


def is_sequence_layout(subject: Subject, node: str) -> bool:
    """True when ``node``'s rank-2 output is ``[T, F]`` (time first), False for ``[C, L]``.
    Decided by the block that made it, or inherited along the first input."""
    seen = 0
    while node is not None and seen < 10_000:
        block = subject.block_of(node)
        if block in SEQUENCE_BLOCKS:
            return True
        if block == INPUT_BLOCK:
            info = subject.analysis.nodes[node]
            return info.dtype == "int64"  # token ids; a float [T, F] input stays ambiguous
        node = first_source(subject, node)
        seen += 1
    return False


def channel_axis(subject: Subject, node: str, shape: Sequence[int]) -> int:
    """The per-sample axis that numbers ``node``'s units: features last for sequences."""
    return len(shape) - 1 if len(shape) == 2 and is_sequence_layout(subject, node) else 0


def token_input(subject: Subject, node: str, port: Optional[str] = None) -> Optional[str]:
    """The int64 graph input that a sequence at ``node`` (via ``port``) was embedded from,
    following first inputs upwards; None when it comes from a float input."""
    info = subject.analysis.nodes[node]
    refs = info.inputs.get(port) if port else None
    current = refs[0].node if refs else first_source(subject, node)
    steps = 0
    while current is not None and steps < 10_000:
        if subject.block_of(current) == INPUT_BLOCK:
            return current if subject.analysis.nodes[current].dtype == "int64" else None
        current = first_source(subject, current)
        steps += 1
    return None


def tokens_of(subject: Subject, samples: Samples, index: int, input_node: Optional[str],
              length: int) -> Optional[list[str]]:
    """The token ids of one sample's ``input_node`` as tick labels, when they line up with
    ``length`` positions and are few enough to read."""
    if input_node is None or length > MAX_TICK_LABELS:
        return None
    names = [p.name for p in subject.trained.inputs]
    if input_node not in names:
        return None
    ids = samples.inputs[names.index(input_node)][index]
    if ids.dim() != 1 or len(ids) != length:
        return None
    return [str(int(t)) for t in ids]


def one_sample(samples: Samples, index: int) -> tuple[list[torch.Tensor], str]:
    """The inputs of sample ``index`` as a batch of one, and its caption."""
    if not 0 <= index < len(samples):
        raise InspectError(f"sample index {index} is out of range: {len(samples)} sample(s) given (0 to "
                           f"{len(samples) - 1})")
    caption = samples.captions[index] if samples.captions else f"sample {index}"
    return [x[index:index + 1] for x in samples.inputs], caption


class _Reached(Exception):
    """Raised by a forward hook to stop the forward pass once the wanted node has run."""


def capture_only(subject: Subject, inputs: Sequence[torch.Tensor], node: str, *, grad: bool = False) -> Any:
    """``node``'s output, running the model only as far as that node: the hook that receives
    it stops the forward pass (conv1 of a ResNet-50 costs one layer, not the whole network,
    which matters for the hundreds of passes of gradient ascent)."""
    seen: dict[str, Any] = {}

    def keep(_module, _args, output):
        seen["value"] = output
        raise _Reached

    with ExitStack() as stack:
        stack.callback(subject.module(node).register_forward_hook(keep).remove)
        with torch.set_grad_enabled(grad):
            try:
                subject.forward(inputs)
            except _Reached:
                pass
    if "value" not in seen:  # the node does not feed the output: it never ran
        raise InspectError(f"node {node!r} did not run in the forward pass", "pick a node the output depends on")
    return seen["value"]


def capture_arguments(subject: Subject, inputs: Sequence[torch.Tensor], node: str) -> tuple[tuple, dict, Any]:
    """What ``node``'s module was called with (positional and keyword arguments) and what it
    returned, for one forward pass (the gate and transformer-attention views recompute a
    layer from its input)."""
    module = subject.module(node)
    seen: dict[str, Any] = {}

    def keep(_module, args, kwargs, output):
        seen["args"], seen["kwargs"], seen["output"] = args, kwargs, output

    with ExitStack() as stack:
        stack.callback(module.register_forward_hook(keep, with_kwargs=True).remove)
        with torch.no_grad():
            subject.forward(inputs)
    return seen["args"], seen["kwargs"], seen["output"]


@contextmanager
def one_thread(enabled: bool = True) -> Iterator[None]:
    """Run torch and the BLAS/OpenMP pools (scikit-learn's t-SNE) on one thread meanwhile.

    Many small steps (gradient ascent on LeNet, t-SNE of a few hundred points) gain nothing
    from more threads, and on a busy machine the extra threads spin-wait for cores: measured
    2 s single-threaded against 17 s with two threads for a t-SNE of 359 points while other
    processes kept the 2 cores busy. The thread count is put back afterwards (training runs
    in its own process, so nothing else in this one depends on it meanwhile)."""
    if not enabled:
        yield
        return
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(before)


def is_small(subject: Subject) -> bool:
    """Whether one sample costs so little that one thread computes it fastest."""
    return subject.analysis.total.macs < SMALL_MODEL_MACS
