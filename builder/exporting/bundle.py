"""The bundle: a self-contained folder with everything needed to run a trained model.

    lenet5_bundle/
      graph.yaml              the graph (composite blocks point into parts/)
      parts/double_conv.yaml  every graph file the graph uses as a block, recursively
      weights.safetensors     the state_dict; read without unpickling anything
      meta.json               inputs, outputs, class names, normalization, training summary

A bundle is written into a temporary folder beside the target, read back and checked
against the model, and only then renamed into place, so an interrupted export never
leaves a half-written bundle under the final name.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import torch

from builder.errors import GraphError
from builder.exporting.errors import ExportError
from builder.exporting.files import atomic_folder, write_atomic
from builder.exporting.parity import check_parity
from builder.exporting.result import ExportResult
from builder.exporting.trained import PortInfo, TrainedModel, model_with_weights, ports_of
from builder.graph import Graph
from builder.training.checkpoint import save_weights
from builder.yaml_format import dump_graph, load_graph, parse_graph

BUNDLE_META = "meta.json"
BUNDLE_FORMAT = "modelbuilder-bundle"
BUNDLE_VERSION = 1
GRAPH_FILE = "graph.yaml"
WEIGHTS_FILE = "weights.safetensors"
PARTS = "parts"
# meta.json holds names and numbers (ImageNet's 1,000 class names are ~30 KB): a larger one is no
# bundle's, and is refused before it is read into memory
META_LIMIT = 8_000_000

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "load_bundle", "read_bundle", "read_meta", "write_bundle"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("modelbuilder")
    except PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------------------- writing
def _base_of(graph: Graph) -> Path:
    """The folder that ``graph``'s composite paths are relative to (as the resolver does)."""
    return Path(graph.path).resolve().parent if graph.path else Path.cwd()


def _collect_parts(graph: Graph) -> dict[Path, tuple[str, Graph]]:
    """Every graph file ``graph`` uses as a block, recursively: resolved path -> (file name
    in ``parts/``, its graph). Names are the files' own, made unique where two differ."""
    found: dict[Path, tuple[str, Graph]] = {}
    taken: set[str] = set()

    def visit(user: Graph) -> None:
        base = _base_of(user)
        for node in user.nodes.values():
            if node.graph is None:
                continue
            path = (base / node.graph).resolve()
            if path in found:
                continue
            try:
                inner = load_graph(path)
            except GraphError as err:
                raise ExportError(f"cannot copy {node.graph} (used by node {node.id!r}) into the bundle: "
                                  f"{err.problems[0]}") from None
            name, number = path.name, 2
            while name in taken:
                name = f"{path.stem}_{number}{path.suffix}"
                number += 1
            taken.add(name)
            found[path] = (name, inner)
            visit(inner)

    visit(graph)
    return found


def _rewired(graph: Graph, parts: dict[Path, tuple[str, Graph]], prefix: str) -> str:
    """``graph`` as YAML with every ``graph:`` node pointing at its copy (``prefix`` + name).
    Works on a copy: the caller's graph (and its comments) stay as they are."""
    base = _base_of(graph)
    graph = copy.deepcopy(graph)
    for node in graph.nodes.values():
        if node.graph is not None:
            node.graph = prefix + parts[(base / node.graph).resolve()][0]
    return dump_graph(graph)


def _write_files(trained: TrainedModel, folder: Path) -> list[Path]:
    parts = _collect_parts(trained.graph)
    written = []
    write_atomic(folder / GRAPH_FILE, _rewired(trained.graph, parts, f"{PARTS}/"))
    written.append(folder / GRAPH_FILE)
    for name, inner in parts.values():
        # parts sit side by side, so a part using another names it without a folder
        write_atomic(folder / PARTS / name, _rewired(inner, parts, ""))
        written.append(folder / PARTS / name)
    save_weights(folder / WEIGHTS_FILE, trained.model)
    written.append(folder / WEIGHTS_FILE)
    meta = bundle_meta(trained)
    write_atomic(folder / BUNDLE_META, json.dumps(meta, indent=2) + "\n")
    written.append(folder / BUNDLE_META)
    return written


