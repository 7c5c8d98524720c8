"""Hostile and careless graph files, 10,000 of them: no traceback, no hang, no crash.

    .venv/bin/python bench/fuzz_graphs.py [--count 10000] [--seed 0] [--cli 20] [--keep DIR] [--start N --trace]

Run before a release (tests/builder/test_graph_fuzz.py runs the same checks on a few
dozen documents in every test run). Each document is a gallery graph after one to three
mutations from tests/builder/graph_mutations.py: structural ones (drop a key, set any
value to anything, change a block, rewire inputs, odd input shapes, exposed parameters,
composite paths to folders, to the file itself, to /etc/passwd, /dev/zero, a FIFO, with
NUL bytes or ../) and textual ones (edit, swap and truncate lines, insert YAML syntax,
alias bombs, self-containing aliases, nesting thousands deep, long text, thousands of
nodes, control characters and odd unicode). A mutated composite part is checked through
unet_small.yaml, which uses it.

Every document is loaded and analyzed (``load_graph`` + ``analyze``); one that checks is
compiled and run forward on random input of its declared shapes (CPU for small models,
the meta device for large ones; see ``run_forward``). A failure is a traceback, a
problem without file, line, column or hint, a document that takes more than ``--slow``
seconds to load and analyze (or is stopped at ``--limit``), a checked document whose
compile or forward pass crashes, or one whose outputs differ from the analysis's shapes.
``--cli N`` also runs ``modelbuilder check`` on every N-th document. Ends with
``key=value`` lines; exits 0 whatever the figures (1 with --strict and any failure).
"""

from __future__ import annotations

import argparse
import collections
import faulthandler
import os
import random
import resource
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from tests.builder.graph_mutations import (  # noqa: E402
    check_cli, check_document, gallery_texts, make_project, mutate, write_case,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="documents to try (default 10,000)")
    parser.add_argument("--seed", type=int, default=0, help="the run is reproducible from it")
    parser.add_argument("--cli", type=int, default=20, help="also run 'modelbuilder check' on every N-th (0: never)")
    parser.add_argument("--slow", type=float, default=2.0, help="seconds of load + analyze that count as a hang")
    parser.add_argument("--limit", type=float, default=10.0, help="seconds after which a document is stopped")
    parser.add_argument("--memory-gb", type=float, default=8.0, help="address-space limit (a bomb fails, not the box)")
    parser.add_argument("--keep", type=Path, help="copy every failing document into this folder")
    parser.add_argument("--start", type=int, default=0, help="generate but skip the documents before this one")
    parser.add_argument("--trace", action="store_true", help="print each document's number before checking it")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any document fails")
    args = parser.parse_args()

    faulthandler.enable()  # a crash inside PyTorch or the YAML library says where
    limit = int(args.memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    warnings.simplefilter("ignore")  # the mutator's own YAML reader warns about reused anchors
    import torch

    torch.set_num_threads(1)
    texts = gallery_texts()
    sources = sorted(texts)
    project = make_project(Path(tempfile.mkdtemp(prefix="fuzz_graphs_")) / "project")
    rng = random.Random(args.seed)
    outcomes: collections.Counter = collections.Counter()
    failures: dict[str, list[tuple[int, str, list[str], str]]] = collections.defaultdict(list)
    ran: collections.Counter = collections.Counter()
    mutations: collections.Counter = collections.Counter()
    worst = (0.0, -1, "", [])  # load + analyze
    worst_total = (0.0, -1, "", [])  # with compile and forward
    cli_runs = 0
    print(f"{args.count:,} documents from {len(sources)} gallery files, seed {args.seed}, torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    started = time.perf_counter()
    for index in range(args.count):
        source = rng.choice(sources)
        text, names = mutate(rng, texts[source])
        if index < args.start:
            continue
        mutations.update(names)
        if args.trace:
            print(f"#{index} {source} {names}", file=sys.stderr, flush=True)
        case = write_case(project, source, text)
        outcome = check_document(case, limit_s=args.limit, slow_s=args.slow)
        if outcome.seconds > worst[0]:
            worst = (outcome.seconds, index, source, names)
        if max(outcome.total, outcome.seconds) > worst_total[0]:
            worst_total = (max(outcome.total, outcome.seconds), index, source, names)
        if args.cli and index % args.cli == 0 and not outcome.failed:
            cli_runs += 1
            cli = check_cli(case)
            if cli.failed:
                outcome = cli
        outcomes[outcome.kind] += 1
        if outcome.ran:
            ran[outcome.ran.split(":")[0]] += 1
        if outcome.failed:
            detail = (outcome.detail.strip().splitlines() or [""])[-1][:200]
            failures[outcome.kind].append((index, source, names, detail))
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(case, args.keep / f"{index:05d}_{Path(source).stem}.yaml")
        if (index + 1) % 1000 == 0:
            print(f"  {index + 1:,} documents, {sum(len(v) for v in failures.values())} failures, "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
    shutil.rmtree(project.parent, ignore_errors=True)

    failed = sum(len(v) for v in failures.values())
    print(f"\ndocuments tried: {args.count - args.start:,} ({time.perf_counter() - started:.0f} s)")
    print(f"  refused with problems: {outcomes['problems']:,}; loaded and checked: {outcomes['loads']:,} "
          f"(forward pass on CPU {ran['cpu']:,}, on the meta device {ran['meta']:,}, skipped {ran['skipped']:,})")
    print(f"  also through 'modelbuilder check': {cli_runs:,}")
    print("  mutations: " + ", ".join(f"{name} {count}" for name, count in sorted(mutations.items())))
    print(f"failures: {failed}")
    for kind, cases in sorted(failures.items()):
        print(f"  {kind}: {len(cases)}")
        for index, source, names, detail in cases[:5]:
            print(f"    #{index} {source} {names}: {detail}")
    print(f"worst load + analyze: {worst[0]:.3f} s (#{worst[1]} {worst[2]} {worst[3]})")
    seconds, index, source, names = worst_total
    print(f"worst with compile and forward: {seconds:.3f} s (#{index} {source} {names})")
    print(f"documents={args.count - args.start}")
    print(f"failures={failed}")
    for kind in ("traceback", "slow", "bad problem", "accepted but crashes", "wrong shape"):
        print(f"failures_{kind.replace(' ', '_')}={len(failures.get(kind, []))}")
    print(f"worst_load_s={worst[0]:.3f}")
    print(f"worst_total_s={worst_total[0]:.3f}")
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
