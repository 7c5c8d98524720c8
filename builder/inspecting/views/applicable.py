"""Which views apply to a node, and in words why the others do not.

Every view calls :func:`require` first, so the sentence a student reads when a view is
refused (CLI error, greyed-out button's tooltip in the app) is the same everywhere.
"""

from __future__ import annotations

import math
from typing import Optional

from builder.analysis import INPUT_BLOCK, OUTPUT_BLOCK
from builder.inspecting.errors import InspectError
from builder.inspecting.subject import Subject
from builder.inspecting.views.base import describe_block, output_source, split_port

VIEWS = ("filters", "activations", "embedding", "maximize", "attention", "gates")

CONV_BLOCKS = ("conv1d", "conv2d", "conv_transpose2d")
ATTENTION_BLOCKS = ("multi_head_attention", "transformer_encoder_layer")
GATED_BLOCKS = ("lstm", "gru")
MAX_EMBEDDED_VALUES = 65_536  # per sample; a 224x224 feature map would need gigabytes for a split

HINTS = {
    "filters": "pick a conv1d, conv2d or conv_transpose2d node",
    "activations": "pick a layer between the graph's input and output",
    "embedding": ("an embedding needs a classifier's run folder (its validation split) and a node of at most "
                  f"{MAX_EMBEDDED_VALUES:,} values per sample, e.g. the layer before the classifier"),
    "maximize": "pick a layer of a model with one float input, or a classifier's output",
    "attention": "pick a multi_head_attention or transformer_encoder_layer node",
    "gates": "pick an lstm or gru node",
}


def _nodes_with(subject: Subject, blocks: tuple[str, ...]) -> str:
    found = [n for n in subject.node_ids() if subject.block_of(n) in blocks]
    return f"this graph has: {', '.join(found[:8])}" if found else "this graph has none"


def _io_reason(subject: Subject, node: str, view: str) -> Optional[str]:
    block = subject.block_of(node)
    if block == INPUT_BLOCK:
        return f"node {node!r} is the graph's input: it computes nothing; {view} are shown for layers"
    if block == OUTPUT_BLOCK:
        return (f"node {node!r} is the graph's output: it returns {output_source(subject, node)!r}; "
                f"look at that node instead")
    return None


def filters_reason(subject: Subject, node: str) -> Optional[str]:
    io = _io_reason(subject, node, "filters")
    if io:
        return io
    block = subject.block_of(node)
    if block in CONV_BLOCKS:
        return None
    if subject.analysis.nodes[node].block.category == "Composite":
        return (f"node {node!r} is {describe_block(subject, node)} holding several convolutions: filters are "
                f"shown for a single convolution node ({_nodes_with(subject, CONV_BLOCKS)})")
    return (f"node {node!r} is {describe_block(subject, node)}: filters are shown for convolutions "
            f"({_nodes_with(subject, CONV_BLOCKS)})")


def activations_reason(subject: Subject, node: str) -> Optional[str]:
    return _io_reason(subject, node, "activations")


def has_validation(subject: Subject) -> bool:
    """Whether the subject can rebuild a validation split: a run folder records its data
    (settings.json); a bundle or a model built in memory does not."""
    root = subject.trained.source
    return root is not None and (root / "settings.json").is_file()


def embedding_reason(subject: Subject, node: str, *, with_samples: bool = False) -> Optional[str]:
    io = _io_reason(subject, node, "embeddings")
    if io:
        return io
    if not subject.is_classifier:
        return (f"node {node!r}: an embedding is coloured by class, but the model is not a classifier "
                f"(one output of class scores per sample)")
    if not with_samples and not has_validation(subject):
        return (f"node {node!r}: an embedding projects the validation split, and this model has none "
                f"(a bundle does not record its data set)")
    size = math.prod(subject.output_shape(node))
    if size > MAX_EMBEDDED_VALUES:
        return (f"node {node!r} has {size:,} values per sample: too many to embed (at most "
                f"{MAX_EMBEDDED_VALUES:,}); pick a later, smaller layer")
    return None


def float_input_reason(subject: Subject, node: str) -> Optional[str]:
    """Gradient ascent changes the input, so it needs exactly one input of real numbers."""
    inputs = subject.trained.inputs
    if len(inputs) != 1:
        return (f"node {node!r}: the model has {len(inputs)} inputs ({', '.join(p.name for p in inputs)}); "
                f"maximizing optimizes one input")
    if inputs[0].dtype != "float32":
        return (f"node {node!r}: the model's input {inputs[0].name!r} holds {inputs[0].dtype} token ids; "
                f"gradient ascent needs an input of real numbers (images, signals)")
    return None


def maximize_reason(subject: Subject, node: str) -> Optional[str]:
    block = subject.block_of(node)
    if block == INPUT_BLOCK:
        return f"node {node!r} is the graph's input: maximize a layer or the output"
    if block == OUTPUT_BLOCK and not subject.is_classifier:
        return (f"node {node!r} is an output but not of class scores: maximize one of its layers "
                f"({output_source(subject, node)!r}) with a unit index instead")
    return float_input_reason(subject, node)


def attention_reason(subject: Subject, node: str) -> Optional[str]:
    io = _io_reason(subject, node, "attention maps")
    if io:
        return io
    if subject.block_of(node) in ATTENTION_BLOCKS:
        return None
    return (f"node {node!r} is {describe_block(subject, node)}: attention maps come from multi_head_attention "
            f"and transformer_encoder_layer nodes ({_nodes_with(subject, ATTENTION_BLOCKS)})")


def gates_reason(subject: Subject, node: str) -> Optional[str]:
    io = _io_reason(subject, node, "gates")
    if io:
        return io
    block = subject.block_of(node)
    if block in GATED_BLOCKS:
        return None
    if block == "rnn":
        return (f"node {node!r} is a vanilla RNN: it has no gates (h_t = tanh(W x_t + U h_t-1 + b)); "
                f"look at its activations instead")
    return (f"node {node!r} is {describe_block(subject, node)}: gate activity is shown for LSTM and GRU "
            f"nodes ({_nodes_with(subject, GATED_BLOCKS)})")


REASONS = {"filters": filters_reason, "activations": activations_reason, "embedding": embedding_reason,
           "maximize": maximize_reason, "attention": attention_reason, "gates": gates_reason}


def known_node(subject: Subject, node: str) -> None:
    """InspectError for a node the graph does not have, with a did-you-mean."""
    if node not in subject.analysis.nodes:
        subject.check_node(node)  # raises, naming close matches and the known nodes


def applicable(subject: Subject, node: str) -> dict[str, Optional[str]]:
    """For each of VIEWS: None when it applies to ``node``, else the sentence saying why not.
    InspectError (with a did-you-mean) for a node the graph does not have. ``node.port``
    is answered for its node (only activations look at a port other than the first)."""
    node, _ = split_port(subject, node)
    known_node(subject, node)
    return {view: REASONS[view](subject, node) for view in VIEWS}


def require(subject: Subject, node: str, view: str, **options) -> None:
    """InspectError with :func:`applicable`'s reason when ``view`` does not apply to ``node``."""
    known_node(subject, node)
    reason = REASONS[view](subject, node, **options)
    if reason:
        raise InspectError(reason, HINTS[view])
