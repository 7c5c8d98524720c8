"""Do exported models compute what the compiled model does, and how fast do they run?

    .venv/bin/python bench/export_parity.py [--graphs a,b] [--formats onnx,...] [--quick] [--big]
                                            [--budget S] [--threads N]

For each gallery graph (``graphs/*.yaml``, untrained weights from ``from_graph``, seed 0)
it exports the model in each format through ``builder.export`` (bundle, python,
torchscript, onnx) into a temporary folder, loads what was written the way a user would
(``load_bundle``; ``model.py``'s ``load()``; ``torch.jit.load``; an onnxruntime CPU
session), and on the same random inputs at batch 1 and batch 32 measures

* the max abs difference of its outputs from the compiled model's (the largest of those
  two batches and of the export's own check, ``ExportResult.max_difference``);
* the inference latency ratio format / compiled model: one forward pass (torch ones
  under ``torch.no_grad()``; onnxruntime including its numpy in and out), timed in
  interleaved rounds (see README.md).

A format whose writer module does not exist yet, or whose export raises
NotImplementedError or ImportError (onnx without onnxruntime installed) prints ``n/a``.
By default batch 32 is skipped for graphs over 1 GMAC a sample (googlenet, resnet18,
resnet50, se_resnet50, vgg16): ``--big`` times them too (several minutes more on 2 cores).

Output: a table (graph, format, max abs diff, ms and ratio at batch 1 and 32), then
``key=value`` lines: per format ``<format>_max_abs_diff`` and the median and worst over
graphs of ``<format>_latency_ratio_b1``/``_b32``, and last ``worst_max_abs_diff``. The exit
status is 0 whatever the latencies, 1 if an export failed or differs by more than 1e-4.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

FORMATS = ("bundle", "python", "torchscript", "onnx")
QUICK_GRAPHS = ("lenet5", "lstm_classifier", "transformer_classifier")
BIG_MACS = 1e9  # MACs per sample over which batch 32 needs --big
BATCHES = (1, 32)
TOLERANCE = 1e-4


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def load_report(threads: int) -> str:
    """The load averages, with a warning when other processes compete for the CPU."""
    try:
        loads = os.getloadavg()
    except (AttributeError, OSError):  # Windows
        return "load average unknown"
    cores = os.cpu_count() or 1
    text = f"load average {loads[0]:.2f} {loads[1]:.2f} {loads[2]:.2f} on {cores} cores"
    if loads[0] > max(1.0, cores - threads + 0.5):
        text += ("\nwarning: other processes compete for the CPU; times will be inflated and noisy"
                 " (--threads 1 is steadier on a busy machine)")
    return text


def steady_malloc() -> str:
    """Stop glibc's malloc from handing freed memory back to the OS after each call.

    By default glibc adapts its mmap and trim thresholds to what was freed last; after
    the large buffers of earlier exports, the small per-call tensors of a later model
    were returned to the OS and page-faulted in again on every call, depending on which
    runner ran before (transformer_classifier at batch 1: 0.63 ms alone, 0.7-1.2 ms after
    lenet5's exports). Fixed thresholds, as MALLOC_TRIM_THRESHOLD_ and
    MALLOC_MMAP_THRESHOLD_ would set, make each runner's time its own."""
    if not sys.platform.startswith("linux"):
        return "malloc: platform default"
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        if libc.mallopt(M_TRIM_THRESHOLD, 1 << 30) and libc.mallopt(M_MMAP_THRESHOLD, 32 << 20):
            return "malloc: fixed trim (1 GiB) and mmap (32 MiB) thresholds"
    except (OSError, AttributeError):
        pass
    return "malloc: platform default (no glibc mallopt)"


# --- loading what an export wrote ------------------------------------------------------

def import_model_py(path: Path):
    spec = importlib.util.spec_from_file_location(f"exported_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torch_runner(model) -> Callable:
    import torch

    def run(*tensors):
        with torch.no_grad():
            return model(*tensors)

    return run


def onnx_runner(path: Path, input_names: list[str], threads: int) -> Callable:
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(*tensors):
        found = session.run(None, {name: t.numpy() for name, t in zip(input_names, tensors, strict=True)})
        return tuple(torch.from_numpy(a) for a in found)

    return run


def load_export(fmt: str, path: Path, trained, threads: int) -> Callable:
    """A callable that runs what ``builder.export`` wrote at ``path``, as a user would."""
    import torch

    if fmt == "bundle":
        from builder.exporting.bundle import load_bundle

        return torch_runner(load_bundle(path))
    if fmt == "python":
        return torch_runner(import_model_py(path).load())
    if fmt == "torchscript":
        return torch_runner(torch.jit.load(str(path)).eval())
    if fmt == "onnx":
        return onnx_runner(path, [p.name for p in trained.inputs], threads)
    raise ValueError(fmt)


def unavailable(fmt: str, err: BaseException) -> bool:
    """Whether ``err`` means "this format cannot be used here" (n/a), not "export failed"."""
    from builder.exporting.errors import ExportError

    if isinstance(err, (NotImplementedError, ImportError)):
        return True
    return isinstance(err, ExportError) and "pip install" in (err.hint or "")


# --- timing ----------------------------------------------------------------------------

@dataclass
class Measured:
    """One format of one graph."""

    status: str = "ok"  # ok, n/a, FAIL
    reason: str = ""
    difference: float = 0.0
    ms: dict[int, float] = field(default_factory=dict)  # batch -> median ms
    ratio: dict[int, float] = field(default_factory=dict)  # batch -> median per-round ratio


def time_once(run: Callable, tensors) -> float:
    start = time.perf_counter()
    run(*tensors)
    return time.perf_counter() - start


def compare(runners: dict[str, Callable], tensors, first: dict[str, float], rounds: int, budget_s: float,
            min_rounds: int = 3) -> dict[str, list[float]]:
    """Per-round seconds per call of each runner. ``first``: each runner's first call on
    ``tensors`` (already made, by the output check), the warm-up; fast runners get up to 2
    more untimed calls within 1/8 of the budget. Each round then times every runner (up
    to 7 back-to-back calls for fast models after one untimed call, one call for slow ones;
    the fastest kept, which drops calls that another process stalled), alternating the
    order between rounds. Stops at ``rounds`` or, after ``min_rounds``, when ``budget_s``
    is spent."""
    names = list(runners)
    single = dict(first)
    for name in names:
        stop = time.perf_counter() + budget_s / (8 * len(names))
        for _ in range(2):
            if time.perf_counter() + single[name] > stop:
                break
            single[name] = time_once(runners[name], tensors)
    # a few calls a round for fast models (per-call jitter), one for slow ones
    iters = max(1, min(7, int(0.05 / max(max(single.values()), 1e-6))))
    times: dict[str, list[float]] = {name: [] for name in names}
    deadline = time.perf_counter() + budget_s
    gc.collect()
    gc.disable()  # inference makes next to no cyclic garbage; a collection would land on one runner
    try:
        for r in range(rounds):
            if r >= min_rounds and time.perf_counter() > deadline:
                break
            for name in (names if r % 2 == 0 else names[::-1]):
                if iters > 1:  # fast models: one untimed call first, its caches warmed again
                    runners[name](*tensors)
                times[name].append(min(time_once(runners[name], tensors) for _ in range(iters)))
    finally:
        gc.enable()
    return times


# --- one graph -------------------------------------------------------------------------

def bench_graph(path: Path, formats: list[str], args, folder: Path) -> tuple[dict[str, Measured], list[int], str]:
    import torch

    from builder import analyze, load_graph
    from builder.exporting.api import DEFAULT_NAMES, export
    from builder.exporting.parity import example_inputs, max_difference
    from builder.exporting.source import from_graph

    graph = load_graph(path)
    trained = from_graph(graph)
    macs = analyze(graph).total.macs
    batches = [b for b in BATCHES if b == 1 or args.big or macs <= BIG_MACS]
    results: dict[str, Measured] = {}
    runners: dict[str, Callable] = {"compiled": torch_runner(trained.model)}
    export_s = {}
    for fmt in formats:
        measured = results[fmt] = Measured()
        out = folder / f"{path.stem}-{fmt}" / DEFAULT_NAMES[fmt].format(name=path.stem)
        start = time.perf_counter()
        try:
            importlib.import_module(f"builder.exporting.{export_module(fmt)}")
            result = export(trained, fmt, out)
            runners[fmt] = load_export(fmt, result.path, trained, args.threads)
        except Exception as err:  # a writer not there yet, or one that fails: report it
            measured.status = "n/a" if unavailable(fmt, err) else "FAIL"
            measured.reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            continue
        export_s[fmt] = time.perf_counter() - start
        measured.difference = result.max_difference or 0.0

    for batch in batches:
        tensors = example_inputs(trained.inputs, batch=batch, seed=1)
        first = {}
        start = time.perf_counter()
        expected = runners["compiled"](*tensors)
        first["compiled"] = time.perf_counter() - start
        for fmt in list(runners)[1:]:
            try:
                start = time.perf_counter()
                found = runners[fmt](*tensors)
                first[fmt] = time.perf_counter() - start
            except Exception as err:
                results[fmt].status, results[fmt].reason = "FAIL", f"batch {batch}: {type(err).__name__}: {err}"
                del runners[fmt]
                continue
            results[fmt].difference = max(results[fmt].difference, max_difference(expected, found))
        heavy = macs * batch > 20e9
        rounds = args.rounds if not heavy else max(3, args.rounds // 3)
        times = compare(runners, tensors, first, rounds=rounds, budget_s=args.budget)
        base = times["compiled"]
        results.setdefault("compiled", Measured()).ms[batch] = statistics.median(base) * 1e3
        for fmt in list(runners)[1:]:
            results[fmt].ms[batch] = statistics.median(times[fmt]) * 1e3
            results[fmt].ratio[batch] = statistics.median(t / c for t, c in zip(times[fmt], base, strict=True))
        results["compiled"].reason = f"{len(base)} rounds"
        del tensors, expected
    made = ", ".join(f"{fmt} {s:.1f}s" for fmt, s in export_s.items())
    del runners, trained
    gc.collect()
    return results, batches, f"{macs / 1e9:.2f} GMACs/sample; exports: {made or 'none'}"


def export_module(fmt: str) -> str:
    from builder.exporting.api import FORMATS as WRITERS

    return WRITERS[fmt].split(":")[0].rsplit(".", 1)[1]


# --- main ------------------------------------------------------------------------------

def cell(measured: Measured, batch: int) -> str:
    if batch not in measured.ms:
        return f"{'-':>9} {'':>7}"
    ratio = f"x{measured.ratio[batch]:.2f}" if batch in measured.ratio else ""
    return f"{measured.ms[batch]:9.2f} {ratio:>7}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graphs", help="comma-separated gallery names (default: all of graphs/*.yaml)")
    parser.add_argument("--formats", default=",".join(FORMATS), help=f"comma-separated (default: {','.join(FORMATS)})")
    parser.add_argument("--quick", action="store_true",
                        help=f"only {', '.join(QUICK_GRAPHS)}, fewer rounds (a smoke run)")
    parser.add_argument("--big", action="store_true",
                        help=f"also batch 32 of graphs over {BIG_MACS / 1e9:.0f} GMACs a sample (vgg16, resnet50...)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per graph and batch (default 15, quick 5)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds after which a graph and batch stops adding rounds (default 8, quick 2)")
    parser.add_argument("--threads", type=int, default=available_cores(),
                        help="torch and onnxruntime intra-op threads (default: the cores available)")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (5 if args.quick else 15)
    args.budget = args.budget if args.budget is not None else (2.0 if args.quick else 8.0)

    import torch

    gallery = sorted((ROOT / "graphs").glob("*.yaml"))
    names = {p.stem: p for p in gallery}
    wanted = args.graphs.split(",") if args.graphs else (list(QUICK_GRAPHS) if args.quick else list(names))
    unknown = [n for n in wanted if n not in names]
    if unknown:
        parser.error(f"--graphs: not in the gallery: {', '.join(unknown)} (choose from {', '.join(names)})")
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if any(f not in FORMATS for f in formats):
        parser.error(f"--formats: choose from {', '.join(FORMATS)}")

    torch.set_num_threads(args.threads)
    allocator = steady_malloc()
    versions = [f"torch {torch.__version__}"]
    try:
        import onnxruntime

        versions.append(f"onnxruntime {onnxruntime.__version__}")
    except ImportError:
        versions.append("onnxruntime not installed")
    print(f"{', '.join(versions)}, cpu, {args.threads} threads, {allocator}; {load_report(args.threads)}")
    print(f"latency: median ms of one forward pass; ratio = format / compiled (median of per-round ratios)")

    began = time.perf_counter()
    table: dict[str, dict[str, Measured]] = {}
    header = f"{'graph':<23} {'format':<12} {'max abs diff':>12} {'b1 ms':>9} {'ratio':>7} {'b32 ms':>9} {'ratio':>7}"
    print()
    print(header)
    with tempfile.TemporaryDirectory(prefix="export_parity_") as scratch:
        for name in wanted:
            results, batches, summary = bench_graph(names[name], formats, args, Path(scratch))
            table[name] = results
            compiled = results["compiled"]
            print(f"{name:<23} {'compiled':<12} {'':>12} {cell(compiled, 1)} {cell(compiled, 32)}   "
                  f"[{summary}; {compiled.reason}{'' if 32 in batches else '; b32 needs --big'}]")
            for fmt in formats:
                measured = results[fmt]
                if measured.status != "ok":
                    print(f"{'':<23} {fmt:<12} {measured.status:>12}   {measured.reason[:110]}")
                    continue
                print(f"{'':<23} {fmt:<12} {measured.difference:12.3g} {cell(measured, 1)} {cell(measured, 32)}")
            sys.stdout.flush()
    print(f"\ntiming took {time.perf_counter() - began:.0f} s; {load_report(args.threads)}")

    failed = [f"{g}/{f}" for g, res in table.items() for f in formats if res[f].status == "FAIL"]
    worst = 0.0
    lines = []
    for fmt in formats:
        done = [res[fmt] for res in table.values() if res[fmt].status == "ok"]
        if not done:
            lines.append(f"{fmt}_max_abs_diff=n/a")
            continue
        diff = max(m.difference for m in done)
        worst = max(worst, diff)
        lines.append(f"{fmt}_max_abs_diff={diff:.3g}")
        for batch in BATCHES:
            ratios = [m.ratio[batch] for m in done if batch in m.ratio]
            if ratios:
                lines.append(f"{fmt}_latency_ratio_b{batch}_median={statistics.median(ratios):.3f}")
                lines.append(f"{fmt}_latency_ratio_b{batch}_worst={max(ratios):.3f}")
    too_far = [f"{g}/{f}" for g, res in table.items() for f in formats
               if res[f].status == "ok" and not res[f].difference <= TOLERANCE]
    if failed or too_far:
        print(f"failed: {', '.join(failed) or 'none'}; over {TOLERANCE:g}: {', '.join(too_far) or 'none'}")
    for line in lines:
        print(line)
    print(f"failed_exports={len(failed)}")
    print(f"worst_max_abs_diff={worst:.3g}")
    return 1 if failed or too_far else 0


if __name__ == "__main__":
    sys.exit(main())
