"""MLflow tracking for a run: an :class:`EventBus` subscriber the CLI attaches with
``--mlflow`` or when ``MLFLOW_TRACKING_URI`` is set (and the ``mlflow`` package is installed).

* the experiment is named after the graph; the MLflow run after the run folder;
* params: the resolved settings (``data`` flattened to ``data.name`` ...), at the start;
* metrics: ``train/loss``, ``train/lr``, ``train/samples_per_s`` per ``step`` event and
  ``epoch/*`` per ``epoch`` event, at the optimizer step (as in the TensorBoard files);
* artifacts at the end: graph.yaml, settings.json, data.json, summary.json, the PNG plots and
  the trained model as a bundle (``bundle/``);
* a resumed run continues the same MLflow run (its id is kept in the run folder's
  ``mlflow.json``).

Logging problems never stop the training: the first one is printed once on stderr and
MLflow logging stops.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

from builder.training.event_logger import EventLogger
from builder.training.runs import RunFolder
from builder.training.tensorboard_log import EPOCH_SCALARS, STEP_SCALARS, hparam_values

STATUS = {"completed": "FINISHED", "early_stopped": "FINISHED", "stopped": "KILLED", "failed": "FAILED"}


def missing_reason() -> str | None:
    try:
        import mlflow  # noqa: F401
    except Exception as err:  # noqa: BLE001
        return f"not logging to MLflow: the mlflow package is not installed ({err}); pip install mlflow"
    return None


class MlflowLog(EventLogger):
    name = "MLflow logging"

    def __init__(self, run: RunFolder, graph_name: str):
        self.run_folder = run
        self.graph_name = graph_name
        self.active = False
        self.status = "FAILED"  # until run_finished says otherwise (an error before it)

    @property
    def id_file(self) -> Path:
        return self.run_folder.root / "mlflow.json"

    def _stopped(self, reason: str) -> None:
        print(f"warning: {reason}", file=sys.stderr)

    def _on_run_started(self, event: dict) -> None:
        import mlflow

        run_id = None
        if event.get("start_step") and self.id_file.is_file():
            run_id = json.loads(self.id_file.read_text(encoding="utf-8")).get("run_id")
        if run_id is None:
            mlflow.set_experiment(self.graph_name)
            run = mlflow.start_run(run_name=self.run_folder.root.name)
            self.id_file.write_text(json.dumps({"run_id": run.info.run_id,
                                                "experiment_id": run.info.experiment_id}) + "\n", encoding="utf-8")
            params = {k: str(v)[:500] for k, v in hparam_values(event.get("settings") or {}).items()}
            mlflow.log_params(params)
            mlflow.set_tags({"run_dir": str(self.run_folder.root), "device": str(event.get("device")),
                             "params_count": str(event.get("params"))})
        else:
            mlflow.start_run(run_id=run_id)
        self.active = True

    def _on_step(self, event: dict) -> None:
        self._metrics("train", STEP_SCALARS, event)

    def _on_epoch(self, event: dict) -> None:
        self._metrics("epoch", EPOCH_SCALARS, event)

    def _metrics(self, prefix: str, keys: tuple[str, ...], event: dict) -> None:
        import mlflow

        values = {f"{prefix}/{k}": float(event[k]) for k in keys
                  if isinstance(event.get(k), (int, float)) and not isinstance(event.get(k), bool)}
        if values:
            mlflow.log_metrics(values, step=int(event["step"]))

    def _on_run_finished(self, event: dict) -> None:
        import mlflow

        self.status = STATUS.get(str(event.get("status")), "FINISHED")
        run = self.run_folder
        for path in (run.graph, run.settings, run.data, run.summary):
            if path.is_file():
                mlflow.log_artifact(str(path))

    def _log_bundle(self, mlflow) -> None:
        """The trained model as a bundle (graph, safetensors weights, meta.json: what
        ``modelbuilder predict`` and ``load_bundle`` open), when the run has a checkpoint."""
        import tempfile

        from builder.exporting.api import export
        from builder.exporting.errors import ExportError

        with tempfile.TemporaryDirectory() as folder:
            try:
                result = export(self.run_folder.root, "bundle", Path(folder) / "bundle")
            except ExportError:
                return  # stopped before its first checkpoint: nothing trained to log
            mlflow.log_artifacts(str(result.path), artifact_path="bundle")

    def close(self, plots: Iterable[Path] = ()) -> None:
        """The plots as artifacts, and the MLflow run ended with the run's status."""
        if not self.active:
            return
        try:
            import mlflow

            if self.failed is None:
                for path in plots:
                    mlflow.log_artifact(str(path), artifact_path="plots")
                self._log_bundle(mlflow)
            mlflow.end_run(status=self.status)
        except Exception as err:  # noqa: BLE001
            self.failed = f"{self.name} stopped: {err}"
            self._stopped(self.failed)
        self.active = False
