"""Gradient-flow diagnostics: per-node gradient statistics and, for recurrent blocks, the
gradient reaching each time step, gathered every N steps without stalling the device.

How it is cheap
    On a diagnostic step ``after_backward`` computes every node's statistics with a handful
    of batched kernels (``torch._foreach_norm`` over all gradients, then per-node sums and
    maxima with ``index_add_``/``scatter_reduce_``) and appends the resulting ``[nodes, 3]``
    tensor to a buffer on the device: no ``.item()``, no ``.cpu()``, so CUDA keeps running
    ahead of Python. ``flush`` moves everything buffered to the CPU in one transfer (one
    sync) and turns it into events. On other steps the monitor does nothing at all: the
    forward pre-hooks on recurrent blocks are registered by ``before_forward`` on a
    diagnostic step and removed by ``after_backward``.

What is measured
    * ``gradients`` events, per node (a top-level submodule, named by its node id) with
      trainable parameters: ``norm`` = L2 norm of all of its parameter gradients together,
      ``mean_abs`` = mean of ``|grad|`` over all of its parameter elements, ``max_abs`` =
      the largest ``|grad|``. Nodes whose parameters got no gradient on that step are left
      out of that step's event.
    * ``timestep_gradients`` events, per recurrent node: ``norms[t] = ||dLoss/dx_t||``, the
      L2 norm over the batch and the features of the gradient of the loss with respect to
      the block's input ``x[:, t, :]`` (``x`` is ``[B, T, F]``, batch first). It is taken
      with a tensor hook on the input, so it works with PyTorch's fused cuDNN/oneDNN
      recurrent kernels, and it counts only the gradient that flows back through the
      recurrent block (not through other users of the same tensor). With a loss averaged
      over the batch the values scale like ``1/sqrt(B)``; compare time steps with each
      other (``norms[0] / norms[-1]``), not runs with different batch sizes.
    * ``warning`` events, once per node and kind: a vanishing (< ``vanishing``) or
      exploding (> ``exploding``) or non-finite gradient norm, and for recurrent nodes a
      gradient at the first time step more than ``1/time_ratio`` (a million) times smaller
      than at the last one. (Over 40 steps a vanilla RNN starts near 1e-11; an LSTM near
      1e-3 with forget_bias 1.0 and near 1 with 3.0, and it learns to raise it.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

STATS = ("norm", "mean_abs", "max_abs")


def _signif(value: float, digits: int = 5) -> float:
    """A float rounded to ``digits`` significant digits (keeps metrics.jsonl short)."""
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


def unwrap(model: nn.Module) -> nn.Module:
    """The user's GraphModule inside DistributedDataParallel or torch.compile wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel) or type(model).__name__ == "DataParallel":
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod  # torch.compile's OptimizedModule
        else:
            return model


def diagnostic_nodes(analysis: Any) -> tuple[list[str], list[str]]:
    """``(nodes, recurrent)`` for a :class:`builder.analysis.Analysis`: every block node in
    graph order, and those of them whose block is in the Recurrent category."""
    nodes, recurrent = [], []
    for node_id in analysis.order:
        info = analysis.nodes[node_id]
        if info.block is None or info.block.name in ("input", "output"):
            continue
        nodes.append(node_id)
        if getattr(info.block, "category", None) == "Recurrent":
            recurrent.append(node_id)
    return nodes, recurrent


def _is_vanilla_rnn(module: nn.Module) -> bool:
    return any(type(m) is nn.RNN for m in module.modules())


def _is_recurrent(module: nn.Module) -> bool:
    return any(isinstance(m, nn.RNNBase) for m in module.modules())


