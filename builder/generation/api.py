"""Generating sequences with a trained decoder graph: the API the command line and the
app's Generate tab share.

    generator = open_generator("runs/seq2seq_attention-20261203-145503")
    [result] = generator.generate("3 1 4 1 5 9 2 6 5 3 5 8 9 7 9 3 2 3 8 4")
    result.text          # "4 8 3 2 3 9 7 9 8 5 3 5 6 2 9 5 1 4 1 3"
    result.attention     # {"attention": array [heads, generated steps, source steps]}

``input`` is what conditions the decoder: a source text (tokens of the vocabulary), an
image or ``.npy`` file, or ``val:INDEX`` / ``val:A-B`` (samples of the run's validation
split, with the data's own answer as ``reference``). For a language model it is the
prompt. Decoding: ``method`` "greedy", "sample" (with ``temperature`` and ``seed``) or
"beam" (with ``beam`` hypotheses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from builder.analysis import analyze
from builder.data.arrays import InputSpec
from builder.data.errors import DataError
from builder.data.images import IMAGE_SUFFIXES, load_image
from builder.data.normalize import apply_normalization
from builder.exporting.source import TrainedModel, open_trained
from builder.generation import search
from builder.generation.contract import DecoderContract, Port, decoder_contract
from builder.generation.errors import GenerationError
from builder.generation.runner import DecoderRunner

METHODS = ("greedy", "sample", "beam")
LONGEST = 10_000  # tokens a language model may be asked for at once


@dataclass
class Generation:
    """One generated sequence and what it came from."""

    text: str  # the generated tokens as text, up to <end>
    tokens: list[str]  # every generated token's name (<end> included when produced)
    ids: list[int]
    prompt: str  # the decoder's given start (a language model's prompt), as text
    source: str  # what conditioned it: "val #3", "shapes.png", the source text
    log_probability: float  # of the generated tokens, under the model
    reference: str | None = None  # what the data has in place of ``text`` (val: inputs)
    attention: dict[str, np.ndarray] = field(default_factory=dict)  # node -> [heads, generated, keys]
    keys: list[str] | None = None  # the attended positions' tokens, when they are a token input
    full_text: str = ""  # the prompt and the generated text together

    def __post_init__(self) -> None:
        self.full_text = self.full_text or self.text

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "prompt": self.prompt, "text": self.text, "full_text": self.full_text,
                "tokens": self.tokens,
                "ids": self.ids, "log_probability": self.log_probability, "reference": self.reference,
                "attention": {k: v.tolist() for k, v in self.attention.items()}, "keys": self.keys}


@dataclass
class _Case:
    """One sequence to generate: the conditions (a one-sample batch each), the prompt ids,
    a caption, and the reference answer where known."""

    conditions: list[torch.Tensor]
    prompt: list[int]
    source: str
    reference: str | None = None


class Generator:
    """A trained decoder graph opened for generation (CPU, eval mode)."""

    def __init__(self, trained: TrainedModel):
        self.trained = trained
        self.analysis = analyze(trained.graph)
        self.contract: DecoderContract = decoder_contract(self.analysis, trained.class_names)
        self.vocabulary = self.contract.vocabulary
        self._checked = False

    # --- what to generate from --------------------------------------------------------
    def cases(self, input: str | Path | Sequence[int] | None, prompt: str | Sequence[int] | None) -> list[_Case]:
        contract = self.contract
        if isinstance(input, (str, Path)) and str(input).startswith("val:"):
            return self._validation_cases(str(input), prompt)
        if contract.language_model:
            if input is not None and prompt is not None:
                raise GenerationError("a language model takes one prompt: give the input or the prompt, not both")
            text = input if input is not None else prompt
            if text is None or (isinstance(text, (str, Path)) and not str(text)):
                raise GenerationError(f"{contract.graph!r} is a language model: it continues a prompt",
                                      "give the text to continue (--input 'the old man')")
            return [_Case([], self._prompt_ids(str(text) if isinstance(text, Path) else text), "prompt")]
        if input is None:
            raise GenerationError(f"{contract.graph!r} generates from an input: "
                                  + ", ".join(f"{p.name!r} {list(p.shape)} {p.dtype}" for _, p in contract.conditions),
                                  "give --input: a source text, an image or .npy file, or val:INDEX")
        if len(contract.conditions) != 1:
            raise GenerationError(f"{contract.graph!r} has {len(contract.conditions)} conditioning inputs; "
                                  "only val:INDEX can give them all", "use --input val:INDEX")
        _, port = contract.conditions[0]
        condition, source = self._condition(input, port)
        return [_Case([condition], self._prompt_ids(prompt) if prompt is not None else [], source)]

    def _prompt_ids(self, prompt: str | Sequence[int]) -> list[int]:
        ids = self.vocabulary.encode(prompt, "the prompt")
        room = self.contract.steps - (0 if self.contract.language_model else 1)
        if len(ids) > room:
            raise GenerationError(f"the prompt has {len(ids)} tokens, longer than the graph allows: its decoder "
                                  f"input {self.contract.decoder_port.name!r} has {self.contract.steps} steps"
                                  + ("" if self.contract.language_model else ", the first for <start>"),
                                  f"give at most {room} tokens")
        if self.contract.language_model and not ids:
            raise GenerationError("the prompt is empty: a language model needs at least one token to continue")
        return ids

    def _condition(self, value: str | Path | Sequence[int], port: Port) -> tuple[torch.Tensor, str]:
        """One conditioning input from text (a token input) or a file (a float input)."""
        if port.dtype == "int64" and len(port.shape) == 1:
            ids = self.vocabulary.encode(value if not isinstance(value, Path) else str(value), "the input")
            length = port.shape[0]
            if len(ids) > length:
                raise GenerationError(f"the input has {len(ids)} tokens, longer than the graph allows: its input "
                                      f"{port.name!r} takes {length}", f"give at most {length} tokens")
            if len(ids) < length:
                if self.vocabulary.pad is None:
                    raise GenerationError(f"the input has {len(ids)} tokens but {port.name!r} takes exactly {length} "
                                          "(the vocabulary has no <pad> to fill the rest)", f"give {length} tokens")
                ids = ids + [self.vocabulary.pad] * (length - len(ids))
            text = value if isinstance(value, str) else " ".join(map(str, value))
            return torch.tensor([ids], dtype=torch.long), text
        path = Path(str(value))
        if not path.is_file():
            raise GenerationError(f"{path}: no such file; the input {port.name!r} is {list(port.shape)} {port.dtype}",
                                  "give an image or .npy file, or val:INDEX")
        return _read_array(path, port, self.trained.normalization), path.name

    def _validation_cases(self, spec: str, prompt: str | Sequence[int] | None) -> list[_Case]:
        from builder.inspecting.errors import InspectError
        from builder.inspecting.subject import from_trained

        subject = from_trained(self.trained)
        try:
            samples = subject.samples(spec)
        except InspectError as err:
            raise GenerationError(str(err).split("\n    hint:")[0], err.hint) from None
        contract, cases = self.contract, []
        for row in range(len(samples)):
            inputs = [x[row:row + 1] for x in samples.inputs]
            target = samples.labels[row].tolist()
            conditions = [inputs[i] for i, _ in contract.conditions]
            caption = samples.captions[row]
            # the reference is what the data has where the generated tokens go
            if contract.language_model and prompt is not None:
                cases.append(_Case([], self._prompt_ids(prompt), caption))
            elif contract.language_model:
                given = contract.prompt_steps
                ids = inputs[contract.decoder][0, :given].tolist()
                cases.append(_Case([], ids, caption, self.vocabulary.decode(target[given - 1:])))
            else:
                ids = self._prompt_ids(prompt) if prompt is not None else []
                cases.append(_Case(conditions, ids, caption, self.vocabulary.decode(target[len(ids):])))
        return cases

    # --- generating -------------------------------------------------------------------
    def generate(self, input: str | Path | Sequence[int] | None = None, *, prompt: str | Sequence[int] | None = None,
                 method: str = "greedy", temperature: float = 1.0, beam: int = 4, max_length: int | None = None,
                 seed: int = 0) -> list[Generation]:
        """Generate one sequence per case that ``input`` gives (several for ``val:A-B``)."""
        if method not in METHODS:
            raise GenerationError(f"unknown decoding method {method!r}", f"use one of {', '.join(METHODS)}")
        if method == "sample" and not temperature > 0:
            raise GenerationError(f"temperature must be above 0, not {temperature}",
                                  "lower temperatures (0.5) sharpen the distribution, 1 samples it as it is")
        if method == "beam" and beam < 1:
            raise GenerationError(f"the beam width must be 1 or more, not {beam}")
        cases = self.cases(input, prompt)
        generator = torch.Generator().manual_seed(int(seed))
        results = []
        for case in cases:
            runner = DecoderRunner(self.trained.model, self.contract, case.conditions)
            if not self._checked:
                runner.check_causal()
                self._checked = True
            first = self.contract.first_tokens(case.prompt)
            budget = self._budget(first, max_length)
            end = self.vocabulary.end
            if method == "greedy":
                found = search.greedy(runner.score, first, budget, end)
            elif method == "sample":
                found = search.sample(runner.score, first, budget, end, temperature, generator)
            else:
                found = search.beam(runner.score, first, budget, end, beam)
            results.append(self._result(runner, case, first, found))
        return results

    def _budget(self, first: list[int], max_length: int | None) -> int:
        """How many tokens may follow ``first``: by default as many as fill the decoder input;
        at most that many (a language model slides its window on, up to LONGEST)."""
        steps = self.contract.steps
        window = steps - len(first) + 1  # the steps left in the decoder input
        room = LONGEST if self.contract.language_model else window
        if max_length is None:
            return max(window, 1)
        if max_length < 1:
            raise GenerationError(f"--max-length must be 1 or more, not {max_length}")
        if max_length > room:
            raise GenerationError(f"--max-length {max_length} is longer than the graph allows: its decoder input "
                                  f"{self.contract.decoder_port.name!r} has {steps} steps, so at most {room} tokens "
                                  f"follow the {len(first)} it starts with", f"use --max-length {room} or less")
        return max_length

    def _result(self, runner: DecoderRunner, case: _Case, first: list[int], found: search.Searched) -> Generation:
        vocab, steps = self.vocabulary, self.contract.steps
        attention: dict[str, np.ndarray] = {}
        keys = None
        if self.contract.attention and len(first) <= steps:
            sequence = (first + found.tokens)[:steps]
            decoder_in, _ = runner.window(torch.tensor([sequence]))
            rows = slice(len(first) - 1, min(len(first) - 1 + len(found.tokens), steps))
            for node, weights in runner.attention(decoder_in).items():
                attention[node] = weights[:, rows].numpy()
                if keys is None:
                    keys = self._key_names(case, weights.shape[-1])
        return Generation(vocab.decode(found.tokens), vocab.words(found.tokens), found.tokens,
                          vocab.decode(case.prompt), case.source, found.log_probability, case.reference,
                          attention, keys, vocab.decode(case.prompt + found.tokens))

    def _key_names(self, case: _Case, length: int) -> list[str] | None:
        """The tokens of the conditioning input the attention looks at (same length), if any."""
        for (_, port), tensor in zip(self.contract.conditions, case.conditions):
            if port.dtype == "int64" and port.shape == (length,):
                return self.vocabulary.words(tensor[0].tolist())
        return None


def _read_array(path: Path, port: Port, normalization: dict | None) -> torch.Tensor:
    """A float input from an image or ``.npy`` file, prepared as the training data were."""
    spec = InputSpec(port.name, port.shape, port.dtype)
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        try:
            x, scaled = load_image(path, spec), True
        except DataError as err:
            raise GenerationError(f"{path}: {err}") from None
    elif suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise GenerationError(f"{path}: cannot read it as a plain .npy array ({err})") from None
        if tuple(array.shape) != port.shape or array.dtype.kind not in "biuf":
            raise GenerationError(f"{path} holds {array.dtype} {list(array.shape)}, but the input {port.name!r} "
                                  f"takes {list(port.shape)} numbers")
        x, scaled = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)), False
    else:
        raise GenerationError(f"{path}: unknown file type {suffix or '(no suffix)'!r} for the input {port.name!r}",
                              "give an image (.png, .jpg) or a .npy array")
    if normalization and normalization.get("input") == port.name:
        if not scaled:
            x = x / float(normalization.get("scale") or 1.0)
        x = apply_normalization(x, normalization)
    return x.unsqueeze(0)


def open_generator(path: str | Path | TrainedModel, weights: str = "best") -> Generator:
    """A run folder, a bundle or an open :class:`TrainedModel`, ready to generate;
    GenerationError for a graph that is no decoder (ExportError for a bad path)."""
    trained = path if isinstance(path, TrainedModel) else open_trained(Path(path), weights)
    return Generator(trained)


def generate(source: str | Path | TrainedModel, input: str | Path | Sequence[int] | None = None,
             **options: Any) -> list[Generation]:
    """``open_generator(source).generate(input, **options)``."""
    return open_generator(source, options.pop("weights", "best")).generate(input, **options)


__all__ = ["METHODS", "Generation", "Generator", "generate", "open_generator"]
