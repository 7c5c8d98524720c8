"""``modelbuilder import``: existing PyTorch models and ONNX files as editable graphs.

    from builder.importing import import_model
    result = import_model("my_net.py:build", "my_net.yaml", input_shapes=[(1, 28, 28)])

The model is traced with torch.fx (an ONNX file is first turned into an fx graph of
PyTorch layers), each layer or operation becomes a registered block with parameters read
through the block's declaration, node ids come from the module names, the weights go to
a safetensors file beside the graph, and the compiled graph must reproduce the model's
outputs before anything is written. See docs/import.md.
"""

from __future__ import annotations

from builder.importing.errors import ImportFailure, Unmapped
from builder.importing.pipeline import ImportResult, import_model
from builder.importing.verify import TOLERANCE

__all__ = ["ImportFailure", "ImportResult", "TOLERANCE", "Unmapped", "import_model"]