class GradientMonitor:
    """Per-node gradient statistics every ``every`` steps, collected on the device and read
    back rarely (see the module docstring for what is measured).

    The training loop calls, for each optimizer step ``step``::

        monitor.before_forward(step)     # before the forward pass
        loss.backward()                  # (scaler.scale(loss).backward() with AMP)
        scaler.unscale_(optimizer)       # with AMP only: statistics need true gradients
        monitor.after_backward(step)     # before clipping and before optimizer.step()
        ...
        monitor.flush()                  # now and then: at log time, at the end of an epoch

    and ``close()`` at the end. ``emit`` is ``EventBus.emit``.
    """

    def __init__(self, model: nn.Module, nodes: list[str], recurrent: list[str], every: int,
                 emit: Callable[..., dict], *, vanishing: float = 1e-7, exploding: float = 1e3,
                 time_ratio: float = 1e-6, amp: bool = False):
        self.model = unwrap(model)
        self.every = int(every)
        self.emit = emit
        self.vanishing = vanishing
        self.exploding = exploding
        self.time_ratio = time_ratio
        self.amp = amp  # with a loss scaler, an occasional inf/nan gradient is expected and skipped
        # nodes with trainable parameters, in the given order, and their parameters
        self.nodes: list[str] = []
        self.params: list[nn.Parameter] = []
        owner: list[int] = []
        for node in nodes:
            try:
                module = self.model.get_submodule(node)
            except AttributeError:
                continue
            trainable = [p for p in module.parameters() if p.requires_grad]
            if not trainable:
                continue
            for p in trainable:
                owner.append(len(self.nodes))
                self.params.append(p)
            self.nodes.append(node)
        self.owner = owner  # parameter index -> node index
        self._index: dict[torch.device, Tensor] = {}  # cached per device: owner as a tensor
        self._numel: dict[torch.device, Tensor] = {}
        self._partials: dict[tuple, tuple[Tensor, Tensor, list[str]]] = {}
        self.recurrent: dict[str, nn.Module] = {}
        self.vanilla: set[str] = set()
        for node in recurrent:
            try:
                module = self.model.get_submodule(node)
            except AttributeError:
                continue
            self.recurrent[node] = module
            if _is_vanilla_rnn(module):
                self.vanilla.add(node)
        self._pre_hooks: list[Any] = []
        self._time: dict[str, Tensor] = {}  # node -> sum over batch and features of grad^2, [T]
        # recorded on the device, read by flush: (step, nodes or None for all, [n, 3] stats)
        self._buffer: list[tuple[int, list[str] | None, Tensor]] = []
        self._time_buffer: list[tuple[int, str, Tensor]] = []
        self._warned: set[tuple[str, str]] = set()

    # --- scheduling -------------------------------------------------------------------
    def wants(self, step: int) -> bool:
        return self.every > 0 and step % self.every == 0

    # --- time-step gradients ----------------------------------------------------------
    def before_forward(self, step: int) -> None:
        """On a diagnostic step, hook every recurrent node's input for the coming forward."""
        self._remove_pre_hooks()
        self._time = {}
        if not self.wants(step) or not self.recurrent:
            return
        for node, module in self.recurrent.items():
            self._pre_hooks.append(module.register_forward_pre_hook(self._pre_hook(node)))

    def _pre_hook(self, node: str) -> Callable:
        def hook(module: nn.Module, args: tuple) -> tuple | None:
            if not args or not torch.is_grad_enabled():
                return None
            x = args[0]
            if not isinstance(x, Tensor) or not x.is_floating_point():
                return None
            # a fresh autograd alias, so that the hook sees only the gradient flowing back
            # through this block; a leaf input becomes a tensor that requires grad
            x = x.view_as(x) if x.requires_grad else x.detach().requires_grad_()
            x.register_hook(self._grad_hook(node))
            return (x, *args[1:])

        return hook

    def _grad_hook(self, node: str) -> Callable:
        def hook(grad: Tensor) -> None:
            with torch.no_grad():
                g = grad.detach().float()
                dims = [d for d in range(g.dim()) if d != g.dim() - 2]  # all but time
                squares = g.square().sum(dim=dims)  # [T]
                previous = self._time.get(node)  # several forwards (accumulation): add them up
                self._time[node] = squares if previous is None or previous.shape != squares.shape \
                    else previous + squares

        return hook

    def _remove_pre_hooks(self) -> None:
        for handle in self._pre_hooks:
            handle.remove()
        self._pre_hooks = []

    # --- statistics -------------------------------------------------------------------
    def after_backward(self, step: int) -> None:
        """On a diagnostic step, compute every node's statistics on the device and buffer them."""
        self._remove_pre_hooks()
        if not self.wants(step):
            self._time = {}
            return
        for node, squares in self._time.items():
            self._time_buffer.append((step, node, squares))
        self._time = {}
        present = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not present:
            return
        grads = [_dense(self.params[i].grad) for i in present]
        device = grads[0].device
        with torch.no_grad():
            if len(present) == len(self.params):
                index, numel, nodes, count = self._cached(device), self._numel[device], None, len(self.nodes)
            else:  # some parameters got no gradient this step: index the present ones
                index, numel, nodes = self._partial(tuple(present), device)
                count = len(nodes)
            l2 = self._stack(torch._foreach_norm(grads, 2, dtype=torch.float32), device)
            l1 = self._stack(torch._foreach_norm(grads, 1, dtype=torch.float32), device)
            inf = self._stack(torch._foreach_norm(grads, math.inf, dtype=torch.float32), device)
            zeros = torch.zeros(count, dtype=torch.float32, device=device)
            norm = zeros.index_add(0, index, l2.square()).sqrt_()
            mean_abs = zeros.index_add(0, index, l1).div_(numel)
            max_abs = zeros.scatter_reduce(0, index, inf, "amax", include_self=True)
            self._buffer.append((step, nodes, torch.stack((norm, mean_abs, max_abs), dim=1)))

    @staticmethod
    def _stack(values: list[Tensor], device: torch.device) -> Tensor:
        return torch.stack([v if v.device == device else v.to(device, non_blocking=True) for v in values])

    def _partial(self, present: tuple[int, ...], device: torch.device) -> tuple[Tensor, Tensor, list[str]]:
        """Index tensors for a subset of the parameters, cached per subset (built once: the
        host-to-device copy of a new index is the only transfer after_backward may make)."""
        key = (device, present)
        if key not in self._partials:
            used = sorted({self.owner[i] for i in present})
            position = {n: k for k, n in enumerate(used)}
            index = torch.tensor([position[self.owner[i]] for i in present], device=device)
            sizes = torch.tensor([float(self.params[i].numel()) for i in present], device=device)
            numel = torch.zeros(len(used), device=device).index_add_(0, index, sizes)
            if len(self._partials) > 64:  # gradients come and go erratically: don't grow forever
                self._partials.clear()
            self._partials[key] = (index, numel, [self.nodes[n] for n in used])
        return self._partials[key]

    def _cached(self, device: torch.device) -> Tensor:
        if device not in self._index:
            self._index[device] = torch.tensor(self.owner, dtype=torch.long, device=device)
            sizes = torch.tensor([float(p.numel()) for p in self.params], device=device)
            self._numel[device] = torch.zeros(len(self.nodes), device=device).index_add_(
                0, self._index[device], sizes)
        return self._index[device]

    # --- reading back ----------------------------------------------------------------
    def flush(self) -> None:
        """Move everything buffered to the CPU in one transfer and emit the events."""
        if not self._buffer and not self._time_buffer:
            return
        parts = [stats.reshape(-1) for _, _, stats in self._buffer]
        parts += [squares.reshape(-1).float() for _, _, squares in self._time_buffer]
        devices = {p.device for p in parts}
        if len(devices) > 1:
            first = parts[0].device
            parts = [p.to(first) for p in parts]
        values = torch.cat(parts).cpu().tolist() if parts else []
        position = 0
        per_step: dict[int, dict[str, dict[str, float]]] = {}
        for step, nodes, stats in self._buffer:
            names = nodes if nodes is not None else self.nodes
            record = per_step.setdefault(step, {})
            for name in names:
                norm, mean_abs, max_abs = values[position:position + 3]
                position += 3
                record[name] = {"norm": _signif(norm), "mean_abs": _signif(mean_abs), "max_abs": _signif(max_abs)}
        time: dict[int, dict[str, list[float]]] = {}
        for step, node, squares in self._time_buffer:
            length = squares.numel()
            norms = [_signif(math.sqrt(v)) if v >= 0 else v for v in values[position:position + length]]
            position += length
            time.setdefault(step, {})[node] = norms
        self._buffer, self._time_buffer = [], []
        for step in sorted(set(per_step) | set(time)):
            if step in per_step:
                self.emit("gradients", step=step, nodes=per_step[step])
            for node, norms in time.get(step, {}).items():
                self.emit("timestep_gradients", step=step, node=node, norms=norms)
            for name, stats in per_step.get(step, {}).items():
                self._check(step, name, stats["norm"])
            for node, norms in time.get(step, {}).items():
                self._check_time(step, node, norms)

    # --- warnings ------------------------------------------------------------------
    def _warn(self, node: str, kind: str, message: str) -> None:
        if (node, kind) in self._warned:
            return
        self._warned.add((node, kind))
        self.emit("warning", message=message, node=node)

    def _check(self, step: int, node: str, norm: float) -> None:
        if not math.isfinite(norm):
            if self.amp:
                return  # the loss scaler skips such steps and lowers its scale
            self._warn(node, "nonfinite",
                       f"gradient of {node!r} is {norm} at step {step}: the training diverged; "
                       "lower lr, set clip_norm (e.g. clip_norm: 1.0), or look for log(0) or division by zero")
        elif norm > self.exploding:
            self._warn(node, "exploding",
                       f"exploding gradient in {node!r}: norm {norm:.3g} at step {step} (above {self.exploding:g}); "
                       "set clip_norm (e.g. clip_norm: 1.0) or lower lr"
                       + ("; a relu rnn explodes easily, use tanh or an lstm or gru" if node in self.vanilla else ""))
        elif norm < self.vanishing:
            if node in self.vanilla:
                advice = "a vanilla rnn loses its gradient over long sequences: use an lstm or gru"
            elif node in self.recurrent:
                advice = "use shorter sequences or check the layers after it"
            else:
                advice = ("look for saturated sigmoid/tanh activations or dead relus before it; add batch "
                          "normalization or residual connections, or check that its output is used by the loss")
            self._warn(node, "vanishing",
                       f"vanishing gradient in {node!r}: norm {norm:.3g} at step {step} "
                       f"(below {self.vanishing:g}); {advice}")

    def _check_time(self, step: int, node: str, norms: list[float]) -> None:
        if len(norms) < 2 or not (norms[-1] > 0) or not all(map(math.isfinite, (norms[0], norms[-1]))):
            return
        ratio = norms[0] / norms[-1]
        if ratio < self.time_ratio:
            advice = ("a vanilla rnn multiplies its gradient by W_hh and the tanh slope at every step; use an "
                      "lstm or gru" if node in self.vanilla else "use shorter sequences or a bidirectional layer")
            self._warn(node, "vanishing_in_time",
                       f"vanishing gradient through time in {node!r}: the gradient reaching time step 1 is "
                       f"{ratio:.2g} times the one at step {len(norms)} (at training step {step}), so the block "
                       f"can hardly learn from early inputs; {advice}")

    def close(self) -> None:
        """Remove the hooks; what is buffered stays for a last ``flush``."""
        self._remove_pre_hooks()
        self._time = {}


def _dense(grad: Tensor) -> Tensor:
    """Sparse gradients (an embedding with ``sparse=True``) as their stored values."""
    return grad.coalesce().values() if grad.is_sparse else grad


def monitor_for(model: nn.Module, analysis: Any, every: int, emit: Callable[..., dict], **options: Any
                ) -> GradientMonitor:
    """A :class:`GradientMonitor` for a compiled graph and its analysis."""
    nodes, recurrent = diagnostic_nodes(analysis)
    return GradientMonitor(model, nodes, recurrent, every, emit, **options)


__all__ = ["STATS", "GradientMonitor", "diagnostic_nodes", "monitor_for", "unwrap"]