def _share(folder: Path, files: list[Path]) -> None:
    """Ordinary permissions (as the umask allows): temporary files and folders are created
    private, but a bundle is meant to be handed on."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [folder, *{f.parent for f in files}]:
        path.chmod(0o777 & ~umask)
    for path in files:
        path.chmod(0o666 & ~umask)


def bundle_meta(trained: TrainedModel) -> dict[str, Any]:
    """The ``meta.json`` of a bundle of ``trained`` (docs/export.md describes each field)."""
    data = trained.data or {}
    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "name": trained.graph.name,
        "graph": GRAPH_FILE,
        "weights": WEIGHTS_FILE,
        "inputs": [port.as_json() for port in trained.inputs],
        "outputs": [port.as_json() for port in trained.outputs],
        "kind": data.get("kind"),
        "num_classes": data.get("num_classes"),
        "class_names": data.get("class_names"),
        "normalization": data.get("normalization"),
        "training": trained.training or {},
        "created_by": f"modelbuilder {_version()}",
    }


def write_bundle(trained: TrainedModel, out: Path) -> ExportResult:
    """Write ``trained`` as a bundle folder at ``out`` (replacing an older one), atomically;
    the bundle is read back and its outputs compared with ``trained.model`` before it
    takes the final name. ExportError if it cannot be written or does not match."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file; a bundle is a folder", "give --out a folder name")
    if out.is_dir() and any(out.iterdir()) and not (out / BUNDLE_META).is_file():
        raise ExportError(f"{out} is a folder that is not a bundle; it is not replaced",
                          "give --out a new folder name (or an older bundle to overwrite)")
    with atomic_folder(out) as scratch:
        written = _write_files(trained, scratch)
        _share(scratch, written)
        reread = read_bundle(scratch)
        difference = check_parity(trained.model, reread.model, trained.inputs, f"the bundle {out}")
    files = [out / path.relative_to(scratch) for path in written]
    return ExportResult("bundle", out, files, max_difference=difference)


# ---------------------------------------------------------------------------- reading
def read_meta(path: str | Path) -> dict[str, Any]:
    """A bundle's ``meta.json``, checked; ExportError naming the file when it is missing,
    garbled or of a format or version this modelbuilder does not read."""
    root = Path(path)
    meta_path = root / BUNDLE_META
    if not root.is_dir():
        raise ExportError(f"{root}: no such bundle folder")
    try:
        size = meta_path.stat().st_size
        if size > META_LIMIT:  # read nothing of a file that is no bundle's meta.json
            raise ExportError(f"{meta_path} is {size:,} bytes; a bundle's {BUNDLE_META} is a few kilobytes, "
                              f"and more than {META_LIMIT:,} bytes is refused unread")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(f"{root} is not a bundle: it has no {BUNDLE_META}",
                          "export one with `modelbuilder export RUN_DIR --format bundle`") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ExportError(f"{meta_path}: not valid JSON ({type(err).__name__}: {err})") from None
    if not isinstance(meta, dict):
        raise ExportError(f"{meta_path}: expected a JSON object, found {type(meta).__name__}")
    if meta.get("format") != BUNDLE_FORMAT:
        raise ExportError(f"{meta_path}: format is {meta.get('format')!r}, expected {BUNDLE_FORMAT!r}")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ExportError(f"{meta_path}: version is {version!r}, expected a whole number")
    if version > BUNDLE_VERSION:
        raise ExportError(f"{meta_path}: bundle version {version}, but this modelbuilder reads version "
                          f"{BUNDLE_VERSION} at most", "update modelbuilder")
    if version < 1:
        raise ExportError(f"{meta_path}: unknown bundle version {version}")
    for key in ("graph", "weights"):
        if not isinstance(meta.get(key), str) or not meta[key]:
            raise ExportError(f"{meta_path}: {key!r} must name a file in the bundle")
    for key in ("inputs", "outputs"):
        if key in meta and not isinstance(meta[key], list):
            raise ExportError(f"{meta_path}: {key!r} must be a list")
    return meta


def _inside(root: Path, name: str, meta_path: Path, key: str) -> Path:
    """``root / name``, refusing names that point outside the bundle."""
    candidate = (root / name).resolve()
    if Path(name).is_absolute() or not candidate.is_relative_to(root.resolve()):
        raise ExportError(f"{meta_path}: {key} {name!r} points outside the bundle")
    return root / name


