"""Exporting trained models (bundle, standalone PyTorch code, TorchScript, ONNX) and
running them on new inputs (predict).

    from builder import export, load_bundle
    export("runs/lenet5-20261123-010203", "bundle", "lenet5_bundle")
    model = load_bundle("lenet5_bundle")   # nn.Module in eval mode; nothing unpickled
"""

from builder.lazy import lazy_exports

_EXPORTS = {
    "export": "builder.exporting.api", "ExportResult": "builder.exporting.api", "FORMATS": "builder.exporting.api",
    "ExportError": "builder.exporting.errors",
    "TrainedModel": "builder.exporting.source", "open_trained": "builder.exporting.source",
    "load_bundle": "builder.exporting.bundle", "write_bundle": "builder.exporting.bundle",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("builder.exporting", globals(), _EXPORTS)
