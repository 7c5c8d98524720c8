"""``@keeps_arguments``: a module remembers the arguments its constructor was called with.

The Python code export (``modelbuilder export --format python``) writes one constructor call
per layer, ``self.layer1_0 = ResidualBasic(64, 64)``. For ``torch.nn`` layers it reads the
arguments back from the layer's attributes; the modules here keep attributes named for what
``forward`` needs rather than for their constructor, so they record the call instead::

    @keeps_arguments
    class SequencePool(nn.Module):
        def __init__(self, mode: str = "mean"): ...

    SequencePool("max").init_arguments == {"mode": "max"}

Defaults are included. Only instances of the decorated class itself record (a subclass
that is not decorated has different arguments). The decorator changes nothing else: the
class source, ``forward``, TorchScript and torch.fx behave as before.
"""

from __future__ import annotations

import functools
import inspect
from typing import TypeVar

ATTRIBUTE = "init_arguments"

T = TypeVar("T", bound=type)


def keeps_arguments(cls: T) -> T:
    """Class decorator: ``instance.init_arguments`` is the dict of constructor arguments."""
    init = cls.__init__
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if type(self) is cls:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            arguments.pop(next(iter(signature.parameters)))  # self
            object.__setattr__(self, ATTRIBUTE, arguments)

    cls.__init__ = __init__
    return cls
