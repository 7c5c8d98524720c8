"""``modelbuilder inspect RUN_DIR|BUNDLE --filters NODE | --activations NODE --input X |
--embedding NODE [--method tsne|pca] | --maximize NODE[:UNIT] | --attention NODE --input X |
--gates NODE --input X | --list [--out DIR] [--weights best|last]``: look inside a trained
model; each view is written as a PNG and its raw numbers as .npy files (docs/inspect.md)."""

from __future__ import annotations

import sys
from pathlib import Path

# the view flags, in the order of builder.inspecting.views.VIEWS (not imported: no torch here)
VIEW_FLAGS = {
    "filters": ("NODE", "a convolution's learned kernels"),
    "activations": ("NODE", "a node's output for one input (needs --input); NODE.PORT for another port"),
    "embedding": ("NODE", "the validation split's features at NODE in 2-D (t-SNE or PCA), with k-NN accuracy"),
    "maximize": ("NODE[:UNIT]", "the input that maximizes a channel/unit (or, on the output node, a class)"),
    "attention": ("NODE", "attention weights per head for one input (needs --input)"),
    "gates": ("NODE", "an LSTM's or GRU's gates and states over time for one input (needs --input)"),
}
SAMPLE_VIEWS = ("activations", "attention", "gates")
MAX_SAMPLES = 16  # views written for one --input naming several samples


NAME = "inspect"


def add_parser(subparsers) -> None:
    add_arguments(subparsers.add_parser(
        NAME, help="look inside a trained model: filters, feature maps, embeddings, attention, gates"))


def run(args) -> int:
    return run_inspect(args)


def add_arguments(parser) -> None:
    """The ``inspect`` sub-command's arguments (cli.py builds the parser without torch)."""
    parser.add_argument("source", metavar="RUN_DIR|BUNDLE", help="a run folder (from `modelbuilder train`) or a bundle")
    what = parser.add_mutually_exclusive_group(required=True)
    for view, (metavar, text) in VIEW_FLAGS.items():
        what.add_argument(f"--{view}", metavar=metavar, help=text)
    what.add_argument("--list", action="store_true", help="list the nodes and the views that apply to each")
    parser.add_argument("--input", "-i", metavar="INPUT",
                        help="val:INDEX, val:A-B, val:first, val:misclassified, an image, .npy, .npz or .csv file")
    parser.add_argument("--method", choices=("tsne", "pca"), default="tsne",
                        help="--embedding: projection (default tsne)")
    parser.add_argument("--limit", type=int, default=1000, help="--embedding: validation samples used (default 1000)")
    parser.add_argument("--steps", type=int, default=200, help="--maximize: gradient ascent steps (default 200)")
    parser.add_argument("--layer", type=int, default=0, help="--gates: which stacked layer (default 0, the first)")
    parser.add_argument("--reverse", action="store_true",
                        help="--gates: the backward direction of a bidirectional layer")
    parser.add_argument("--out", "-o", help="folder for the PNG and .npy files (default RUN_DIR/inspect)")
    parser.add_argument("--weights", choices=("best", "last"), default="best",
                        help="for a run folder: its best checkpoint (default) or its last one")


def _chosen(args) -> tuple[str, str]:
    for view in VIEW_FLAGS:
        node = getattr(args, view, None)
        if node is not None:
            return view, node
    return "list", ""


def _unit(subject, text: str, node: str):
    """``NODE:UNIT``'s unit: an index, or a class name on a classifier's output."""
    from builder.inspecting.errors import InspectError

    try:
        return int(text)
    except ValueError:
        pass
    names = subject.class_names or []
    if text in names:
        return names.index(text)
    raise InspectError(f"--maximize {node}:{text}: {text!r} is neither a unit index nor a class name",
                       f"classes: {', '.join(map(str, names[:20]))}" if names else "use NODE:INDEX, e.g. conv1:0")


def _maximize_target(subject, text: str) -> tuple[str, object]:
    if text in subject.analysis.nodes or ":" not in text:
        return text, None
    node, _, unit = text.rpartition(":")
    return node, _unit(subject, unit, node)


def _list(subject) -> list[str]:
    from builder.inspecting.views import VIEWS, applicable

    rows = [("node", "block", "shape", "views")]
    for node in subject.analysis.order:
        reasons = applicable(subject, node)
        shape = subject.analysis.nodes[node].shape
        rows.append((node, subject.block_of(node), "[" + ", ".join(map(str, shape or ())) + "]",
                     " ".join(v for v in VIEWS if reasons[v] is None) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]


def _views(subject, view: str, node: str, args) -> list:
    from builder.inspecting.errors import InspectError
    from builder.inspecting.views import run_view

    if view in SAMPLE_VIEWS:
        if not args.input:
            raise InspectError(f"--{view} looks at one input: give it with --input",
                               "e.g. --input val:0, --input val:misclassified, --input digit.png")
        samples = subject.samples(args.input)
        count = min(len(samples), MAX_SAMPLES)
        options = {"layer": args.layer, "reverse": args.reverse} if view == "gates" else {}
        return [run_view(subject, view, node, samples, i, **options) for i in range(count)]
    if args.input:
        print(f"note: --input is not used by --{view}", file=sys.stderr)
    if view == "embedding":
        return [run_view(subject, view, node, method=args.method, limit=args.limit)]
    if view == "maximize":
        target, unit = _maximize_target(subject, node)
        return [run_view(subject, view, target, unit=unit, steps=args.steps)]
    return [run_view(subject, view, node)]


def run_inspect(args) -> int:
    """Exit status 0 when the view was written (or the list printed), 1 otherwise."""
    from builder.commands.export_cmd import error_lines
    from builder.data.errors import DataError
    from builder.errors import GraphError
    from builder.exporting.errors import ExportError
    from builder.inspecting.errors import InspectError
    from builder.inspecting.subject import open_subject
    from builder.inspecting.views import write
    from builder.training.checkpoint import CheckpointError

    view, node = _chosen(args)
    for name, value, least in (("--limit", args.limit, 10), ("--steps", args.steps, 1), ("--layer", args.layer, 0)):
        if value < least:
            print(f"error: {name} must be {least} or more, not {value}", file=sys.stderr)
            return 1
    out = Path(args.out) if args.out else Path(args.source) / "inspect"
    try:
        subject = open_subject(args.source, args.weights)
        if view == "list":
            for line in _list(subject):
                print(line)
            return 0
        written = []
        for result in _views(subject, view, node, args):
            for line in result.summary():
                print(line)
            written += write(result, out)
    except (InspectError, ExportError, GraphError, CheckpointError, DataError) as err:
        for line in error_lines(err):
            print(line, file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: cannot write into {out}: {err.strerror or err}\n    hint: choose another folder with --out",
              file=sys.stderr)
        return 1
    print(f"wrote {len(written)} file(s):")
    for path in written:
        print(f"  {path}")
    return 0
