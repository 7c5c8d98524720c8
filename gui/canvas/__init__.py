"""The node canvas: a QGraphicsScene of node and wire items drawn from the document, and
the view that zooms, pans and takes blocks dropped from the palette."""

from gui.canvas.scene import GraphScene
from gui.canvas.view import GraphView

__all__ = ["GraphScene", "GraphView"]
