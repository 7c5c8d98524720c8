"""Looking inside composite blocks: read-only windows that draw what a block is made of.

Two kinds of composite have an inside to show:

* a graph file used as a block (``graph: parts/double_conv.yaml``): the file's graph, with
  the node's values of the exposed parameters and the shapes that flow into the node. The
  window's **Edit This File** opens the file in an editor window of its own; when that
  window saves it, every open graph that uses composite files checks again, and the
  windows showing its inside redraw;
* a built-in composite block (``residual``, ``inception``, ``squeeze_excitation``): the
  graph of primitive blocks that its declaration describes (``Block.inside``), for the
  node's parameters and input shapes, or, from the palette, for the block's first example.

A window shows its graph with shapes, parameter counts and totals, like any graph, but
nothing in it can be moved or changed. It follows the graph it came from: edit the node's
parameters or its input and the inside is drawn again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QWidget

from blocks import Block, ShapeError, get_block
from builder import CompositeProblem, Graph, GraphError, composite_file, load_graph, parse_graph
from gui.canvas import GraphScene, GraphView
from gui.document import GraphDocument
from gui.labels import human_count, param_text, short_shape

APP_NAME = "Model Builder"
WINDOW_SIZE = (1200, 960)  # at most; smaller screens get 80 % x 92 % of their free area


class InsideUnavailable(Exception):
    """The inside cannot be drawn (the node is gone, the file unreadable); the message says why."""


# ---------------------------------------------------------------------- what is shown
def inside_graph(block: Block, params: Mapping[str, Any], input_shapes: Mapping[str, Any]) -> Graph:
    """The graph of primitive blocks inside a built-in composite ``block`` for these
    (validated) parameters and input shapes. ShapeError for shapes the block refuses."""
    mapping = block.inside(params, **{port: tuple(shape) for port, shape in input_shapes.items()})
    if mapping is None:
        raise InsideUnavailable(f"{block.name} is a primitive block: it has no inside to show")
    return parse_graph(json.dumps(mapping))  # JSON is YAML: the file format's own checks apply


def as_instance(inner: Graph, params: dict, input_shapes: dict) -> str:
    """Give a composite's inner graph one use's values: exposed parameters set to the
    node's values, input nodes to the shapes that reach the node. Returns a summary."""
    said = []
    for name, value in params.items():
        targets = (inner.expose or {}).get(name)
        for target in (targets if isinstance(targets, list) else [targets] if targets else []):
            node_id, _, param = str(target).partition(".")
            if node_id in inner.nodes and param:
                inner.nodes[node_id].params[param] = value
        said.append(f"{name}={value}")
    for port, shape in input_shapes.items():
        if port in inner.nodes and shape is not None:
            inner.nodes[port].params["shape"] = list(shape)
            said.append(f"{port}: {short_shape(shape)}")
    return ", ".join(said) or "its own defaults"


def _values_text(params: Mapping[str, Any], shapes: Mapping[str, Any]) -> str:
    """``kind=bottleneck, channels=4; x: 8×11×11`` (parameters as written: the rest are defaults)."""
    written = ", ".join(f"{k}={param_text(v)}" for k, v in params.items()) or "default parameters"
    return f"{written}; " + ", ".join(f"{port}: {short_shape(shape)}" for port, shape in shapes.items())


def _example_values(block: Block) -> tuple[dict, dict]:
    example = block.examples[0]
    return dict(example["params"]), {k: tuple(v) for k, v in example["inputs"].items()}


def _checked(block: Block, raw: Mapping[str, Any]):
    params, problems = block.check_params(raw)
    return None if problems else params


def node_inside(document: GraphDocument, node_id: str, block: Block) -> tuple[Graph, str]:
    """The inside of built-in composite node ``node_id`` as the node uses it, and a line
    saying which values it shows. Where the node's parameters have errors or an input is
    not connected yet, the block's first example fills in, and the line says so."""
    node = document.graph.nodes.get(node_id)
    if node is None or node.block != block.name:
        raise InsideUnavailable(f"the graph has no {block.name} node {node_id!r} any more")
    info = document.analysis.nodes.get(node_id)
    given = {port: shape for port, shape in (info.input_shapes if info is not None else {}).items()
             if shape is not None}
    example_raw, example_shapes = _example_values(block)
    shapes = {port.name: given.get(port.name, example_shapes.get(port.name)) for port in block.inputs}
    params, written, notes = _checked(block, node.params), node.params, []
    if params is None:
        params, written = _checked(block, example_raw), example_raw
        notes.append("its parameters have errors, so the block's first example's are shown")
    missing = [port for port in shapes if port not in given]
    if missing:
        notes.append(f"{', '.join(missing)} not connected: the example's shape is shown")
    try:
        graph = inside_graph(block, params, shapes)
    except ShapeError as error:  # an input the block refuses: the node shows that error
        params = _checked(block, example_raw)
        shapes, written = example_shapes, example_raw
        graph = inside_graph(block, params, shapes)
        notes = [f"its input does not fit ({error}), so the block's first example is shown"]
    said = f"{block.name} as {node_id} uses it ({_values_text(written, shapes)})"
    return graph, said + (" — " + "; ".join(notes) if notes else "")


