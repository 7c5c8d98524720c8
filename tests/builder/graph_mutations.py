"""Hostile and careless edits of gallery graphs, and the verdict on one mutated document.

Shared by the fuzz test (tests/builder/test_graph_fuzz.py, a few seconds under hypothesis)
and the release run (bench/fuzz_graphs.py, 10,000 documents). Every mutation takes a
``random.Random`` so that both are reproducible from a seed, and hypothesis can drive the
same code through ``st.randoms``.

``check_document`` is the contract the issue states: loading and analysis give only the
project's problem types (every reading problem with file, line, column and a hint),
within a time bound; a document that checks compiles and runs a forward pass on random
input of its declared shapes, with the shapes the analysis promised.
"""

from __future__ import annotations

import copy
import io
import math
import os
import random
import shutil
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
GALLERY_DIR = ROOT / "graphs"
INNER = "parts/double_conv.yaml"  # the gallery's composite file, used by unet_small.yaml
CASE = "case.yaml"

# ---------------------------------------------------------------------------- pools
IDS = ["x", "conv1", "image", "1abc", "input", "output", "forward", "a b", "ü", "", "n" * 300, "self", "None"]
PORTS = ["out", "hidden", "weights", "x", "query", "key_value", "bogus", "", "out.out"]
BLOCK_NAMES = ["conv2d", "conv1d", "linear", "relu", "flatten", "lstm", "gru", "rnn", "embedding", "add", "concat",
               "multiply", "max_pool2d", "avg_pool2d", "batch_norm2d", "layer_norm", "multi_head_attention",
               "transformer_encoder", "positional_encoding", "upsample", "residual", "inception",
               "squeeze_excitation", "dropout", "conv_transpose2d", "input", "output", "conv2", "Conv2d", ""]
INTS = [0, 1, 2, 3, 4, 7, 16, 64, -1, -7, 2**31, 2**63, 10**30]
VALUES: list[Any] = [None, True, False, 0, 1, -1, 3, 64, 2**31, 10**30, 0.5, -2.5, 1e309, float("nan"), "", "x",
                     "same", "valid", "int64", "yes", "last", "sequence", [], [0], [1, 2], [3, 3], [-3, 4], [1] * 70,
                     [100000, 100000, 100000], {}, {"a": 1}, "conv1.out_channels", ["a", ["b"]]]
SHAPES: list[Any] = [[1], [3], [2, 5], [3, 8, 8], [1, 16, 16], [16, 64, 64], [0, 4], [5, 0, 3], [-1, 3],
                     [7, 1, 1], [1, 1, 1, 1], [10**6, 10**6], [2**31, 4], [1] * 70, [], 5, "3x32x32"]
# composite paths, relative to the case file's folder (``{self}`` is the case file)
PATHS = ["", ".", "..", "/", "parts", "parts/", INNER, "./" + INNER, "parts/../" + INNER, "{self}", "./{self}",
         "parts/../{self}", "/etc/passwd", "../../../../../../../../etc/passwd", "/dev/zero", "/dev/null",
         "/dev/stdin", "/proc/self/environ", "fifo.yaml", "link.yaml", "missing.yaml", "~/.bashrc",
         INNER + "\0", "a\0b.yaml", "x" * 5000 + ".yaml", INNER + "/..", "C:\\Windows\\win.ini",
         "file:///etc/passwd", "../outside.yaml", "sub/..//" + INNER, "empty.yaml", "binary.yaml"]
TOKENS = [":", ": ", "-", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "*zz", "!", "!!python/object:os.system ",
          "!!binary ", "!!set ", "!foo ", "\0", "\t", "#", "'", '"', "? ", "|", ">", "<<: ", "%YAML 1.1\n", "@",
          "`", "é", "☃", "𝔘", "\u2028", "\ufeff", "\u202e", "\u0301", "\r", "\n", "\n  ", "---\n", "...\n",
          "\x85", "\x1b", "\\", "%", "~", "null", "0x1F", "1e400", ".nan", "&a", " *a ", "<<"]


