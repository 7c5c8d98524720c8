"""``modelbuilder generate RUN_OR_BUNDLE [--input X] [--greedy | --sample | --beam K]``:
generate sequences with a trained decoder graph (seq2seq, captioner, language model) and
print them, decoded with the run's vocabulary (docs/sequences.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

NAME = "generate"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(NAME, help="generate sequences with a trained decoder graph "
                                              "(seq2seq, captioner, language model)")
    parser.add_argument("source", metavar="RUN_OR_BUNDLE", help="a run folder or a bundle of a decoder graph")
    parser.add_argument("--input", "-i", metavar="X",
                        help="what to generate from: a source text (tokens of the vocabulary), an image or .npy file, "
                             "or val:INDEX / val:A-B (the run's validation samples); a language model's prompt")
    parser.add_argument("--prompt", metavar="TEXT",
                        help="tokens the generated sequence must start with (after <start>)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--greedy", dest="method", action="store_const", const="greedy",
                     help="the most likely token at every step (the default)")
    how.add_argument("--sample", dest="method", action="store_const", const="sample",
                     help="draw each token from the model's distribution (see --temperature, --seed)")
    how.add_argument("--beam", type=int, metavar="K", help="beam search keeping the K most likely sequences")
    parser.add_argument("--temperature", "-t", type=float, default=1.0,
                        help="with --sample: below 1 favours likely tokens, above 1 flattens (default 1)")
    parser.add_argument("--max-length", type=int, metavar="N",
                        help="tokens to generate at most (default: as many as the decoder input holds)")
    parser.add_argument("--seed", type=int, default=0, help="with --sample: the random seed (default 0)")
    parser.add_argument("--weights", choices=("best", "last"), default="best",
                        help="for a run folder: its best checkpoint (default) or its last one")
    parser.add_argument("--out", metavar="FILE",
                        help="also write the results: one text per line, or JSON (with attention) for a .json file")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (with attention weights)")


def run(args) -> int:
    from builder.commands.export_cmd import error_lines
    from builder.data.errors import DataError
    from builder.errors import GraphError
    from builder.exporting.errors import ExportError
    from builder.generation.api import open_generator
    from builder.generation.errors import GenerationError
    from builder.training.checkpoint import CheckpointError

    method = "beam" if args.beam is not None else (args.method or "greedy")
    try:
        generator = open_generator(Path(args.source), args.weights)
        results = generator.generate(args.input, prompt=args.prompt, method=method, temperature=args.temperature,
                                     beam=args.beam or 1, max_length=args.max_length, seed=args.seed)
        if args.out:
            _write(Path(args.out), results)
    except (GenerationError, ExportError, GraphError, CheckpointError, DataError, OSError) as err:
        for line in error_lines(err):
            print(line, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([r.as_json() for r in results], indent=2))
        return 0
    for result in results:
        print(_line(result, len(results) > 1 or result.source.startswith("val")))
    if args.out:
        print(f"written: {args.out}")
    return 0


def _line(result, labelled: bool) -> str:
    line = f"{result.source}: {result.full_text}" if labelled else result.full_text
    if result.reference is not None:
        mark = "=" if result.text == result.reference else "!="
        line += f"   ({mark} {result.reference!r})"
    return line


def _write(path: Path, results) -> None:
    from builder.atomic import write_atomic

    if path.suffix.lower() == ".json":
        text = json.dumps([r.as_json() for r in results], indent=2) + "\n"
    else:
        text = "".join(r.text + "\n" for r in results)
    write_atomic(path, text)
