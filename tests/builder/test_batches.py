"""In-memory arrays and other torch Datasets give the trainer the same batches."""

import torch
from torch.utils.data import Dataset

from builder.data import ArrayData
from builder.training.batches import evaluation_batches, on_device, training_batches

CPU = torch.device("cpu")


class PlainDataset(Dataset):
    """What torchvision datasets look like: one (inputs, target) pair per index."""

    def __init__(self, arrays: ArrayData):
        self.arrays = arrays

    def __len__(self):
        return len(self.arrays.targets)

    def __getitem__(self, i):
        return tuple(t[i] for t in self.arrays.inputs), self.arrays.targets[i]


def arrays():
    return ArrayData([torch.arange(30.0).reshape(10, 3), torch.arange(10)], torch.arange(10) % 3)


def as_lists(batches):
    return [([x.tolist() for x in xs], y.tolist()) for xs, y in batches]


def test_dataset_and_arrays_give_the_same_training_batches_from_any_start():
    order = torch.randperm(10, generator=torch.Generator().manual_seed(3))
    for start in (0, 2):
        expected = as_lists(training_batches(arrays(), order, start, 4, CPU))
        assert expected == as_lists(training_batches(PlainDataset(arrays()), order, start, 4, CPU))
    assert len(as_lists(training_batches(arrays(), order, 0, 4, CPU))) == 3


def test_evaluation_covers_every_sample_in_order():
    got = as_lists(evaluation_batches(PlainDataset(arrays()), 4, CPU))
    assert sum(len(y) for _, y in got) == 10 and got[0][1] == [0, 1, 2, 0]
    assert got == as_lists(evaluation_batches(arrays(), 4, CPU))


def test_only_arrays_move_to_the_device():
    dataset = PlainDataset(arrays())
    assert on_device(dataset, CPU) is dataset
    assert isinstance(on_device(arrays(), CPU), ArrayData)
