"""``modelbuilder import SOURCE --out GRAPH.yaml [--input-shape C,H,W ...] [--fold]``: an
existing PyTorch model (``my_net.py:build``, a torchvision model name) or an ONNX file
becomes an editable graph and a safetensors file of its weights, proven to compute the
same outputs before anything is written. See docs/import.md."""

from __future__ import annotations

import sys
from pathlib import Path

NAME = "import"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        NAME, help="turn a PyTorch model (file.py:callable, torchvision name) or an ONNX file into a graph",
        description="Trace a model, map its layers to blocks, copy its weights, and check that the graph gives "
                    "the model's outputs; writes OUT and its weights beside it (OUT with .safetensors). "
                    "A Python SOURCE is run: import only code you trust.")
    parser.add_argument("source", metavar="SOURCE",
                        help="my_net.py:build (a file and a callable returning an nn.Module), a torchvision "
                             "model name such as resnet18 (needs torchvision), or model.onnx")
    parser.add_argument("--out", required=True, metavar="GRAPH.yaml", help="the graph file to write")
    parser.add_argument("--input-shape", action="append", metavar="C,H,W", dest="input_shapes",
                        help="per-sample shape of a forward argument, once per argument (torchvision: 3,224,224; "
                             "ONNX: read from the file)")
    parser.add_argument("--fold", action="store_true",
                        help="fold runs of repeated structure into composite parts (proven equal as well)")
    parser.add_argument("--parts", metavar="DIR",
                        help="with --fold: folder for the part files (default: parts/ beside OUT)")
    parser.add_argument("--pretrained", action="store_true",
                        help="torchvision: start from its default weights, read from the torch hub cache "
                             "(never downloaded)")
    parser.add_argument("--force", action="store_true", help="replace OUT and its weights file if they exist")


def _shapes(texts: list[str] | None) -> list[tuple[int, ...]] | str:
    shapes = []
    for text in texts or []:
        try:
            shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
        except ValueError:
            return f"--input-shape {text!r}: expected sizes separated by commas, e.g. 3,32,32"
        if not shape or any(size < 1 for size in shape):
            return f"--input-shape {text!r}: expected positive sizes, e.g. 3,32,32 (per sample, no batch axis)"
        shapes.append(shape)
    return shapes


def run(args) -> int:
    shapes = _shapes(args.input_shapes)
    if isinstance(shapes, str):
        print(f"error: {shapes}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if out.suffix.lower() not in (".yaml", ".yml"):
        print(f"error: --out {args.out}: the graph is written as a .yaml file", file=sys.stderr)
        return 2
    existing = [p for p in (out, out.with_suffix(".safetensors")) if p.exists()]
    if existing and not args.force:
        print(f"error: {existing[0]} exists\n    hint: choose another --out, or pass --force to replace it",
              file=sys.stderr)
        return 1
    from builder.importing import ImportFailure, import_model

    try:
        result = import_model(args.source, out, input_shapes=shapes or None, fold=args.fold, parts=args.parts,
                              pretrained=args.pretrained)
    except ImportFailure as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: cannot write {err.filename or out}: {err.strerror or err}", file=sys.stderr)
        return 1
    nodes = len(result.graph.nodes)
    shape = f"{result.flat_nodes} nodes" + (f", folded to {nodes} ({result.folded} copies)" if result.folded else "")
    print(f"imported {args.source}: {shape}")
    print(f"same function: max |difference| {result.difference:.3g} on a random input "
          f"(tolerance {result.tolerance:.3g})")
    for note in result.notes:
        print(f"note: {note}")
    for path in result.written:
        print(f"wrote {path}")
    print(f"next: modelbuilder check {out}  (the editor lays the graph out when it opens it)")
    return 0
