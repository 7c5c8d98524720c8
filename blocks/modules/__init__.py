"""``nn.Module`` implementations behind composite blocks.

Simple blocks build plain ``torch.nn`` layers; blocks made of several layers (a residual
block, an Inception module) build the modules defined here. They are ordinary PyTorch
modules with readable submodule names, so a compiled graph's ``state_dict`` reads like
the paper (``layer1_0.conv1.weight``), and they all work with ``torch.jit.script`` and
``torch.fx``: ``forward`` has no Python control flow that depends on the data. Each
records its constructor arguments (``@keeps_arguments``, see ``arguments.py``), so that the
Python code export can write the call that builds it.

This subpackage is not a block family: ``blocks/__init__.py`` skips it when it imports
the declarations.
"""

from blocks.modules.cnn import (
    ConvNormAct,
    InceptionModule,
    Projection,
    ResidualBasic,
    ResidualBottleneck,
    SqueezeExcitation,
    make_activation,
)

__all__ = [
    "ConvNormAct", "InceptionModule", "Projection", "ResidualBasic", "ResidualBottleneck",
    "SqueezeExcitation", "make_activation",
]
