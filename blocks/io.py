"""Graph inputs and outputs."""

from __future__ import annotations

from blocks.params import Choice, Ints, Port
from blocks.registry import register
from blocks.spec import Block, Params, Shape


@register
class Input(Block):
    """A model input: one sample's tensor shape (the batch dimension is implicit).

    Images are ``[channels, height, width]``, sequences of feature vectors are
    ``[time, features]``, and token ids are ``[time]`` with ``dtype: int64``. Each input
    becomes one positional argument of the compiled model's ``forward``, in file order.
    """

    name = "input"
    category = "Input/Output"
    params = {
        "shape": Ints(min=1, doc="per-sample shape, e.g. [3, 32, 32]"),
        "dtype": Choice("float32", choices=("float32", "int64"), doc="int64 for token ids"),
    }
    inputs = ()
    outputs = (Port("out", "the input tensor"),)
    key_params = ("shape",)
    examples = ({"params": {"shape": [3, 32, 32]}, "inputs": {}},)

    def infer(self, p: Params) -> Shape:
        return tuple(p.shape)


@register
class Output(Block):
    """A model output. The compiled model returns its input tensor (a tuple for several).

    ``forward`` returns the outputs in file order; a graph needs at least one.
    """

    name = "output"
    category = "Input/Output"
    inputs = (Port("x", "the tensor to return"),)
    outputs = ()
    examples = ({"params": {}, "inputs": {"x": [10]}},)

    def infer(self, p: Params, x: Shape) -> dict[str, Shape]:
        return {}
