"""Truncated backpropagation through time (the ``tbptt: K`` setting).

Full BPTT sends the gradient from every step's loss back through every earlier step. With
``tbptt: K`` the training forward pass reads each batch of sequences in chunks of ``K``
steps: the recurrent layers start each chunk from the hidden (and cell) state the last
chunk ended with, *detached*, so the values flow on through the whole sequence but the
gradient stops at the chunk's first step: a loss teaches the weights about at most the
last ``K`` inputs, so they cannot learn to keep something longer than that (what the
state carries anyway can still be read; docs/sequences.md has the measurements on the
long-memory task).

Per-step outputs are joined along time, chunks counted from the first step, so a loss at
step ``t`` reaches back to its chunk's start. A sequence summary (``output: last``) is the
last chunk's output, and the chunks are counted back from the last step, so that its one
loss reaches back exactly ``K`` steps. The loss, the optimizer step and
everything else in the step are those of full BPTT, one step per batch. The chunks before
the last are run without a graph when only the last one's output is used. Validation,
export and generation run the whole sequence at once, as ever: carrying the state is what
the full forward does anyway.

The state is carried by hooks on the recurrent layers' ``nn.RNNBase`` modules (one pre-hook
that swaps in the carried state, one hook that keeps the final state), active only inside
a chunked forward.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from builder.analysis import Analysis, analyze
from builder.errors import GraphError, Problem

# blocks that treat every time step on its own (or carry state forward, the recurrent ones),
# so that running them on chunks computes what the whole sequence would
STEPWISE = {"input", "output", "embedding", "linear", "dropout", "layer_norm", "add", "multiply", "rnn", "lstm",
            "gru"}
RECURRENT = {"rnn", "lstm", "gru"}


def _refuse(message: str, node: str | None = None, hint: str | None = None, file: str | None = None) -> GraphError:
    return GraphError([Problem(f"tbptt: {message}", file=file, node=node, hint=hint)])


def check_graph(analysis: Analysis, chunk: int) -> tuple[int, bool]:
    """``(T, per_step)``: the sequence length every input shares and whether the output has
    a step axis; GraphError naming the node for a graph that cannot run in chunks."""
    inputs = analysis.input_ids
    file = analysis.graph.path
    lengths = {n: (analysis.nodes[n].shape or (None,))[0] for n in inputs}
    steps = next(iter(lengths.values()), None)
    if not inputs or any(length != steps for length in lengths.values()):
        raise _refuse("every input must be a sequence of the same length (its first axis is time); found "
                      + ", ".join(f"{n} {list(analysis.nodes[n].shape or ())}" for n in inputs),
                      hint="tbptt applies to recurrent graphs over one sequence", file=file)
    if chunk >= steps:
        raise _refuse(f"chunks of {chunk} steps do not split sequences of {steps}",
                      hint=f"use tbptt below {steps}, or 0 for full backpropagation through time", file=file)
    recurrent = []
    for node in analysis.order:
        info = analysis.nodes[node]
        name = info.block.name if info.block is not None else None
        if name in RECURRENT:
            if info.params.bidirectional:
                raise _refuse("a bidirectional layer reads each sequence backwards too, which chunks cannot carry",
                              node, "use a forward (bidirectional: false) layer, or full BPTT (tbptt: 0)", file)
            recurrent.append(node)
        elif name is not None and name not in STEPWISE and getattr(info.block, "category", "") != "Activation":
            raise _refuse(f"'{name}' mixes time steps, so chunks of the sequence would compute something else "
                          "than the whole sequence", node,
                          "tbptt works with embeddings, recurrent layers, linear layers and activations", file)
    if not recurrent:
        raise _refuse("the graph has no recurrent layer to carry a state from chunk to chunk",
                      hint="remove the tbptt setting", file=file)
    return steps, _per_step(analysis, steps)


def _per_step(analysis: Analysis, steps: int) -> bool:
    """Whether the output has a step axis: one step longer sequences lengthen it."""
    longer = {n: (steps + 1, *analysis.nodes[n].shape[1:]) for n in analysis.input_ids}
    output = analysis.output_ids[0]
    return tuple(analyze(analysis.graph, input_shapes=longer).nodes[output].shape or ()) != \
        tuple(analysis.nodes[output].shape or ())


class StateCarrier:
    """Hooks on every ``nn.RNNBase`` inside ``model`` that, while ``active``, start each
    call from the state the previous call of the same module ended with, detached."""

    def __init__(self, model: nn.Module):
        self.active = False
        self.carried: dict[int, Any] = {}
        self.handles = []
        for module in model.modules():
            if isinstance(module, nn.RNNBase):
                self.handles.append(module.register_forward_pre_hook(self._before))
                self.handles.append(module.register_forward_hook(self._after))

    def _before(self, module: nn.Module, args: tuple) -> tuple | None:
        state = self.carried.get(id(module))
        if not self.active or state is None:
            return None
        return (args[0], state, *args[2:])

    def _after(self, module: nn.Module, args: tuple, output: Any) -> None:
        if not self.active:
            return
        state = output[1]
        self.carried[id(module)] = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []


class TruncatedBPTT(nn.Module):
    """Runs ``net`` (what trains: the model, maybe compiled) on chunks of ``chunk`` steps
    with the recurrent state carried over detached; returns what ``net`` would on the
    whole sequence (per-step outputs joined, or the last chunk's summary)."""

    def __init__(self, net: nn.Module, model: nn.Module, chunk: int, steps: int, per_step: bool):
        super().__init__()
        self.net = net
        self.carrier = StateCarrier(model)
        self.chunk, self.steps, self.per_step = chunk, steps, per_step

    def bounds(self) -> list[tuple[int, int]]:
        """The chunks' ``(start, stop)`` steps: from the first step for per-step outputs (a
        loss at step t reaches back to its chunk's start); for a summary output the last
        chunk is the full ``chunk`` steps (its one loss reaches back exactly that far)."""
        k, steps = self.chunk, self.steps
        if self.per_step:
            return [(start, min(start + k, steps)) for start in range(0, steps, k)]
        return [(max(stop - k, 0), stop) for stop in range(steps, 0, -k)][::-1]

    def forward(self, *xs: torch.Tensor) -> Any:
        if not self.training:
            return self.net(*xs)
        outputs = []
        self.carrier.carried = {}
        self.carrier.active = True
        try:
            bounds = self.bounds()
            for start, stop in bounds:
                last = stop == self.steps
                # a summary output uses the last chunk only: the others just move the state on
                graph = nullcontext() if self.per_step or last else torch.no_grad()
                with graph:
                    outputs.append(self.net(*[x[:, start:stop] for x in xs]))
        finally:
            self.carrier.active = False
            self.carrier.carried = {}
        if not self.per_step:
            return outputs[-1]
        if isinstance(outputs[0], (tuple, list)):
            return type(outputs[0])(torch.cat(parts, dim=1) for parts in zip(*outputs))
        return torch.cat(outputs, dim=1)


def with_tbptt(net: nn.Module, model: nn.Module, analysis: Analysis, chunk: int, world: Any) -> nn.Module:
    """``net`` itself (``chunk`` 0), or ``net`` run in chunks of ``chunk`` steps."""
    if not chunk:
        return net
    if world.enabled:
        raise _refuse("truncated BPTT runs one process: several forward passes before one backward do not "
                      "mix with DistributedDataParallel", hint="train without --nproc, or with tbptt: 0")
    steps, per_step = check_graph(analysis, chunk)
    return TruncatedBPTT(net, model, chunk, steps, per_step)