def repeat_inside(document: GraphDocument, node_id: str) -> tuple[Graph, str]:
    """The repetitions of repeated node ``node_id`` one after another, with the values and
    shapes each one gets (the node's block describes them: ``RepeatBlock.inside``)."""
    node = document.graph.nodes.get(node_id)
    block, info = document.block_of(node_id), document.analysis.nodes.get(node_id)
    if node is None or not node.repeated:
        raise InsideUnavailable(f"the graph has no repeated node {node_id!r} any more")
    if getattr(block, "count", None) is None or info is None or not info.ok:
        raise InsideUnavailable(f"{node_id} has problems (the Problems panel lists them), so its repetitions "
                                "cannot be worked out")
    return inside_graph(block, info.params, info.input_shapes), f"{node_id}: {block.name} × {block.count}"


def file_inside(document: GraphDocument, node_id: str, path: Path) -> tuple[Graph, str]:
    """The graph of the file that composite node ``node_id`` uses, with the node's values."""
    node = document.graph.nodes.get(node_id)
    if node is None or not node.graph or (document.graph_file_dir() / node.graph).resolve() != path:
        raise InsideUnavailable(f"the graph has no node {node_id!r} using {path.name} any more")
    try:  # the analysis' rules: a graph file you were sent must not open files elsewhere
        path = composite_file(document.graph, node.graph)
    except CompositeProblem as problem:
        raise InsideUnavailable(f"{problem}" + (f"\n{problem.hint}" if problem.hint else "")) from None
    try:
        inner = load_graph(path)
    except GraphError as error:
        raise InsideUnavailable("\n".join(str(p) for p in error.problems) or str(error)) from None
    info = document.analysis.nodes.get(node_id)
    as_used = as_instance(inner, node.params, info.input_shapes if info is not None else {})
    return inner, f"{path} as {node_id} uses it ({as_used})"


# ---------------------------------------------------------------------- the window
class InsideWindow(QMainWindow):
    """A read-only canvas showing the inside of one composite. ``make()`` returns the
    graph and a line saying what it shows; it runs again when ``follows`` (the document
    the composite is used in) changes. ``edit_path``: the file behind it, for Edit This File."""

    editRequested = Signal(str)

    def __init__(self, parent: QWidget, key: str, title: str, make: Callable[[], tuple[Graph, str]],
                 follows: Optional[GraphDocument] = None, edit_path: Optional[Path] = None):
        super().__init__(parent)
        self.setObjectName("insideWindow")
        self.setProperty("inside", key)
        self.setWindowTitle(f"{title} (read-only) — {APP_NAME}")
        self.make = make
        self.edit_path = edit_path
        self.shown_text = ""
        self.inside_windows: list[QMainWindow] = []  # insides of composites in this one
        self.main_window = getattr(parent, "main_window", parent)  # the editor it all started from
        self.document = GraphDocument(parent=self)
        self.view = GraphView(GraphScene(self.document, read_only=True, parent=self.document))
        self.caption = QLabel()  # what the inside is, from the graph's description
        self.caption.setObjectName("insideCaption")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setContentsMargins(10, 6, 10, 6)
        self.setMenuWidget(self.caption)  # above the canvas, where a menu bar would be (there is none)
        self.setCentralWidget(self.view)
        self.totals = QLabel()
        self.totals.setContentsMargins(8, 0, 8, 0)
        self.statusBar().addPermanentWidget(self.totals)
        self.edit_action: Optional[QAction] = None
        if edit_path is not None:
            self.edit_action = QAction("Edit This File", self)
            self.edit_action.setObjectName("editFile")
            self.edit_action.setStatusTip(f"Open {edit_path.name} in an editor window; graphs that use it "
                                          "check again when it is saved")
            self.edit_action.triggered.connect(lambda _checked=False: self.editRequested.emit(str(edit_path)))
            toolbar = self.addToolBar("Inside")
            toolbar.setObjectName("insideToolbar")
            toolbar.setMovable(False)
            toolbar.addAction(self.edit_action)
        fit = QAction("Fit", self)
        fit.setShortcut("F")
        fit.triggered.connect(lambda _checked=False: self.view.fit_all())
        self.addAction(fit)
        if follows is not None:
            follows.analysisChanged.connect(self._follow)
        free = (parent.screen() if parent is not None else QApplication.primaryScreen()).availableGeometry()
        self.resize(min(WINDOW_SIZE[0], int(free.width() * 0.8)), min(WINDOW_SIZE[1], int(free.height() * 0.92)))

    def reload(self) -> bool:
        """Draw the inside again (when it changed); False, with the reason in the status
        bar, when it cannot be drawn (the old picture stays)."""
        try:
            graph, text = self.make()
        except InsideUnavailable as error:
            self.statusBar().showMessage(f"Cannot show the inside: {error}")
            self.caption.setText(f"Cannot show the inside now: {error}")
            return False
        shown = self.document.graph  # (its layout section is the canvas's, so it is not compared)
        if (graph.nodes, graph.description) != (shown.nodes, shown.description) or not shown.nodes:
            document = GraphDocument(graph, parent=self)
            scene = GraphScene(document, read_only=True, parent=document,
                               arrange=self.view.layout_function(document.layout_direction))
            scene.nodeDoubleClicked.connect(self._open_nested)
            old = self.document
            self.document = document
            self.view.set_graph_scene(scene)
            old.deleteLater()
            total = document.analysis.total
            self.totals.setText(f"Parameters: {total.params:,}   MACs: {human_count(total.macs)}")
            self.view.fit_all()
        self.shown_text = text
        edit = " — Edit This File (toolbar) to change it" if self.edit_path else ""
        self.statusBar().showMessage(f"Read-only: {text}{edit}")
        about = self.document.graph.description  # what the inside is (a built-in block says it there)
        self.caption.setText((about[:1].upper() + about[1:] + "\n" if about else "") + f"Read-only: {text}{edit}")
        return True

    def _follow(self) -> None:
        if self.isVisible():
            self.reload()

    # a composite inside a composite opens the same way (open_node_inside treats this
    # window like the main window: its document, its windows, its status bar)
    def _open_nested(self, node_id: str) -> None:
        open_node_inside(self, node_id)

    def show_error(self, title: str, text: str) -> None:
        self.statusBar().showMessage(f"{title}: {text}")


