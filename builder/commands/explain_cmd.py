"""``modelbuilder explain RUN_OR_BUNDLE INPUT [--method M ...] [--target CLASS] [--node NODE]
[--out DIR]``: attribution maps (saliency, SmoothGrad, integrated gradients, Grad-CAM,
occlusion) of a trained model for some inputs, as PNG figures and raw .npy maps."""

from __future__ import annotations

import sys
from pathlib import Path

from builder.inspecting.methods import METHODS as METHOD_NAMES  # (no torch: the parser is built first)

INPUT_HINT = ("give an image, a .npy/.npz/.csv file, or a sample of the run's validation split: "
              "val:INDEX, val:A-B, val:first, val:misclassified")


NAME = "explain"


def add_parser(subparsers) -> None:
    add_arguments(subparsers.add_parser(
        NAME, help="attribution maps of a trained model: saliency, Grad-CAM, occlusion ... as PNG and .npy"))


def run(args) -> int:
    return run_explain(args)


def add_arguments(parser) -> None:
    """The ``explain`` sub-command's arguments (cli.py builds the parser without torch)."""
    parser.add_argument("source", metavar="RUN_OR_BUNDLE", help="a run folder (from `modelbuilder train`) or a bundle")
    parser.add_argument("input", metavar="INPUT",
                        help="an image, a .npy/.npz/.csv file, or val:INDEX, val:A-B, val:misclassified "
                             "(from the run's validation split)")
    parser.add_argument("--method", "-m", action="append", metavar="METHOD",
                        help=f"{', '.join(METHOD_NAMES)} or all (the default); may be given several times")
    parser.add_argument("--target", metavar="CLASS",
                        help="the class to explain, by index or name (default: the predicted class)")
    parser.add_argument("--node", metavar="NODE",
                        help="Grad-CAM's layer (default: the last node with spatial axes); for token inputs, "
                             "the embedding node to attribute at")
    parser.add_argument("--out", "-o", metavar="DIR",
                        help="where to write (default: RUN/explain for a run folder, ./explain for a bundle)")
    parser.add_argument("--weights", choices=("best", "last"), default="best",
                        help="for a run folder: its best checkpoint (default) or its last one")


def _methods(asked: list[str] | None) -> tuple[list[str], bool]:
    """The methods to run and whether the user named them (``all`` or nothing: every one
    that applies, skipping Grad-CAM quietly where the model has no spatial axes)."""
    from builder.inspecting.explain import check_method

    if not asked or "all" in asked:
        return list(METHOD_NAMES), False
    picked: list[str] = []
    for text in asked:
        for name in text.split(","):
            name = name.strip()
            if name and check_method(name) not in picked:
                picked.append(name)
    return picked, True


def _out_dir(args) -> Path:
    if args.out:
        return Path(args.out)
    source = Path(args.source)
    from builder.exporting.source import BUNDLE_META

    return Path("explain") if (source / BUNDLE_META).is_file() else source / "explain"


def _target(text: str | None) -> int | str | None:
    if text is None:
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def _explain_all(args) -> list[str]:
    """Every requested explanation written; the lines to print. InspectError on a refusal."""
    from builder.inspecting.errors import InspectError
    from builder.inspecting.explain import explain, input_layout, write_explanation
    from builder.inspecting.subject import open_subject

    methods, named = _methods(args.method)
    if not str(args.input).startswith("val:") and not Path(args.input).is_file():
        raise InspectError(f"{args.input}: no such input file", INPUT_HINT)
    subject = open_subject(args.source, args.weights)
    samples = subject.samples(args.input)
    out = _out_dir(args)
    lines: list[str] = []
    written: list[Path] = []
    spatial = input_layout(subject) in ("image", "signal")
    for method in methods:
        node = args.node
        if not named and (method == "gradcam") != spatial:
            node = None  # every method at once: --node is Grad-CAM's layer, or the tokens' embedding node
        try:
            result = explain(subject, samples, method, target=_target(args.target), node=node)
        except InspectError as err:
            if named or method != "gradcam" or node:
                raise
            lines.append(f"note: gradcam skipped: {str(err).splitlines()[0]}")
            continue
        written += write_explanation(subject, result, out)
        where = f" at {result.node}" if result.node else ""
        lines.append(f"{method}{where}: {len(result.maps)} map{'s' if len(result.maps) != 1 else ''} "
                     f"of shape {list(result.maps.shape[1:])}")
    for i, caption in enumerate(samples.captions or [f"sample {i}" for i in range(len(samples))]):
        truth = ""
        if samples.labels is not None and samples.labels.dim() == 1 and result.classifier:
            truth = f", true {subject.class_name(int(samples.labels[i]))}"
        lines.append(f"  {caption}: {_said(subject, result, i)}{truth}")
    lines.append(f"wrote {len(written)} files ({len(written) // 2} PNG + {len(written) // 2} .npy) to {out}/")
    run_dir = subject.trained.source
    if run_dir is not None and (Path(run_dir) / "settings.json").is_file():
        from builder.training.tensorboard_log import add_run_images

        if add_run_images(Path(run_dir), written, "explain"):
            lines.append(f"and added the pictures to the run's TensorBoard files (Images, explain/): "
                         f"tensorboard --logdir {run_dir}")
    return lines


def _said(subject, result, i: int) -> str:
    if not result.classifier:
        return f"output[{result.target[i]}] = {result.target_probability[i]:.4g}"
    text = f"predicted {subject.class_name(result.predicted[i])} ({result.probability[i]:.1%})"
    if result.target[i] != result.predicted[i]:
        text += f", explaining {subject.class_name(result.target[i])} ({result.target_probability[i]:.1%})"
    return text


def run_explain(args) -> int:
    """Exit status 0 when every map was written, 1 otherwise (error and hint on stderr)."""
    from builder.commands.export_cmd import error_lines
    from builder.data.errors import DataError
    from builder.errors import GraphError
    from builder.exporting.errors import ExportError
    from builder.inspecting.errors import InspectError
    from builder.training.checkpoint import CheckpointError

    try:
        lines = _explain_all(args)
    except ImportError as err:
        missing = (err.name or str(err)).split(".")[0]
        print(f"error: explain needs the Python package {missing!r}, which is not installed\n"
              f'    hint: pip install "modelbuilder[explain]"', file=sys.stderr)
        return 1
    except InspectError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (ExportError, GraphError, CheckpointError, DataError) as err:
        for line in error_lines(err):
            print(line, file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0
