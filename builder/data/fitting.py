"""Which data sources fit a graph, and why the others do not.

A built-in source (one that needs no file: digits, sentiment, reverse, patterns ...) fits
a graph when it can feed every input with its shape and dtype and its targets suit the
output. The sources adapt to the graph (images are resized to the input, sequences take
the input's length, the vocabulary follows the output), so whether one fits is decided
the only reliable way: by loading a handful of samples through the source's own loader and
the pipeline's own checks. No rule is written twice, and a source added later is covered.

``rank_sources`` orders every source for a graph (fitting first, each other one with the
reason), which the app's data-set combo shows; ``no_data_message`` and
``load_graph_data`` put the fitting ones into the messages of a graph without data or with
data that cannot fit. Never imports Qt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blocks.params import ParamError
from builder.data.arrays import InputSpec, TaskData, format_shape
from builder.data.errors import DataError
from builder.data.pipeline import SOURCES, check_inputs, check_options, check_targets, load_data
from builder.data.source import Context, Source
from builder.data.targets import primary_shape

PROBE_SAMPLES = 4  # enough to see shapes and dtypes; label ranges come from class_names


@dataclass(frozen=True)
class Fit:
    """Whether ``source`` can train a graph; ``reason`` says why not (None when it fits).
    ``needs`` names the options a source cannot do without (a file's ``path``): such a
    source is never tried here, since whether it fits depends on the user's file."""

    source: str
    summary: str
    fits: bool
    reason: str | None = None
    needs: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The source's name, or why it does not fit (a sentence that starts with the name)."""
        return self.source if self.fits else str(self.reason)


def required_options(source: Source) -> tuple[str, ...]:
    """The options ``source`` has no default for (``path``, ``dataset``): it reads user files."""
    return tuple(name for name, decl in source.options.items() if decl.required)


def io_text(inputs: Sequence[InputSpec], output_shape: Sequence[int]) -> str:
    """``input 'tokens' [40] int64; output [4]``: what a source has to fit, in words."""
    ins = ", ".join(f"{s.node!r} {format_shape(s.shape)} {s.dtype}" for s in inputs) or "none"
    return f"input{'s' if len(inputs) != 1 else ''} {ins}; output {format_shape(tuple(output_shape))}"


def source_fit(source: Source, inputs: Sequence[InputSpec], output_shape: Sequence[int],
               options: Mapping[str, Any] | None = None) -> Fit:
    """Whether ``source`` fits a graph with these ``inputs`` and per-sample ``output_shape``,
    with its default options or these ``options`` (a data spec's, e.g. ``{classes: [0, 1]}``)."""
    needs = required_options(source)
    if needs:
        return Fit(source.name, source.summary, False, f"{source.name} reads your own files: give {', '.join(needs)}",
                   needs)
    inputs = [s if isinstance(s, InputSpec) else InputSpec(*s) for s in inputs]
    output = tuple(int(d) for d in output_shape)
    spec: dict[str, Any] = {**(options or {}), "name": source.name, "limit": PROBE_SAMPLES}
    if "samples" in source.options:
        spec["samples"] = PROBE_SAMPLES  # generate no more than are looked at
    try:
        options = check_options(source, spec)
        samples = source.load(options, Context(source.name, inputs, output, 0, Path("."), PROBE_SAMPLES))
        samples = samples.head(PROBE_SAMPLES)
        check_inputs(samples, inputs)
        check_targets(samples, output)
    except (DataError, ParamError) as err:
        return Fit(source.name, source.summary, False, _reason(err, source.name))
    classes = len(samples.class_names or ())
    if samples.kind == "classification" and output and output[-1] < 2:  # loads, but learns nothing
        return Fit(source.name, source.summary, False,
                   f"{source.name} gives class labels, but the graph's output {format_shape(output)} has one value "
                   f"per {'sample' if len(output) == 1 else 'position'}: a regression")
    if samples.kind == "classification" and output and classes > output[-1]:
        return Fit(source.name, source.summary, False,
                   f"{source.name} has {classes} classes but the graph's output {format_shape(output)} "
                   f"scores {output[-1]}")
    return Fit(source.name, source.summary, True)


def _reason(err: Exception, name: str) -> str:
    """The loader's message, led by the source's name once (the sources' own messages mostly are)."""
    text = err.message if isinstance(err, DataError) else str(err)
    if isinstance(err, DataError) and err.file and err.file != name:
        text = f"{err.file}: {text}"
    return text if text.startswith(name) else f"{name}: {text}"


def rank_sources(inputs: Sequence[InputSpec], output_shape: Sequence[int],
                 sources: Mapping[str, Source] | None = None) -> list[Fit]:
    """Every source, those that fit the graph first, then those that read user files, then
    those that cannot fit (each with its reason); the order of ``SOURCES`` within each."""
    fits = [source_fit(s, inputs, output_shape) for s in (sources or SOURCES).values()]
    return sorted(fits, key=lambda f: 0 if f.fits else 1 if f.needs else 2)


def fitting_sources(inputs: Sequence[InputSpec], output_shape: Sequence[int]) -> list[str]:
    """The names of the built-in sources that fit, in the order of ``SOURCES``."""
    return [f.source for f in rank_sources(inputs, output_shape) if f.fits]


def graph_sources(analysis: Any) -> list[Fit]:
    """``rank_sources`` for an :class:`builder.analysis.Analysis` (the app's data-set combo).
    While the graph has problems its shapes are not all known: every source then comes in
    the order of ``SOURCES``, none fitting, with that reason."""
    from builder.data.arrays import graph_io

    known = analysis.ok and all(analysis.nodes[i].shape is not None for i in analysis.input_ids)
    if known and analysis.output_ids:
        return rank_sources(*graph_io(analysis))
    why = "the graph has problems (or no output): fix them to see which data sources fit it"
    return [Fit(s.name, s.summary, False, f"{s.name}: {why}", required_options(s)) for s in SOURCES.values()]


def _fitting_text(names: list[str]) -> str:
    return f"built-in sources that fit it: {', '.join(names)}"


def no_data_message(inputs: Sequence[InputSpec], output_shape: Sequence[int]) -> tuple[str, str]:
    """(message, hint) for a graph whose training section names no data: the sources that fit."""
    names = fitting_sources(inputs, output_shape)
    message = "no dataset: the graph's training section has no 'data'"
    if not names:
        return message, (f"no built-in source fits its {io_text(inputs, output_shape)}; train on your own "
                         "files, e.g. 'training: {data: {name: npz, path: data.npz}}' (see docs/data.md)")
    return message, (f"{_fitting_text(names)}; add e.g. 'training: {{data: {{name: {names[0]}}}}}' "
                     f"or pass --data {names[0]}")


def load_graph_data(spec: Mapping[str, Any] | str, inputs: list[InputSpec], output_shape: tuple[int, ...],
                    **options: Any) -> TaskData:
    """``load_data``; when a built-in source cannot fit the graph, the DataError says so with
    the graph's inputs and output and names the built-in sources that do fit."""
    try:
        return load_data(spec, inputs, output_shape, **options)
    except DataError as err:
        name = spec.get("name") if isinstance(spec, Mapping) else spec
        source = SOURCES.get(name) if isinstance(name, str) else None
        if source is None or required_options(source):
            raise  # an unknown name, or the user's own file: the message says what is wrong with it
        output_shape = primary_shape(output_shape)  # (OutputSpecs of a graph with several outputs)
        given = dict(spec) if isinstance(spec, Mapping) else {}
        try:
            check_options(source, given)
        except DataError:
            raise err from None  # a bad option: the message says which
        own = source_fit(source, inputs, output_shape, given)
        if own.fits:
            raise  # it fits this graph: the error is about an option or the data itself
        others = [n for n in fitting_sources(inputs, output_shape) if n != name]
        hint = _fitting_text(others) if others else (
            "no built-in source fits it; train on your own files (npz, csv, folder: see docs/data.md)")
        if err.hint:
            hint = f"{err.hint}; or use one of the {hint}"
        raise DataError(f"{name} cannot train this graph ({io_text(inputs, output_shape)}): {err.message}",
                        file=err.file if err.file != name else None, hint=hint, line=err.line) from None
