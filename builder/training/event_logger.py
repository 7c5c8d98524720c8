"""The shape every logger of the event stream shares (TensorBoard, MLflow): each event goes
to the logger's ``_on_<event>`` method if it has one, and the first error stops that logger,
never the training."""

from __future__ import annotations


class EventLogger:
    """Subscribe an instance to an EventBus; subclasses define ``_on_<event>`` methods and
    ``_stopped(reason)``, which says the logging stopped and why (once)."""

    name = "logging"
    failed: str | None = None  # why this logger stopped, once it has

    def __call__(self, event: dict) -> None:
        if self.failed is not None:
            return
        try:
            handler = getattr(self, "_on_" + event["event"], None)
            if handler is not None:
                handler(event)
        except Exception as err:  # noqa: BLE001 - a logger must never stop the training
            self.failed = f"{self.name} stopped: {err}"
            self._stopped(self.failed)

    def _stopped(self, reason: str) -> None:
        raise NotImplementedError
