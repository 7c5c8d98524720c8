"""What every view and explanation starts from: a trained model (run folder or bundle),
its checked graph, the samples to look at, and the values at any node for them.

    subject = open_subject("runs/lenet5-20261203-145503")
    samples = subject.samples("val:misclassified")        # or "val:3", "digit.png", "x.npy"
    values = subject.capture(samples.inputs, ["c1", "s2"])  # {"c1": [N, 6, 28, 28], ...}

Intermediate values are taken by node id with forward hooks on the compiled graph's
submodules (each node is a submodule of the same name), so nothing is recompiled and
the numbers are exactly those the model computes.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from builder.analysis import INPUT_BLOCK, OUTPUT_BLOCK, Analysis, analyze
from builder.exporting.errors import ExportError
from builder.exporting.parity import as_tuple
from builder.exporting.source import TrainedModel, open_trained
from builder.inspecting.errors import InspectError

MISCLASSIFIED_SHOWN = 16  # samples that "val:misclassified" gives at most


@dataclass
class Samples:
    """A few samples to look at: one batch tensor per model input (normalized as in
    training), their labels where known, and a caption for each (``val #12``, a file name)."""

    inputs: list[torch.Tensor]
    labels: Optional[torch.Tensor] = None
    captions: list[str] = field(default_factory=list)
    indices: Optional[list[int]] = None  # positions in the validation split, for val: samples

    def __len__(self) -> int:
        return len(self.inputs[0])

    def select(self, index: Sequence[int]) -> Samples:
        picked = list(index)
        return Samples([x[picked] for x in self.inputs],
                       None if self.labels is None else self.labels[picked],
                       [self.captions[i] for i in picked] if self.captions else [],
                       [self.indices[i] for i in picked] if self.indices is not None else None)


@dataclass
class Validation:
    """The run's own validation split, prepared exactly as in training."""

    inputs: list[torch.Tensor]
    targets: torch.Tensor
    kind: str


class Subject:
    """A trained model opened for inspection (CPU, eval mode)."""

    def __init__(self, trained: TrainedModel):
        self.trained = trained
        self.model = trained.model.eval()
        self.analysis: Analysis = analyze(trained.graph)
        self._validation: Validation | None = None
        from builder.repeat_expand import last_repetition  # a repeated node is looked at in its last repetition

        self._modules = {node: last_repetition(self.analysis, node, module)
                         for node, module in self.model.named_children()}

    # --- what the model is -----------------------------------------------------------------
    @property
    def class_names(self) -> Optional[list[str]]:
        return self.trained.class_names

    @property
    def normalization(self) -> Optional[dict]:
        return self.trained.normalization

    @property
    def is_classifier(self) -> bool:
        """One output scoring classes per sample ``[C]`` (the run's data says classification,
        or, for a bundle without data, a one-dimensional output)."""
        if len(self.trained.outputs) != 1 or len(self.trained.outputs[0].shape) != 1:
            return False
        return self.trained.data.get("kind", "classification") == "classification"

    def class_name(self, index: int) -> str:
        names = self.class_names
        return str(names[index]) if names and 0 <= index < len(names) else str(index)

    def node_ids(self) -> list[str]:
        """Nodes that compute something (not inputs or outputs), in the graph's order."""
        return [n for n in self.analysis.order
                if self.analysis.nodes[n].block.name not in (INPUT_BLOCK, OUTPUT_BLOCK)]

    def block_of(self, node: str) -> str:
        return self.analysis.nodes[node].block.name

    def module(self, node: str) -> torch.nn.Module:
        """The submodule that computes ``node``; InspectError naming the known nodes otherwise."""
        self.check_node(node)
        return self._modules[node]

    def check_node(self, node: str) -> None:
        if node in self._modules:
            return
        from builder.data.errors import did_you_mean

        if node in self.analysis.nodes:
            raise InspectError(f"node {node!r} is the graph's {self.block_of(node)}; it computes nothing to look at",
                               "pick a layer between the input and the output")
        raise InspectError(f"the graph {self.trained.graph.name!r} has no node {node!r}"
                           f"{did_you_mean(node, self._modules)}",
                           f"nodes: {', '.join(self.node_ids()[:30])}")

    def output_shape(self, node: str, port: str | None = None) -> tuple[int, ...]:
        """Per-sample shape of ``node``'s output (its first port unless ``port`` is given)."""
        info = self.analysis.nodes[node]
        outputs = info.outputs
        return tuple(outputs[port] if port else next(iter(outputs.values())))

    def ports(self, node: str) -> list[str]:
        return list(self.analysis.nodes[node].outputs)

    # --- running it --------------------------------------------------------------------------
    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """The model's output for a batch: its main one where it has several (the first the
        run trained, as data.json records it), else the first."""
        outputs = as_tuple(self.model(*inputs))
        names = [p.name for p in self.trained.outputs]
        primary = self.trained.data.get("primary")
        return outputs[names.index(primary)] if primary in names and len(outputs) == len(names) else outputs[0]

    def capture(self, inputs: Sequence[torch.Tensor], nodes: Sequence[str], *, grad: bool = False
                ) -> dict[str, Any]:
        """The outputs of ``nodes`` for a batch: a tensor per node, or a tuple for a block with
        several output ports (in port order). Without ``grad`` the forward runs under no_grad."""
        seen: dict[str, Any] = {}
        with ExitStack() as stack:
            for node in nodes:
                def keep(_module, _args, output, node=node):
                    seen[node] = output
                stack.callback(self.module(node).register_forward_hook(keep).remove)
            with torch.set_grad_enabled(grad):
                seen["__output__"] = self.forward(inputs)
        return seen

    def value(self, inputs: Sequence[torch.Tensor], node: str, port: str | None = None) -> torch.Tensor:
        """One node's output (``port`` of a multi-output block; its first port by default)."""
        out = self.capture(inputs, [node])[node]
        if isinstance(out, (tuple, list)):
            names = self.ports(node)
            out = out[names.index(port) if port in names else 0]
        return out

    # --- samples -----------------------------------------------------------------------------
    def validation(self) -> Validation:
        """The run's validation split, rebuilt from its settings (same seed, split and
        normalization). Only a run folder has one; a bundle does not record its data."""
        if self._validation is None:
            self._validation = _rebuild_validation(self)
        return self._validation

    def samples(self, spec: str | Path, *, limit: int = MISCLASSIFIED_SHOWN) -> Samples:
        """``val:INDEX``, ``val:A-B``, ``val:misclassified`` (the first ``limit``), ``val:first``
        or a file (image, ``.npy``, ``.npz``, ``.csv``) read as ``modelbuilder predict`` reads it."""
        text = str(spec)
        if text.startswith("val:"):
            return self._validation_samples(text[4:], limit)
        from builder.exporting.predict import read_input

        try:
            tensors = list(read_input(text, self.trained))
        except ExportError as err:
            raise InspectError(str(err).split("\n    hint:")[0], err.hint) from None
        name = Path(text).name
        count = len(tensors[0])
        return Samples(tensors, None, [name if count == 1 else f"{name} #{i}" for i in range(count)])

    def _validation_samples(self, which: str, limit: int) -> Samples:
        val = self.validation()
        total = len(val.targets)
        if which == "misclassified":
            if not self.is_classifier:
                raise InspectError("val:misclassified needs a classifier (one output of class scores)",
                                   "use val:INDEX instead")
            wrong = self.misclassified()[:limit]
            if not wrong:
                raise InspectError(f"the model classifies all {total} validation samples correctly",
                                   "use val:INDEX to pick one")
            picked = wrong
        elif which == "first":
            picked = list(range(min(limit, total)))
        else:
            picked = _index_range(which, total)
        return Samples([x[picked] for x in val.inputs], val.targets[picked],
                       [f"val #{i}" for i in picked], picked)

    def predictions(self, inputs: Sequence[torch.Tensor], chunk: int = 256) -> torch.Tensor:
        """Softmax probabilities ``[N, C]`` of a classifier for a batch of any size."""
        parts = []
        with torch.no_grad():
            for start in range(0, len(inputs[0]), chunk):
                parts.append(torch.softmax(self.forward([x[start:start + chunk] for x in inputs]).float(), dim=-1))
        return torch.cat(parts)

    def misclassified(self) -> list[int]:
        """Indices into the validation split of the samples the model gets wrong, the most
        confidently wrong first (what a student wants to see first)."""
        val = self.validation()
        probs = self.predictions(val.inputs)
        predicted = probs.argmax(dim=1)
        wrong = (predicted != val.targets).nonzero().flatten()
        confidence = probs[wrong, predicted[wrong]]
        return [int(wrong[i]) for i in confidence.argsort(descending=True)]


def _index_range(which: str, total: int) -> list[int]:
    try:
        if "-" in which:
            first, last = (int(p) for p in which.split("-", 1))
            picked = list(range(first, last + 1))
        else:
            picked = [int(which)]
    except ValueError:
        raise InspectError(f"val:{which}: not a sample index",
                           "use val:INDEX (e.g. val:3), val:A-B, val:first or val:misclassified") from None
    bad = [i for i in picked if not 0 <= i < total]
    if bad or not picked:
        raise InspectError(f"val:{which}: the validation split has {total} samples (0 to {total - 1})")
    return picked


def _rebuild_validation(subject: Subject) -> Validation:
    from builder.data import DataError, InputSpec, load_data
    from builder.data.targets import Targets
    from builder.errors import GraphError
    from builder.training.objective import plan_outputs
    from builder.training.run_files import recorded_data_dir

    root = subject.trained.source
    settings_file = root / "settings.json" if root is not None else None
    if settings_file is None or not settings_file.is_file():
        raise InspectError(f"{root}: a bundle does not record its data set, so it has no validation split",
                           "give the run folder, or an input file (image, .npy, .npz)")
    try:
        recorded = json.loads(settings_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InspectError(f"{settings_file}: cannot read it ({err})") from None
    settings = recorded.get("settings", recorded) if isinstance(recorded, dict) else {}
    if not settings.get("data"):
        raise InspectError(f"{root}: the run records no data set")
    inputs = [InputSpec(p.name, tuple(p.shape), p.dtype) for p in subject.trained.inputs]
    try:  # each output checked against the data as in training (which it learns, with what loss)
        outputs, _ = plan_outputs(subject.trained.graph, subject.analysis, settings.get("loss", "auto"))
        task = load_data(settings["data"], inputs, outputs,
                         seed=int(settings.get("seed", 0)), val_split=float(settings.get("val_split", 0.2)),
                         base_dir=recorded_data_dir(root, recorded))
    except GraphError as err:
        raise InspectError(f"cannot rebuild the run's data: {err.problems[0].message}", err.problems[0].hint) from None
    except DataError as err:
        raise InspectError(f"cannot rebuild the run's data: {err.message}", err.hint) from None
    if task.val is None or len(task.val) == 0:
        raise InspectError(f"{root}: the run held no samples out for validation (val_split 0)",
                           "give an input file instead")
    targets = task.val.targets
    if isinstance(targets, Targets):  # several named targets: the main output's labels the samples
        main = next((t for t in (task.outputs or {}).values() if t.trained and t.target), None)
        targets = targets.get(main.target) if main is not None else next(iter(targets.parts.values()))
    return Validation(list(task.val.inputs), targets, task.kind)


def open_subject(path: str | Path, weights: str = "best") -> Subject:
    """The run folder or bundle at ``path``, ready to inspect; InspectError otherwise."""
    try:
        trained = open_trained(Path(path), weights)
    except ExportError as err:
        raise InspectError(str(err).split("\n    hint:")[0], err.hint) from None
    return Subject(trained)


def from_trained(trained: TrainedModel) -> Subject:
    """A Subject for a model already open (the app's run, a test's untrained model)."""
    return Subject(trained)
