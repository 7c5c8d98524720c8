"""A decoder's vocabulary: the run's class names, read as tokens.

Three names are special when present: ``<start>`` begins a conditional decoder's input,
``<end>`` ends a generated sequence, ``<pad>`` fills a token input's unused steps. A
vocabulary whose ordinary tokens are all single characters, one of them a space, is
character-level (text is split into characters and joined without spaces); any other is
word-level (text is split at whitespace, words are joined with spaces).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from builder.generation.errors import GenerationError

START, END, PAD = "<start>", "<end>", "<pad>"
SPECIALS = (START, END, PAD)
SHOWN = 40  # tokens listed in an error's hint


@dataclass(frozen=True)
class Vocabulary:
    """Token names by id (``tokens[i]`` is class ``i``)."""

    tokens: tuple[str, ...]
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {token: i for i, token in reversed(list(enumerate(self.tokens)))})

    @classmethod
    def from_names(cls, names: Sequence[str] | None, size: int) -> Vocabulary:
        """The run's class names, or ids ``0 .. size-1`` as names when it recorded none;
        ids the names do not cover (an output wider than the data's classes) are named by number."""
        tokens = [str(n) for n in (names or [])][:size]
        tokens += [str(i) for i in range(len(tokens), size)]
        return cls(tuple(tokens))

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def start(self) -> int | None:
        return self.index.get(START)

    @property
    def end(self) -> int | None:
        return self.index.get(END)

    @property
    def pad(self) -> int | None:
        return self.index.get(PAD)

    @property
    def characters(self) -> bool:
        ordinary = [t for t in self.tokens if t not in SPECIALS]
        return " " in ordinary and all(len(t) == 1 for t in ordinary)

    def split(self, text: str) -> list[str]:
        """``text`` as tokens (characters, or whitespace-separated words)."""
        return list(text) if self.characters else text.split()

    def encode(self, text: str | Sequence[int], what: str) -> list[int]:
        """Token ids for ``text`` (or ids, checked); GenerationError naming ``what`` (e.g.
        "the prompt") and the first unknown token."""
        if not isinstance(text, str):
            ids = [int(i) for i in text]
            bad = [i for i in ids if not 0 <= i < len(self.tokens)]
            if bad:
                raise GenerationError(f"{what}: token id {bad[0]} is outside the vocabulary (0 to {len(self) - 1})")
            return ids
        ids = []
        for position, token in enumerate(self.split(text)):
            if token not in self.index or token in (START, PAD):
                raise GenerationError(
                    f"{what}: unknown token {token!r} (token {position + 1} of {text!r})",
                    f"the model knows {self.describe()}")
            ids.append(self.index[token])
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``, up to (without) the first ``<end>``; ``<pad>`` and ``<start>`` dropped."""
        words = []
        for i in ids:
            token = self.tokens[i] if 0 <= i < len(self.tokens) else f"<{i}>"
            if token == END:
                break
            if token not in SPECIALS:
                words.append(token)
        return "".join(words) if self.characters else " ".join(words)

    def words(self, ids: Sequence[int]) -> list[str]:
        """Each id's token name, specials included (for tables and attention axes)."""
        return [self.tokens[i] if 0 <= i < len(self.tokens) else f"<{i}>" for i in ids]

    def describe(self) -> str:
        ordinary = [t for t in self.tokens if t not in SPECIALS]
        shown = ", ".join(repr(t) for t in ordinary[:SHOWN])
        more = f" and {len(ordinary) - SHOWN} more" if len(ordinary) > SHOWN else ""
        kind = "characters" if self.characters else "tokens"
        return f"{len(ordinary)} {kind}: {shown}{more}"
