"""What makes a graph a decoder that can generate, inferred from the graph and the run's
vocabulary (docs/sequences.md, "The decoding contract").

A decoder graph
  1. has one output, a score for every vocabulary entry at every step: ``[T, V]``;
  2. has as its last input the tokens so far, int64 ``[T]`` with the same ``T``: the
     teacher-forced decoder input, where step ``t`` holds the token before target ``t``
     (``<start>`` at step 0 for a conditional decoder, the text itself for a language model);
  3. reads that input with an ``embedding`` of ``V`` entries: the tokens it reads are the
     tokens it scores, so what it generates can be fed back in.
Every other input conditions the decoder (a source sequence, an image). With none, the
graph is a language model, continued from a prompt; with some, the vocabulary must name a
``<start>`` token. That the output at step ``t`` ignores later decoder inputs (causality)
is checked on the model itself when generation starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from builder.analysis_types import Analysis
from builder.generation.errors import GenerationError
from builder.generation.vocabulary import START, Vocabulary

ATTENTION_BLOCKS = ("multi_head_attention",)


@dataclass(frozen=True)
class Port:
    """One graph input: node id, per-sample shape, dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class DecoderContract:
    """How to drive one decoder graph: its inputs (forward order), which of them is the
    decoder input, its length ``steps``, the vocabulary, and the attention nodes."""

    graph: str
    inputs: tuple[Port, ...]
    decoder: int
    steps: int
    vocabulary: Vocabulary
    attention: tuple[str, ...] = ()

    @property
    def decoder_port(self) -> Port:
        return self.inputs[self.decoder]

    @property
    def conditions(self) -> list[tuple[int, Port]]:
        """The other inputs, with their positions among the forward arguments."""
        return [(i, p) for i, p in enumerate(self.inputs) if i != self.decoder]

    @property
    def language_model(self) -> bool:
        return not self.conditions

    def first_tokens(self, prompt: Sequence[int]) -> list[int]:
        """The decoder input's first steps: ``<start>`` and the prompt (a conditional
        decoder), or the prompt alone (a language model)."""
        if self.language_model:
            return list(prompt)
        return [self.vocabulary.start, *prompt]

    @property
    def prompt_steps(self) -> int:
        """Teacher-forced steps that free-running evaluation gives before the model takes
        over: the start token, or half the window of a language model."""
        return max(1, self.steps // 2) if self.language_model else 1


def _not_decoder(graph: str, why: str, hint: str | None = None) -> GenerationError:
    return GenerationError(
        f"{graph} is not a decoder graph: {why}",
        hint or "generate works with graphs that read the tokens generated so far and score the next one at "
                "every step (seq2seq, captioners, language models); docs/sequences.md describes the contract")


def decoder_contract(analysis: Analysis, class_names: Sequence[str] | None) -> DecoderContract:
    """The decoding contract of a checked graph with the run's class names (its vocabulary);
    GenerationError saying which rule the graph breaks."""
    name = repr(analysis.graph.name or "the graph")
    if not analysis.ok:
        raise GenerationError(f"{name} has errors; run `modelbuilder check` on it")
    outputs = analysis.output_ids
    if len(outputs) != 1:
        raise _not_decoder(name, f"it has {len(outputs)} outputs; a decoder has one, the next-token scores")
    out_shape = tuple(analysis.nodes[outputs[0]].shape or ())
    if len(out_shape) != 2:
        raise _not_decoder(name, f"its output {outputs[0]!r} is [{', '.join(map(str, out_shape))}]; a decoder "
                                 "scores every vocabulary entry at every step, [T, V]")
    steps, size = out_shape
    inputs = tuple(Port(i, tuple(int(d) for d in analysis.nodes[i].shape), analysis.nodes[i].dtype)
                   for i in analysis.input_ids)
    if not inputs:
        raise _not_decoder(name, "it has no input")
    last = inputs[-1]
    if last.dtype != "int64" or last.shape != (steps,):
        raise _not_decoder(name, f"its last input {last.name!r} is [{', '.join(map(str, last.shape))}] {last.dtype}; "
                                 f"a decoder's last input holds the tokens so far, int64 [{steps}] (as many steps "
                                 "as the output)")
    readers = [n for n, info in analysis.nodes.items() if info.block is not None and info.block.name == "embedding"
               and any(ref.node == last.name for refs in info.inputs.values() for ref in refs)]
    if not any(analysis.nodes[n].params.num_embeddings == size for n in readers):
        found = ", ".join(f"{n!r} ({analysis.nodes[n].params.num_embeddings})" for n in readers)
        raise _not_decoder(name, f"its last input {last.name!r} is not read by an embedding of the {size} tokens "
                                 f"the output scores" + (f" (it feeds {found})" if found else ""),
                           "a decoder reads back the tokens it generates: embed its last input with "
                           f"num_embeddings: {size}")
    vocabulary = Vocabulary.from_names(class_names, size)
    if len(inputs) > 1 and vocabulary.start is None:
        raise _not_decoder(name, f"the run's vocabulary has no {START} token to begin the decoder input",
                           f"train it on data whose decoder input starts with a class named {START} "
                           "(reverse, captions)")
    attention = tuple(n for n in analysis.order if analysis.nodes[n].block is not None
                      and analysis.nodes[n].block.name in ATTENTION_BLOCKS)
    return DecoderContract(analysis.graph.name or "graph", inputs, len(inputs) - 1, steps, vocabulary, attention)


def find_contract(analysis: Analysis, class_names: Sequence[str] | None) -> DecoderContract | None:
    """The contract, or None for a graph that is no decoder (training asks this quietly)."""
    try:
        return decoder_contract(analysis, class_names)
    except GenerationError:
        return None