def _refuse_pickles(weights: Path) -> None:
    """A pickle or ``torch.save`` file offered as weights: refused by its name or first bytes,
    so that nothing in it is ever unpickled."""
    if weights.suffix.lower() != ".safetensors":
        raise ExportError(f"{weights}: weights must be a .safetensors file; {weights.suffix or 'this'} files are "
                          "not loaded, because unpickling (.pt, .pth, .pkl, .bin) can run arbitrary code",
                          "convert it with safetensors.torch.save_file(state_dict, 'weights.safetensors') "
                          "where you trust the file")
    try:
        with weights.open("rb") as handle:
            head = handle.read(9)
        size = weights.stat().st_size
    except OSError:
        return  # missing or unreadable: model_with_weights names the file
    # safetensors: an 8-byte little-endian header length, then the JSON header ("{"); its
    # first bytes can equal a pickle's by chance (a 640-byte header starts 80 02), so a
    # file shaped like safetensors is left to the safetensors reader
    if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < size:
        return
    # pickle streams start with the PROTO opcode (0x80, protocol 2 to 5); torch.save files are zips
    if (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")) or head[:4] == b"PK\x03\x04":
        raise ExportError(f"{weights} is a pickle/torch.save file, not safetensors; it is refused, because "
                          "unpickling can run arbitrary code",
                          "export the bundle again with `modelbuilder export RUN_DIR --format bundle`")


def _ports_agree(meta: dict, key: str, found: list[PortInfo], meta_path: Path, graph_path: Path) -> None:
    if key not in meta:
        return
    declared = [(p.get("name"), list(p.get("shape") or [])) if isinstance(p, dict) else (None, [])
                for p in meta[key]]
    actual = [(p.name, list(p.shape)) for p in found]
    if declared != actual:
        def text(ports: list) -> str:
            return ", ".join(f"{n} {s}" for n, s in ports) or "none"

        raise ExportError(f"{graph_path} does not match {meta_path}: the graph's {key} are {text(actual)}, "
                          f"meta.json says {text(declared)}")


def read_bundle(path: str | Path) -> TrainedModel:
    """The model in a bundle folder, compiled on the CPU in eval mode with its weights,
    as a :class:`TrainedModel`. ExportError naming the file for anything missing, damaged,
    pickled or not fitting the graph."""
    root = Path(path)
    meta = read_meta(root)
    meta_path = root / BUNDLE_META
    graph_path = _inside(root, meta["graph"], meta_path, "graph")
    weights = _inside(root, meta["weights"], meta_path, "weights")
    if not graph_path.is_file():
        raise ExportError(f"{graph_path}: the bundle's graph file is missing (named in {meta_path})")
    if not weights.is_file():
        raise ExportError(f"{weights}: the bundle's weights file is missing (named in {meta_path})",
                          "export the bundle again from its run folder")
    _refuse_pickles(weights)
    try:
        text = graph_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ExportError(f"{graph_path}: cannot read the graph ({err})") from None
    graph = parse_graph(text, str(graph_path))  # composite parts resolve inside the bundle
    inputs, outputs = ports_of(graph)
    model = model_with_weights(graph, weights)
    _ports_agree(meta, "inputs", inputs, meta_path, graph_path)
    _ports_agree(meta, "outputs", outputs, meta_path, graph_path)
    data = {key: meta.get(key) for key in ("kind", "num_classes", "class_names", "normalization")
            if meta.get(key) is not None}
    training = meta.get("training") if isinstance(meta.get("training"), dict) else {}
    return TrainedModel(graph, model, weights, inputs, outputs, data=data, training=training, source=root)


def load_bundle(path: str | Path) -> torch.nn.Module:
    """The bundle's model, ready to run: on the CPU, in eval mode, weights loaded, with the
    bundle's ``meta.json`` as ``model.meta`` (class names, normalization, inputs).
    Nothing in the bundle is unpickled; ExportError for a bundle that cannot be used."""
    model = read_bundle(path).model
    model.meta = read_meta(path)
    return model