def _existing(main, key: str) -> Optional[QMainWindow]:
    for window in main.inside_windows:
        if window.property("inside") == key and window.isVisible():
            window.raise_()
            window.activateWindow()
            return window
    return None


def _show(main, window: InsideWindow) -> Optional[InsideWindow]:
    window.show()
    if not window.reload():
        main.show_error("Cannot open the composite block", window.statusBar().currentMessage())
        window.close()
        return None
    main.inside_windows.append(window)
    return window


# ---------------------------------------------------------------------- entry points
def open_node_inside(main, node_id: str) -> Optional[QMainWindow]:
    """Show the inside of composite node ``node_id`` of ``main``'s document, read-only, as
    this node uses it (a second double-click brings the same window back). A node of a
    primitive block has no inside: the status bar says so."""
    document = main.document
    node = document.graph.nodes.get(node_id)
    if node is None:
        return None
    if node.repeated:  # "× N": its repetitions, one after another
        key = str((id(document), node_id, "repeat"))
        return _existing(main, key) or _show(main, InsideWindow(
            main, key, f"{node_id}: repetitions", lambda: repeat_inside(document, node_id), follows=document))
    if node.graph:
        path = (document.graph_file_dir() / node.graph).resolve()
        key = str((id(document), node_id, str(path)))
        window = _existing(main, key)
        if window is not None:
            return window
        window = InsideWindow(main, key, f"{node_id}: {path.name}", lambda: file_inside(document, node_id, path),
                              follows=document, edit_path=path)
        root = getattr(main, "main_window", main)
        # the editor window asked opens the file (gui/part_window.py): this module needs no editor class
        window.editRequested.connect(lambda file: root.open_part_editor(Path(file)))
        return _show(main, window)
    block = document.block_of(node_id)
    if block is None or not block.has_inside():
        if block is not None:
            main.statusBar().showMessage(f"{node_id} ({block.name}) is a primitive block: there is nothing "
                                         "inside it to show", 5000)
        return None
    key = str((id(document), node_id, block.name))
    window = _existing(main, key)
    if window is not None:
        return window
    window = InsideWindow(main, key, f"{node_id}: inside {block.name}",
                          lambda: node_inside(document, node_id, block), follows=document)
    return _show(main, window)


def open_block_inside(main, block_name: str) -> Optional[QMainWindow]:
    """Show the inside of built-in composite block ``block_name`` with its first example's
    parameters and input shapes (a double-click in the palette)."""
    block = get_block(block_name)
    if not block.has_inside() or not block.examples:
        return None
    key = str(("palette", block_name))
    window = _existing(main, key)
    if window is not None:
        return window
    raw, shapes = _example_values(block)

    def make() -> tuple[Graph, str]:
        graph = inside_graph(block, _checked(block, raw), shapes)
        return graph, (f"{block_name} with its first example's values ({_values_text(raw, shapes)}). Drag the "
                       "block onto the canvas to use it; double-click the node there to see it with its values")

    return _show(main, InsideWindow(main, key, f"inside {block_name}: first example", make))
