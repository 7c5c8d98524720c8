"""Batches for the training loop, from in-memory arrays or any torch Dataset.

Small data sets (everything built in, .npz, .csv, image folders) live on the device as
whole tensors and a batch is one indexing operation: no DataLoader, no per-sample Python.
Other datasets (torchvision's) go through a DataLoader that follows the same shuffled
order, so a run and its resumption see the same batches either way.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from builder.data import ArrayData

Batch = tuple[list[torch.Tensor], torch.Tensor]


class _Order(Sampler[list[int]]):
    """Yields a fixed sequence of batches of indices (slices of the epoch's permutation)."""

    def __init__(self, indices: Sequence[Sequence[int]]):
        self.indices = indices

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def on_device(data: ArrayData | Dataset, device: torch.device) -> ArrayData | Dataset:
    """In-memory data moved to the device once; other datasets are left as they are."""
    if isinstance(data, ArrayData):
        return ArrayData([t.to(device) for t in data.inputs], data.targets.to(device))
    return data


def batch_count(n: int, batch_size: int, world: int = 1) -> int:
    """Optimizer steps per epoch. With several processes a last partial batch smaller than
    the number of processes is left out (some rank would get no sample)."""
    full, tail = divmod(n, batch_size)
    return max(1, full + (1 if tail and tail >= world else 0)) if n else 1


def training_batches(data: ArrayData | Dataset, order: torch.Tensor, start: int, batch_size: int,
                     device: torch.device, workers: int = 0, rank: int = 0, world: int = 1,
                     memory_format: torch.memory_format | None = None) -> Iterator[Batch]:
    """The batches of one epoch in ``order`` (a permutation), from batch number ``start``.

    With ``world`` processes every rank sees the same global batches of ``batch_size``
    samples and takes its slice ``rank`` of each (``batch_size / world`` samples), so the
    processes together make exactly the steps one process would make."""
    steps = batch_count(len(order), batch_size, world)
    if isinstance(data, ArrayData):
        order = order.to(data.targets.device)
        for b in range(start, steps):
            index = order[b * batch_size:(b + 1) * batch_size]
            if world > 1:
                index = index.tensor_split(world)[rank]
            xs = [t[index] for t in data.inputs]
            y = data.targets[index]
            if xs[0].device != device:  # data kept on the host: pinned, copied without waiting
                xs = [_to(x, device) for x in xs]
                y = _to(y, device)
            yield _formatted(xs, memory_format), y
        return
    chunks = []
    for b in range(start, steps):
        index = order[b * batch_size:(b + 1) * batch_size]
        if world > 1:
            index = index.tensor_split(world)[rank]
        chunks.append(index.tolist())
    for xs, y in _loader(data, chunks, device, workers):
        yield _formatted(xs, memory_format), y


def _to(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def _formatted(xs: list[torch.Tensor], memory_format: torch.memory_format | None) -> list[torch.Tensor]:
    """Image batches (4-D) in channels-last order for a channels-last model."""
    if memory_format is None:
        return xs
    return [x.contiguous(memory_format=memory_format) if x.dim() == 4 else x for x in xs]


def shard(data: ArrayData | Dataset, rank: int, world: int) -> ArrayData | Dataset:
    """This rank's contiguous share of ``data`` (for evaluation: every sample on one rank)."""
    if world <= 1:
        return data
    n = len(data)
    begin, end = n * rank // world, n * (rank + 1) // world
    if isinstance(data, ArrayData):
        return ArrayData([t[begin:end] for t in data.inputs], data.targets[begin:end])
    return Subset(data, range(begin, end))


def evaluation_batches(data: ArrayData | Dataset, batch_size: int, device: torch.device,
                       workers: int = 0) -> Iterator[Batch]:
    """Every sample once, in order."""
    if isinstance(data, ArrayData):
        for begin in range(0, len(data.targets), batch_size):
            yield [t[begin:begin + batch_size] for t in data.inputs], data.targets[begin:begin + batch_size]
        return
    indices = list(range(len(data)))
    yield from _loader(data, [indices[i:i + batch_size] for i in range(0, len(indices), batch_size)], device,
                       workers)


def _loader(data: Dataset, batches: Sequence[Sequence[int]], device: torch.device, workers: int):
    loader = DataLoader(data, batch_sampler=_Order(batches), num_workers=workers,
                        pin_memory=device.type == "cuda", persistent_workers=False)
    for inputs, target in loader:
        xs = [x.to(device, non_blocking=True) for x in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
        yield xs, target.to(device, non_blocking=True)
