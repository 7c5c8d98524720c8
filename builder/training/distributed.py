"""Several processes, one run: DistributedDataParallel under torchrun.

``torchrun --nproc-per-node N -m builder train GRAPH.yaml`` (or ``modelbuilder train
--nproc N GRAPH.yaml``, which starts torchrun itself) runs N copies of the trainer. Each
reads ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` from the environment torchrun sets up
and joins one process group (NCCL for CUDA tensors, gloo for CPU tensors). Every rank
walks the same shuffled order and takes its own slice of each global batch, gradients are
averaged by DDP, and metrics are summed across ranks only when something reads them.
Rank 0 alone writes the run folder and emits events. docs/distributed.md is the user's
side of this.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """Where this process stands: ``size`` processes in all, this one is ``rank``."""

    size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


SINGLE = World()


def env_world() -> World:
    """The world torchrun describes in the environment (a single process without it)."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        return SINGLE
    return World(size, rank, local) if size > 1 else SINGLE


_initialized_here = False


def init_from_env() -> World:
    """Join the process group torchrun set up (once; later calls return the same world).
    CUDA tensors go over NCCL and CPU tensors over gloo, so the device can be chosen later."""
    global _initialized_here
    world = env_world()
    if not world.enabled:
        return world
    if not dist.is_available():
        raise RuntimeError("this PyTorch build has no torch.distributed; train with one process")
    if not dist.is_initialized():
        cuda = torch.cuda.is_available() and dist.is_nccl_available()
        if cuda:
            torch.cuda.set_device(world.local_rank % torch.cuda.device_count())
        dist.init_process_group(backend="cpu:gloo,cuda:nccl" if cuda else "gloo")
        _initialized_here = True
    return world


def shutdown() -> None:
    """Wait for every rank, then leave the process group (only if this module joined it)."""
    global _initialized_here
    if _initialized_here and dist.is_initialized():
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()
            _initialized_here = False


def rank_device(device: torch.device, world: World) -> torch.device:
    """One GPU per process: ``cuda`` becomes ``cuda:LOCAL_RANK``."""
    if world.enabled and device.type == "cuda" and device.index is None:
        return torch.device("cuda", world.local_rank % torch.cuda.device_count())
    return device


def all_sum(values: torch.Tensor, world: World) -> torch.Tensor:
    """The element-wise sum of ``values`` over all ranks (``values`` itself on one process)."""
    if world.enabled:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def broadcast(value, world: World):
    """Rank 0's ``value`` on every rank (any picklable object)."""
    if not world.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def sync_buffers(module: torch.nn.Module, world: World) -> None:
    """Rank 0's buffers (batch-norm running statistics) on every rank, as DDP does before each
    forward: evaluation and checkpoints then see the same model everywhere."""
    if world.enabled:
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


def barrier(world: World) -> None:
    if world.enabled:
        dist.barrier()


def torchrun_command(argv: Sequence[str], nproc: int, python: str | None = None) -> list[str]:
    """The command that runs ``modelbuilder train ARGV`` on ``nproc`` processes: torchrun
    (as ``python -m torch.distributed.run``) around ``python -m builder train``, with
    ``--nproc``/``--nproc=N`` removed from the arguments."""
    rest: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--nproc":
            skip = True
            continue
        if arg.startswith("--nproc="):
            continue
        rest.append(arg)
    if rest and rest[0] == "train":
        rest = rest[1:]
    return [python or sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "builder", "train", *rest]
