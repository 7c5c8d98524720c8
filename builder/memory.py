"""How much memory a graph needs, worked out from the analysis before anything is built.

A graph's weights are known exactly from the block declarations (4 bytes per float32
parameter). Training holds the weights, their gradients and the optimizer's state (Adam
and AdamW keep two values per weight, SGD with momentum one), plus the activations that
backpropagation needs: every node's output for every sample of the batch, an upper
bound that in-place operations and freed temporaries undercut. A repeated node
(``repeat: 12``) keeps the output of each of its repetitions, and a graph file used as a
block (a composite) those of the nodes inside it, so both count what is inside them, not
only what comes out (ViT's twelve layers count twelve times). These are estimates for
warnings, not promises: two 200,000-wide linear layers (160 GB) should be refused with a
sentence, not after minutes of allocation ending in an allocator traceback.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Optional

from builder.analysis import Analysis
from builder.analysis_types import INPUT_BLOCK, NodeInfo
from builder.composite import CompositeBlock
from builder.repeat_expand import RepeatBlock, Step

BYTES_PER_VALUE = 4  # float32; token ids (int64) are inputs only
OPTIMIZER_STATES = {"adam": 2, "adamw": 2, "sgd": 1}


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes for the weights, and for training at ``batch_size`` with ``optimizer``."""

    weights: int
    activations_per_sample: int
    batch_size: int
    optimizer: str

    @property
    def training(self) -> int:
        """Weights, gradients, optimizer state and the batch's activations."""
        states = OPTIMIZER_STATES.get(self.optimizer, 2)
        return self.weights * (2 + states) + self.activations_per_sample * self.batch_size

    @property
    def inference(self) -> int:
        """Weights and one sample's activations (a forward pass frees them as it goes)."""
        return self.weights + self.activations_per_sample


def estimate(analysis: Analysis, batch_size: int = 32, optimizer: str = "adam") -> MemoryEstimate:
    """The estimate for a checked (or partly checked) analysis; nodes whose shapes could
    not be worked out count nothing."""
    weights = analysis.total.params * BYTES_PER_VALUE
    return MemoryEstimate(weights, activation_values(analysis) * BYTES_PER_VALUE, batch_size, optimizer)


def activation_values(analysis: Analysis, inputs: bool = True) -> int:
    """How many values one sample's forward pass keeps: every node's outputs, each
    repetition's and each inner node's counted; ``inputs=False`` leaves out the input
    nodes (inside a composite they are its caller's outputs, counted there)."""
    values = 0
    for info in analysis.nodes.values():
        if info.ok and (inputs or getattr(info.block, "name", None) != INPUT_BLOCK):
            values += _node_values(info)
    return values


def _node_values(info: NodeInfo) -> int:
    block = info.block
    if isinstance(block, RepeatBlock):
        return sum(_step_values(block.base, step) for step in block.steps(info.params, info.input_shapes))
    if isinstance(block, CompositeBlock):  # (its analysis is cached: asked with what the check asked)
        return activation_values(block.analysis(info.params, dict(info.input_shapes)), inputs=False)
    return sum(math.prod(shape) for shape in info.outputs.values())


def _step_values(base, step: Step) -> int:
    if isinstance(base, CompositeBlock):
        return activation_values(base.analysis(step.params, dict(step.inputs)), inputs=False)
    return sum(math.prod(shape) for shape in step.outputs.values())


def device_memory(device: object) -> Optional[int]:
    """Free bytes on a torch device: the GPU's free memory for CUDA, the machine's for the
    CPU (None when unknown, e.g. Apple's MPS)."""
    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        import torch

        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except (RuntimeError, AssertionError):
            return None
    return machine_memory() if kind == "cpu" else None


def proc_bytes(path: str, key: str) -> Optional[int]:
    """A ``key: N kB`` line of a Linux /proc file (``/proc/meminfo``, ``/proc/self/status``)
    in bytes; None elsewhere or when it is missing."""
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_memory() -> Optional[int]:
    """Bytes of memory this machine has available now (Linux: MemAvailable; elsewhere the
    physical memory), None when it cannot be told."""
    available = proc_bytes("/proc/meminfo", "MemAvailable")
    if available is not None:
        return available
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def size_text(count: float) -> str:
    """``1536`` -> ``1.5 KB``; powers of 1,000 as disks and the docs write them."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} TB"


def too_large(estimate: MemoryEstimate, available: Optional[int], *, training: bool = True) -> Optional[str]:
    """Why the graph cannot fit in ``available`` bytes (a sentence), or None when it fits
    or the machine's memory is unknown."""
    need = estimate.training if training else estimate.inference
    if available is None or need <= available:
        return None
    what = (f"training at batch {estimate.batch_size} with {estimate.optimizer} needs at least {size_text(need)} "
            f"(weights {size_text(estimate.weights)}, their gradients and optimizer state, activations "
            f"{size_text(estimate.activations_per_sample * estimate.batch_size)})") if training else \
        f"the weights alone take {size_text(estimate.weights)}"
    return f"{what}, more than the {size_text(available)} this machine has available"
