"""Carrying the source model's weights into the compiled graph, and writing them.

A block's module often wraps the PyTorch layer it stands for (the LSTM block's module
holds its ``nn.LSTM`` as ``rnn``), so each of the block module's ``state_dict`` keys is
matched to the source layer's key it ends with; a mapper that packs weights differently
(attention's joint q/k/v projection) gives a converter instead. Every key must find its
tensor with the same shape, or the import stops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as st_save
from torch import nn

from builder.atomic import write_atomic
from builder.importing.errors import ImportFailure
from builder.importing.mapping import Built, WeightSource


def _match(target_keys: list[str], source: dict[str, Any], where: str) -> dict[str, str]:
    """target key -> source key, each source key used once."""
    pairs: dict[str, str] = {}
    for key in target_keys:
        found = [s for s in source if key == s or key.endswith("." + s)]
        if len(found) != 1:
            raise ImportFailure(f"{where}: the block's weight {key!r} has {'no' if not found else 'several'} "
                                f"counterpart{'s' * bool(found)} among the layer's ({', '.join(source) or 'none'})",
                                "this is a gap in the importer; please report it with the model")
        pairs[key] = found[0]
    unused = set(source) - set(pairs.values())
    if unused:
        raise ImportFailure(f"{where}: the layer's weights {', '.join(sorted(unused))} have no place in the block",
                            "this is a gap in the importer; please report it with the model")
    return pairs


@torch.no_grad()
def copy_weights(built: Built, compiled: nn.Module) -> None:
    """Copy every mapped layer's weights into the compiled graph's node of the same id."""
    for node_id, source in built.weights.items():
        copy_one(node_id, source, compiled.get_submodule(node_id))


def copy_one(node_id: str, source: WeightSource, target: nn.Module) -> None:
    where = f"node {node_id!r} ({source.path})"
    tensors = source.convert(source.module) if source.convert else source.module.state_dict()
    state = target.state_dict()
    for key, source_key in _match(list(state), tensors, where).items():
        value = tensors[source_key]
        if tuple(value.shape) != tuple(state[key].shape):
            raise ImportFailure(f"{where}: weight {key!r} is {list(value.shape)} in the model but "
                                f"{list(state[key].shape)} in the block",
                                "this is a gap in the importer; please report it with the model")
        state[key].copy_(value.detach())


def shared_note(built: Built) -> list[str]:
    """A line for each layer whose weights now sit in several nodes (a module called more
    than once): training the graph would no longer keep them equal."""
    notes = []
    for holders in built.shared.values():
        if len(holders) > 1:
            notes.append(f"{built.weights[holders[0]].path} is called {len(holders)} times; its weights are copied "
                         f"into {', '.join(holders)}, which training will update separately")
    return notes


def weights_bytes(state: dict[str, torch.Tensor], source: str) -> bytes:
    """A state dict as safetensors bytes (tensors made contiguous and detached)."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    return st_save(tensors, metadata={"format": "pt", "source": source})


def write_weights(path: Path, state: dict[str, torch.Tensor], source: str) -> None:
    write_atomic(path, weights_bytes(state, source))
