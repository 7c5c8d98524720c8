"""Batches for the training loop, from in-memory arrays or any torch Dataset.

Small data sets (everything built in, .npz, .csv, image folders) live on the device as
whole tensors and a batch is one indexing operation: no DataLoader, no per-sample Python.
Other datasets (torchvision's) go through a DataLoader that follows the same shuffled
order, so a run and its resumption see the same batches either way.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from builder.data import ArrayData

Batch = tuple[list[torch.Tensor], torch.Tensor]


class _Order(Sampler[int]):
    """Yields a fixed sequence of indices (a slice of the epoch's permutation)."""

    def __init__(self, indices: Sequence[int]):
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


def training_batches(data: ArrayData | Dataset, order: torch.Tensor, start: int, batch_size: int,
                     device: torch.device, workers: int = 0) -> Iterator[Batch]:
    """The batches of one epoch in ``order`` (a permutation), from batch number ``start``."""
    if isinstance(data, ArrayData):
        order = order.to(device)
        for begin in range(start * batch_size, len(order), batch_size):
            index = order[begin:begin + batch_size]
            yield [t[index] for t in data.inputs], data.targets[index]
        return
    yield from _loader(data, order[start * batch_size:].tolist(), batch_size, device, workers)


def evaluation_batches(data: ArrayData | Dataset, batch_size: int, device: torch.device,
                       workers: int = 0) -> Iterator[Batch]:
    """Every sample once, in order."""
    if isinstance(data, ArrayData):
        for begin in range(0, len(data.targets), batch_size):
            yield [t[begin:begin + batch_size] for t in data.inputs], data.targets[begin:begin + batch_size]
        return
    yield from _loader(data, range(len(data)), batch_size, device, workers)


def _loader(data: Dataset, indices: Sequence[int], batch_size: int, device: torch.device, workers: int):
    loader = DataLoader(data, batch_size=batch_size, sampler=_Order(indices), num_workers=workers,
                        pin_memory=device.type == "cuda", persistent_workers=False)
    for inputs, target in loader:
        xs = [x.to(device, non_blocking=True) for x in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
        yield xs, target.to(device, non_blocking=True)
