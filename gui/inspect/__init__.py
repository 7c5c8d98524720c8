"""The Inspect panel: look inside a trained run from the desktop app (feature maps,
explanations, filters, embeddings, attention and gates), drawn by the engine's
:mod:`builder.inspecting` and computed off the window's thread.

Importing this package costs nothing; the panel's modules import torch and matplotlib
only when the panel is built (:mod:`gui.inspect.holder`).
"""
