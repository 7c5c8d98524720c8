"""What the Generate panel computes, on its worker thread, without widgets: opening a run
for generation (builder's ``open_generator``) with a few validation samples to pick from,
and generating one sequence with the chosen decoding.

Errors the user can act on come back as a :class:`gui.inspect.worker.Failure` (a sentence
and a hint), never as a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from gui.inspect.worker import Failure

SAMPLES_SHOWN = 24  # validation samples offered to pick from
GREEDY, SAMPLE, BEAM = "greedy", "sample", "beam"
TOKENS, IMAGE, PROMPT, OTHER = "tokens", "image", "prompt", "other"  # what conditions the decoder


@dataclass
class Choice:
    """One validation sample offered as the input: its position, what the user reads (the
    source tokens, the prompt or its caption), a picture for an image, the data's answer."""

    index: int
    text: str
    picture: Optional[np.ndarray] = None
    reference: Optional[str] = None

    @property
    def spec(self) -> str:
        return f"val:{self.index}"


@dataclass
class OpenRun:
    """A run opened for generation: the generator, what its input is (``kind``, described
    in ``wants``), the validation samples to pick from (``note`` says why there are none)."""

    path: Path
    generator: Any
    kind: str
    wants: str
    steps: int
    choices: list[Choice] = field(default_factory=list)
    note: str = ""

    @property
    def name(self) -> str:
        return self.generator.contract.graph

    @property
    def attention(self) -> tuple[str, ...]:
        return self.generator.contract.attention

    def picture(self, spec: str) -> Optional[np.ndarray]:
        """The picture of the sample ``val:INDEX`` when the input is an image."""
        return next((c.picture for c in self.choices if c.spec == spec), None)


@dataclass(frozen=True)
class Decoding:
    """How to decode: ``method`` with its ``temperature`` and ``seed`` (sample) or ``beam``
    width; ``max_length`` None fills the decoder's window."""

    method: str = GREEDY
    temperature: float = 1.0
    seed: int = 0
    beam: int = 4
    max_length: Optional[int] = None

    def options(self) -> dict[str, Any]:
        return {"method": self.method, "temperature": self.temperature, "seed": self.seed, "beam": self.beam,
                "max_length": self.max_length}


def as_failure(error: Exception) -> Failure:
    text = str(error).split("\n    hint:")[0]
    return Failure(getattr(error, "message", None) or text, getattr(error, "hint", None))


def open_run(path: str | Path) -> OpenRun | Failure:
    """The run folder (or bundle) at ``path`` opened for generation."""
    from builder import ExportError, GenerationError, open_generator

    try:
        generator = open_generator(Path(path))
    except (GenerationError, ExportError) as error:
        return as_failure(error)
    contract = generator.contract
    kind, wants = _kind(contract)
    run = OpenRun(Path(path), generator, kind, wants, contract.steps)
    run.choices, run.note = _choices(generator, kind)
    return run


def _kind(contract: Any) -> tuple[str, str]:
    """What conditions the decoder, and a sentence saying what to give."""
    if contract.language_model:
        return PROMPT, f"Text to continue (up to {contract.steps - 1} tokens of the vocabulary)"
    if len(contract.conditions) != 1:
        return OTHER, f"{len(contract.conditions)} inputs condition the decoder: pick a validation sample"
    port = contract.conditions[0][1]
    if port.dtype == "int64" and len(port.shape) == 1:
        return TOKENS, f"Source: {port.shape[0]} tokens of the vocabulary, separated by spaces"
    if len(port.shape) == 3 and port.shape[0] in (1, 3):
        return IMAGE, f"An image {list(port.shape)}: pick a validation sample or open an image file"
    return OTHER, f"Input {port.name!r} {list(port.shape)}: pick a validation sample or open a .npy file"


def _choices(generator: Any, kind: str) -> tuple[list[Choice], str]:
    """The first validation samples as the user sees them; none (and why) for a bundle."""
    from builder import InspectError, picture_of, subject_of

    try:
        samples = subject_of(generator.trained).samples("val:first", limit=SAMPLES_SHOWN)
    except InspectError as error:
        return [], as_failure(error).text()
    contract, vocabulary = generator.contract, generator.vocabulary
    normalization = generator.trained.normalization
    choices = []
    for row in range(len(samples)):
        index = samples.indices[row] if samples.indices is not None else row
        target = samples.labels[row].tolist() if samples.labels is not None else None
        picture, text = None, samples.captions[row]
        if kind == PROMPT:
            given = contract.prompt_steps
            text = vocabulary.decode(samples.inputs[contract.decoder][row, :given].tolist())
            reference = vocabulary.decode(target[given - 1:]) if target is not None else None
        else:
            reference = vocabulary.decode(target) if target is not None else None
            position = contract.conditions[0][0]
            condition = samples.inputs[position][row]
            if kind == TOKENS:
                text = vocabulary.decode(condition.tolist())
            elif kind == IMAGE:
                picture = picture_of(condition, normalization)
        choices.append(Choice(index, text, picture, reference))
    return choices, ""


def generate(run: OpenRun, input: Optional[str], decoding: Decoding) -> Any:
    """One Generation for ``input`` (text, a file path or ``val:INDEX``), or a Failure."""
    from builder import GenerationError

    try:
        results = run.generator.generate(input, **decoding.options())
    except GenerationError as error:
        return as_failure(error)
    return results[0]