# ---------------------------------------------------------------------------- helpers
def _safe_yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = None
    yaml.allow_unicode = True
    return yaml


def _load(text: str) -> Any:
    return _safe_yaml().load(text)


def _dump(data: Any) -> str:
    stream = io.StringIO()
    _safe_yaml().dump(data, stream)
    return stream.getvalue()


def _nodes(data: dict) -> dict:
    nodes = data.get("nodes")
    return nodes if isinstance(nodes, dict) else {}


def _pick_node(rng: random.Random, data: dict) -> tuple[Any, Any] | None:
    nodes = _nodes(data)
    if not nodes:
        return None
    node_id = rng.choice(list(nodes))
    return node_id, nodes[node_id]


def _paths(value: Any, prefix: tuple = (), found: list | None = None) -> list[tuple]:
    """Every path (tuple of keys and indexes) inside ``value``, the first 5,000 of them
    (a document full of aliases can name billions)."""
    found = [] if found is None else found
    found.append(prefix)
    if len(found) < 5_000 and isinstance(value, dict):
        for key, item in list(value.items()):
            _paths(item, prefix + (key,), found)
    elif len(found) < 5_000 and isinstance(value, list):
        for index, item in enumerate(value):
            _paths(item, prefix + (index,), found)
    return found


def _set(data: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def _random_value(rng: random.Random, ids: list[str]) -> Any:
    roll = rng.random()
    if roll < 0.15 and ids:
        return rng.choice(ids)
    if roll < 0.3:
        return rng.choice(INTS)
    return copy.deepcopy(rng.choice(VALUES))


def _ref(rng: random.Random, ids: list[str]) -> str:
    base = rng.choice(ids + IDS[:4]) if ids else rng.choice(IDS)
    return f"{base}.{rng.choice(PORTS)}" if rng.random() < 0.3 else base


# ------------------------------------------------------------------ structural mutations
def drop_key(rng: random.Random, data: Any) -> Any:
    paths = [p for p in _paths(data) if p]
    if not paths:
        return data
    path = rng.choice(paths)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return data


def set_anything(rng: random.Random, data: Any) -> Any:
    ids = [str(k) for k in _nodes(data)] if isinstance(data, dict) else []
    return _set(data, rng.choice(_paths(data)), _random_value(rng, ids))


def set_param(rng: random.Random, data: Any) -> Any:
    picked = _pick_node(rng, data)
    if picked is None or not isinstance(picked[1], dict):
        return data
    node_id, body = picked
    from blocks import UnknownBlockError, get_block

    names = ["bogus", "shape", "out_channels", "kernel_size", "hidden_size", "num_heads"]
    try:
        names = list(get_block(str(body.get("block"))).params) or names
    except (UnknownBlockError, TypeError):
        pass
    params = body.get("params")
    if not isinstance(params, dict):
        params = body["params"] = {}
    value = rng.choice(INTS) if rng.random() < 0.5 else _random_value(rng, list(map(str, _nodes(data))))
    params[rng.choice(names)] = value
    return data


def tweak_param(rng: random.Random, data: Any) -> Any:
    """A plausible value for a declared parameter: documents that still check, to find
    where the analysis and the compiled module disagree."""
    from blocks import Bool, Choice, Float, Int, Ints, UnknownBlockError, get_block

    picked = _pick_node(rng, data)
    if picked is None or not isinstance(picked[1], dict):
        return data
    body = picked[1]
    try:
        declared = get_block(str(body.get("block"))).params
    except (UnknownBlockError, TypeError):
        return data
    if not declared:
        return data
    name = rng.choice(sorted(declared))
    decl = declared[name]
    small = [1, 2, 3, 4, 5, 7, 8, 16, 32]
    if isinstance(decl, Ints):
        if decl.words and rng.random() < 0.3:
            value: Any = rng.choice(decl.words)
        else:
            length = decl.length or rng.randrange(1, 4)
            value = [rng.choice(small) for _ in range(length)] if rng.random() < 0.7 else rng.choice(small)
    elif isinstance(decl, Int):
        value = rng.choice(small + [0])
    elif isinstance(decl, Float):
        value = rng.choice([0.0, 0.1, 0.5, 0.9, 1.0, 2.0])
    elif isinstance(decl, Bool):
        value = rng.random() < 0.5
    elif isinstance(decl, Choice):
        value = rng.choice(decl.choices)
    else:
        return data
    params = body.get("params")
    if not isinstance(params, dict):
        params = body["params"] = {}
    params[name] = value
    return data


def change_block(rng: random.Random, data: Any) -> Any:
    picked = _pick_node(rng, data)
    if picked and isinstance(picked[1], dict):
        picked[1].pop("graph", None)
        picked[1]["block"] = rng.choice(BLOCK_NAMES)
    return data


def rewire(rng: random.Random, data: Any) -> Any:
    picked = _pick_node(rng, data)
    if not picked or not isinstance(picked[1], dict):
        return data
    ids = [str(k) for k in _nodes(data)]
    shape = rng.randrange(4)
    if shape == 0:
        inputs: Any = _ref(rng, ids)
    elif shape == 1:
        inputs = [_ref(rng, ids) for _ in range(rng.randrange(4))]
    elif shape == 2:
        inputs = {rng.choice(PORTS): _ref(rng, ids) for _ in range(rng.randrange(1, 3))}
    else:
        inputs = [picked[0]]  # itself: a cycle
    picked[1]["inputs"] = inputs
    return data


def duplicate_node(rng: random.Random, data: Any) -> Any:
    picked = _pick_node(rng, data)
    if picked:
        _nodes(data)[rng.choice(IDS) + (str(rng.randrange(3)) if rng.random() < 0.5 else "")] = \
            copy.deepcopy(picked[1])
    return data


def delete_node(rng: random.Random, data: Any) -> Any:
    picked = _pick_node(rng, data)
    if picked:
        del _nodes(data)[picked[0]]
    return data


def reshape_input(rng: random.Random, data: Any) -> Any:
    inputs = [b for b in _nodes(data).values() if isinstance(b, dict) and b.get("block") == "input"]
    if inputs:
        body = rng.choice(inputs)
        params = body.setdefault("params", {})
        if isinstance(params, dict):
            if rng.random() < 0.8:
                params["shape"] = copy.deepcopy(rng.choice(SHAPES))
            else:
                params["dtype"] = rng.choice(["int64", "float32", "float16", 64])
    return data


def expose(rng: random.Random, data: Any) -> Any:
    ids = [str(k) for k in _nodes(data)]
    target = rng.choice([
        f"{rng.choice(ids or ['x'])}.{rng.choice(['out_channels', 'kernel_size', 'bogus', 'shape', ''])}",
        "yes - conv1.out_channels - conv2.out_channels", "conv1", ".", "", "x.shape", "conv1.out_channels.x"])
    exposed = data.get("expose") if isinstance(data.get("expose"), dict) else {}
    exposed[rng.choice(["width", "depth", "shape", "1x", ""])] = rng.choice([target, [target], [target, target], []])
    data["expose"] = exposed
    return data


def composite_path(rng: random.Random, data: Any) -> Any:
    picked = _pick_node(rng, data)
    if picked and isinstance(picked[1], dict):
        picked[1].pop("block", None)
        picked[1]["graph"] = rng.choice(PATHS).replace("{self}", CASE)
    return data


def top_level(rng: random.Random, data: Any) -> Any:
    key = rng.choice(["format", "name", "description", "training", "layout", "nodes", "extra", "Nodes", "expose"])
    data[key] = _random_value(rng, [str(k) for k in _nodes(data)])
    return data


STRUCTURAL: dict[str, Callable[[random.Random, Any], Any]] = {
    "drop_key": drop_key, "set_anything": set_anything, "set_param": set_param, "tweak_param": tweak_param,
    "change_block": change_block,
    "rewire": rewire, "duplicate_node": duplicate_node, "delete_node": delete_node,
    "reshape_input": reshape_input, "expose": expose, "composite_path": composite_path, "top_level": top_level,
}


# --------------------------------------------------------------------- textual mutations
def _lines(text: str) -> list[str]:
    return text.split("\n")


def line_edit(rng: random.Random, text: str) -> str:
    lines = _lines(text)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    action = rng.randrange(5)
    if action == 0:
        del lines[i]
    elif action == 1:
        lines.insert(i, lines[j])
    elif action == 2:
        lines[i], lines[j] = lines[j], lines[i]
    elif action == 3:
        lines[i] = " " * rng.choice([1, 2, 3, 4, 8]) + lines[i]
    else:
        lines[i] = lines[i][rng.choice([1, 2, 4]):]
    return "\n".join(lines)


def insert_token(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice(TOKENS) + text[at:]


def delete_span(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + text[at + rng.randrange(1, 40):]


def truncate(rng: random.Random, text: str) -> str:
    return text[:rng.randrange(len(text) + 1)]


def swap_words(rng: random.Random, text: str) -> str:
    words = sorted(w for w in set(text.replace(",", " ").replace(":", " ").split()) if w.isidentifier())
    if len(words) < 2:
        return text
    a, b = rng.sample(words, 2)
    return text.replace(a, "\x01").replace(b, a).replace("\x01", b) if rng.random() < 0.5 else text.replace(a, b, 1)


def change_number(rng: random.Random, text: str) -> str:
    spots = [i for i, c in enumerate(text) if c.isdigit()]
    if not spots:
        return text
    at = rng.choice(spots)
    end = at
    while end < len(text) and text[end].isdigit():
        end += 1
    new = rng.choice(["0", "-1", "1e309", ".nan", "3.5", "x", "99999999999999999999999", "0x10", "1_000", "00", ""])
    return text[:at] + new + text[end:]


def alias_bomb(rng: random.Random, text: str) -> str:
    """Billion laughs, and large repeated aliases, at the top level and inside values."""
    width, depth = rng.choice([(9, 9), (10, 6), (2, 40), (100, 3), (3, 15)])
    lines = ["lol0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, depth):
        lines.append(f"lol{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    where = rng.choice(["training", "description", "layout", "expose", "bomb", "params"])
    if where == "params":
        body = "\n".join(lines)
        use = f"*l{depth - 1}"
        return text.replace("params: {", "params: {bomb: " + use + ", ", 1).replace(
            "\nnodes:", "\n" + "x-" + body.replace("\n", "\nx-") + "\nnodes:", 1)
    return text + f"\n{where}:\n  " + "\n  ".join(lines) + (f"\n  last: *l{depth - 1}\n" if depth else "\n")


def recursive_alias(rng: random.Random, text: str) -> str:
    form = rng.choice(["training: &r {a: *r}", "training: &r [*r]", "layout: &r {a: [1, *r]}",
                       "expose: &e {w: *e}", "training: {a: &r [x], b: *r, c: *r}", "training: *undefined",
                       "&k a: 1\n*k : 2", "training: {<<: *zz}", "training: &m {a: 1}\nlayout: {<<: *m}",
                       "training: {<<: 1}", "training: {<<: [1, 2]}", "training: {<<: [&x {a: 1}, *x]}",
                       "? [a, b]\n: 1", "? {a: 1}\n: 1", "training: &a {x: 1}\ndescription: &a y\nname: *a"])
    return text + "\n" + form + "\n"


def deep_nesting(rng: random.Random, text: str) -> str:
    depth = rng.choice([30, 70, 200, 1000, 5000, 20000])
    kind = rng.randrange(4)
    if kind == 0:
        value = "[" * depth + "]" * depth
    elif kind == 1:
        value = "{a: " * depth + "1" + "}" * depth
    elif kind == 2:
        value = "\n" + "".join("  " * (i + 1) + "- \n" for i in range(min(depth, 2000))) + "  " * min(depth, 2000) + "x"
    else:
        value = "[" * depth  # unclosed
    return text + f"\n{rng.choice(['training', 'layout', 'description', 'deep'])}: {value}\n"


def long_text(rng: random.Random, text: str) -> str:
    size = rng.choice([10_000, 100_000, 400_000])
    return text.replace("name: ", "name: " + "x" * size + "_", 1) if rng.random() < 0.5 else \
        text + f"\ndescription: '{'y' * size}'\n"


def many_nodes(rng: random.Random, text: str) -> str:
    count = rng.choice([200, 2000, 6000])
    extra = "".join(f"  extra{i}: {{block: relu, inputs: [extra{i - 1}]}}\n" for i in range(count))
    return text.replace("\nnodes:\n", "\nnodes:\n" + extra, 1)


def unicode_noise(rng: random.Random, text: str) -> str:
    chars = ["\0", "\ufeff", "\u2028", "\u202e", "\x85", "\ud800", "é", "𝔘", "\x7f", "\x1b[31m", "\u200b",
             "ｃｏｎｖ"]
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(text) + 1)
        text = text[:at] + rng.choice(chars) + text[at:]
    return text


TEXTUAL: dict[str, Callable[[random.Random, str], str]] = {
    "line_edit": line_edit, "insert_token": insert_token, "delete_span": delete_span, "truncate": truncate,
    "swap_words": swap_words, "change_number": change_number, "alias_bomb": alias_bomb,
    "recursive_alias": recursive_alias, "deep_nesting": deep_nesting, "long_text": long_text,
    "many_nodes": many_nodes, "unicode_noise": unicode_noise,
}


def mutate(rng: random.Random, text: str, steps: int = 0) -> tuple[str, list[str]]:
    """``text`` after 1-3 structural and textual mutations (their names returned)."""
    names: list[str] = []
    steps = steps or rng.choice([1, 1, 2, 3])
    for _ in range(steps):
        if rng.random() < 0.5:
            try:
                data = _load(text)
            except Exception:  # already broken text: keep mutating the text
                data = None
            if isinstance(data, dict):
                # a third of them keep the document plausible: more documents that check
                name = "tweak_param" if rng.random() < 0.33 else rng.choice(sorted(STRUCTURAL))
                names.append(name)
                try:
                    text = _dump(STRUCTURAL[name](rng, data))
                except Exception:  # a value the safe dumper cannot write (e.g. deeply shared)
                    pass
                continue
        name = rng.choice(sorted(TEXTUAL))
        names.append(name)
        text = TEXTUAL[name](rng, text)
    return text, names


# ---------------------------------------------------------------------------- the project
def make_project(folder: Path) -> Path:
    """A project folder as a composite path sees it: the gallery's parts, a FIFO, a link
    out of the project, an empty and a binary file, and a file just outside."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "parts").mkdir(exist_ok=True)
    shutil.copy(GALLERY_DIR / INNER, folder / INNER)
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "empty.yaml").write_text("", encoding="utf-8")
    (folder / "binary.yaml").write_bytes(bytes(range(256)))
    (folder.parent / "outside.yaml").write_text((GALLERY_DIR / "lenet5.yaml").read_text(encoding="utf-8"),
                                                encoding="utf-8")
    if not (folder / "link.yaml").is_symlink():
        os.symlink("/etc/passwd", folder / "link.yaml")
    if not (folder / "fifo.yaml").exists() and hasattr(os, "mkfifo"):
        os.mkfifo(folder / "fifo.yaml")
    return folder


def gallery_texts(names: list[str] | None = None) -> dict[str, str]:
    files = sorted(GALLERY_DIR.glob("*.yaml")) + [GALLERY_DIR / INNER]
    return {str(p.relative_to(GALLERY_DIR)): p.read_text(encoding="utf-8") for p in files
            if names is None or p.stem in names}


# ---------------------------------------------------------------------------- verdicts
@dataclass
class Outcome:
    """What happened to one document: ``kind`` is "loads", "problems", or a failure
    ("traceback", "slow", "bad problem", "accepted but crashes", "wrong shape")."""

    kind: str
    seconds: float  # loading and analysis
    detail: str = ""
    ran: str = ""  # "cpu", "meta" or why the forward pass was skipped
    total: float = 0.0  # with compile and forward

    @property
    def failed(self) -> bool:
        return self.kind not in ("loads", "problems")


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


# A real forward pass is only run where it costs little: parameters and multiply-
# accumulates per sample at most these (the gallery's small models). Bigger ones run on
# the meta device, which checks every shape without computing, except where a recurrent
# block would run there step by step (about 2 ms a step: minutes for a long sequence).
# Documents that declare more than META_ELEMENTS elements in one tensor, or parameters,
# are skipped: no real graph does, and torch's sizes overflow past 2**63.
CPU_PARAMS, CPU_MACS, CPU_ELEMENTS = 2_000_000, 50_000_000, 1_000_000
META_ELEMENTS = 2**40
RECURRENT = ("rnn", "lstm", "gru")


def _inputs(analysis: Any, device: str, batch: int = 2) -> list:
    import torch

    tensors = []
    for node_id in analysis.input_ids:
        info = analysis.nodes[node_id]
        shape = (batch, *info.shape)
        if info.dtype == "int64":
            sizes = [analysis.nodes[n].params.num_embeddings for n in analysis.order
                     if analysis.nodes[n].block is not None and analysis.nodes[n].block.name == "embedding"
                     and any(r.node == node_id for refs in analysis.nodes[n].inputs.values() for r in refs)]
            tensors.append(torch.randint(0, min(sizes, default=2), shape, device=device))
        else:
            tensors.append(torch.randn(shape, device=device))
    return tensors


def _uses(analysis: Any, names: tuple[str, ...]) -> bool:
    """Whether the graph, or a graph file used in it, has a block named in ``names``."""
    for info in analysis.nodes.values():
        if info.block is not None and info.block.name in names:
            return True
        inner = getattr(info.block, "_cache", None)
        if inner and any(_uses(a, names) for a in inner.values()):
            return True
    return False


def run_forward(analysis: Any) -> str:
    """Compile and run the checked graph; returns where it ran, raises on any mismatch."""
    import torch

    from builder import compile_graph

    largest = max((math.prod(s) for info in analysis.nodes.values() for s in info.outputs.values()), default=0)
    total = analysis.total
    if largest > META_ELEMENTS or total.params > META_ELEMENTS:
        return "skipped: a tensor of more than 2**40 elements"
    small = total.params <= CPU_PARAMS and total.macs <= CPU_MACS and largest <= CPU_ELEMENTS
    if not small and _uses(analysis, RECURRENT):
        return "skipped: a large recurrent graph (the meta device runs it step by step)"
    device = "cpu" if small else "meta"
    model = compile_graph(analysis.graph, device=device, analysis=analysis)
    with torch.no_grad():  # in training mode, as the first training step runs it (dropout, batch norm)
        outputs = model.train()(*_inputs(analysis, device))
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    expected = [analysis.nodes[o].shape for o in analysis.output_ids]
    found = [tuple(o.shape[1:]) for o in outputs]
    if found != expected:
        raise AssertionError(f"analysis promised output shapes {expected}, the module gave {found}")
    return device


def check_document(path: Path, *, limit_s: float = 10.0, slow_s: float = 2.0, forward: bool = True) -> Outcome:
    """Load, analyze, and (when it checks) compile and run ``path``; the verdict. Loading
    and analysis together are "slow" past ``slow_s`` and stopped at ``limit_s``."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    start = time.perf_counter()
    stage = ["load_graph"]
    try:
        try:
            return _verdict(path, start, stage, slow_s, forward)
        except _Timeout:
            raise
        except RecursionError:
            return Outcome("traceback", time.perf_counter() - start, f"{stage[0]}: RecursionError")
        except Exception:  # MemoryError too: the address space is limited in bench/fuzz_graphs.py
            return Outcome("traceback", time.perf_counter() - start, f"{stage[0]}: " + traceback.format_exc(limit=-4))
    except _Timeout:  # the alarm fires once, so this handler is never interrupted
        return Outcome("slow", time.perf_counter() - start, f"{stage[0]} still running after {limit_s:.0f} s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _verdict(path: Path, start: float, stage: list[str], slow_s: float, forward: bool) -> Outcome:
    from builder import GraphError, Problem, analyze, load_graph
    from builder.safe_yaml import READER_FAILED

    try:
        graph = load_graph(path)
    except GraphError as err:
        seconds = time.perf_counter() - start
        bad = [p for p in err.problems if not isinstance(p, Problem) or not p.file
               or p.line is None or p.column is None or not p.hint]
        if not err.problems or bad:
            return Outcome("bad problem", seconds, "\n".join(map(repr, bad or ["no problems"])))
        if any(p.message.startswith(READER_FAILED) for p in err.problems):  # the last-resort catch
            return Outcome("traceback", seconds, err.problems[0].message)
        return Outcome("slow" if seconds > slow_s else "problems", seconds, str(err.problems[0])[:300])
    stage[0] = "analyze"
    analysis = analyze(graph)
    seconds = time.perf_counter() - start
    if any(not isinstance(p, Problem) for p in analysis.problems):
        return Outcome("bad problem", seconds, repr(analysis.problems))
    if seconds > slow_s:
        return Outcome("slow", seconds, f"load + analyze took {seconds:.2f} s")
    if not analysis.ok:
        return Outcome("problems", seconds, str(analysis.errors[0])[:300])
    if not forward:
        return Outcome("loads", seconds)
    stage[0] = "compile and forward"
    try:
        ran = run_forward(analysis)
    except _Timeout:
        raise
    except AssertionError as err:
        return Outcome("wrong shape", seconds, str(err), total=time.perf_counter() - start)
    except Exception:
        return Outcome("accepted but crashes", seconds, traceback.format_exc(limit=-6),
                       total=time.perf_counter() - start)
    return Outcome("loads", seconds, ran=ran, total=time.perf_counter() - start)


def write_case(project: Path, source: str, text: str) -> Path:
    """Write a mutated document where it is checked: a mutated composite part replaces
    the project's part and is checked through unet_small.yaml, which uses it."""
    if source == INNER:
        (project / INNER).write_text(text, encoding="utf-8", errors="surrogatepass")
        case = project / CASE
        case.write_text((GALLERY_DIR / "unet_small.yaml").read_text(encoding="utf-8"), encoding="utf-8")
        return case
    shutil.copy(GALLERY_DIR / INNER, project / INNER)
    case = project / CASE
    case.write_text(text, encoding="utf-8", errors="surrogatepass")
    return case


def check_cli(path: Path) -> Outcome:
    """``modelbuilder check PATH``, in this process: exit status 0 or 1, no traceback."""
    import contextlib

    from builder.cli import main

    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["check", str(path)])
    except SystemExit as exit_:
        status = exit_.code
    except Exception:
        return Outcome("traceback", time.perf_counter() - start, "modelbuilder check: " + traceback.format_exc(-4))
    text = out.getvalue() + err.getvalue()
    if status not in (0, 1) or "Traceback" in text:
        return Outcome("traceback", time.perf_counter() - start, f"modelbuilder check exited {status}: {text[-500:]}")
    return Outcome("loads" if status == 0 else "problems", time.perf_counter() - start)
