"""``modelbuilder blocks [NAME] [--markdown]``: the block reference, from the declarations."""

from __future__ import annotations

import sys
from itertools import groupby

from blocks import REQUIRED, Block, UnknownBlockError, all_blocks, format_shape, get_block
from builder.textreport import table

NAME = "blocks"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(NAME, help="list the blocks, or show one block's parameters and ports")
    parser.add_argument("name", nargs="?", help="a block name, e.g. conv2d")
    parser.add_argument("--markdown", action="store_true", help="write the block reference as Markdown")


def run(args) -> int:
    return run_blocks(args.name, markdown=args.markdown)


def _default(block: Block, name: str) -> str:
    value = block.params[name].default
    if value is REQUIRED:
        return "required"
    if isinstance(value, tuple):
        return format_shape(value)
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _ports(ports) -> str:
    if not ports:
        return "none"
    parts = []
    for port in ports:
        flags = [f for f, on in (("2 or more", port.variadic), ("optional", port.optional),
                                 (port.dtype, port.dtype != "float32")) if on]
        extra = f" ({', '.join(flags)})" if flags else ""
        parts.append(f"{port.name}{extra}: {port.doc}" if port.doc else f"{port.name}{extra}")
    return "; ".join(parts)


def _examples(block: Block) -> list[str]:
    lines = []
    for example in block.examples:
        params, problems = block.check_params(example["params"])
        if problems:
            continue
        inputs = {k: [tuple(s) for s in v] if block.port(k, output=False).variadic else tuple(v)
                  for k, v in example["inputs"].items()}
        outputs = block.infer_ports(params, inputs)
        given = ", ".join(f"{k}={format_shape(v) if isinstance(v, tuple) else ' '.join(map(format_shape, v))}"
                          for k, v in inputs.items())
        result = ", ".join(f"{k}={format_shape(v)}" for k, v in outputs.items())
        lines.append(f"{example['params'] or '{}'}: {given or '-'} -> {result or '-'}")
    return lines


def describe(block: Block) -> str:
    """One block's reference as plain text."""
    rows = [(name, decl.describe(), _default(block, name), decl.doc) for name, decl in block.params.items()]
    text = [f"{block.name} ({block.category})", "", block.doc(), ""]
    text.append(table(["parameter", "type", "default", "meaning"], rows) if rows else "No parameters.")
    text += ["", f"inputs:  {_ports(block.inputs)}", f"outputs: {_ports(block.outputs)}"]
    examples = _examples(block)
    if examples:
        text += ["", "examples (per-sample shapes):"] + [f"  {e}" for e in examples]
    return "\n".join(text)


def markdown() -> str:
    """The whole block reference as Markdown (docs/blocks.md is generated from this)."""
    out = ["# Block reference", "",
           "Generated from the block declarations by `modelbuilder blocks --markdown`; do not edit by hand.",
           "Shapes are per sample: the batch dimension is implicit.", ""]
    for category, members in groupby(all_blocks(), key=lambda b: b.category):
        out += [f"## {category}", ""]
        for block in members:
            out += [f"### `{block.name}`", "", block.doc(), ""]
            if block.params:
                out += ["| parameter | type | default | meaning |", "|---|---|---|---|"]
                for name, decl in block.params.items():
                    meaning = decl.doc.replace("|", "\\|")
                    out.append(f"| `{name}` | {decl.describe().replace('|', '/')} | {_default(block, name)} | {meaning} |")
                out.append("")
            out += [f"Inputs: {_ports(block.inputs)}  ", f"Outputs: {_ports(block.outputs)}", ""]
            examples = _examples(block)
            if examples:
                out += ["Examples:", ""] + [f"- `{e}`" for e in examples] + [""]
    return "\n".join(out)


def run_blocks(name: str | None, *, markdown: bool = False) -> int:
    if markdown:
        print(globals()["markdown"]())
        return 0
    if name:
        try:
            print(describe(get_block(name)))
        except UnknownBlockError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        return 0
    for category, members in groupby(all_blocks(), key=lambda b: b.category):
        print(category)
        for block in members:
            print(f"  {block.name:<28}{block.summary()}")
    print("\nmodelbuilder blocks NAME shows a block's parameters and ports.")
    return 0
