"""The canvas scene: node and wire items drawn from a :class:`gui.document.GraphDocument`.

The scene never changes the graph itself. It listens to the document's signals and adds,
removes or refreshes items; user gestures (moving boxes, dragging wires) become document
edits (``move_nodes``, ``connect``), which come back as signals. So undo and redo need no
code here: the document says what changed and the scene follows.
"""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QGraphicsSceneMouseEvent

from builder import frozen_nodes
from gui import style
from gui.canvas.node_item import NodeItem, PortSpot
from gui.canvas.wire_item import PendingWire, WireItem
from gui.collector import collector_paused
from gui.document import GraphDocument, Verdict
from gui.labels import short_shape
from gui.layout import flow_of
from gui.readable import grid_lines
from gui.routing import BoxIndex, to_flow

GRID = 40  # spacing of the background grid's lines


class GraphScene(QGraphicsScene):
    """Items for every node and wire of a document; ``read_only`` for looking only
    (the inside of a composite block)."""

    nodeSelectionChanged = Signal(list)
    nodeDoubleClicked = Signal(str)
    canvasDoubleClicked = Signal(QPointF)  # empty canvas: offer a block search there
    wireDroppedOnCanvas = Signal(str, QPointF)  # a wire from output ref let go on empty canvas
    message = Signal(str)  # a refusal to show in the status bar

    def __init__(self, document: GraphDocument, read_only: bool = False, parent=None,
                 arrange: Optional[Callable] = None):
        """``arrange(ids, sources)`` lays out a graph opened without positions (the view
        passes one that fits its window); by default one layer after another."""
        super().__init__(parent)
        self.document = document
        self.read_only = read_only
        self.node_items: dict[str, NodeItem] = {}
        self.wire_items: dict[tuple, WireItem] = {}
        self._into: dict[str, dict[tuple, None]] = {}  # target node -> keys of its wires (no scan of all wires)
        self._out_of: dict[str, dict[tuple, None]] = {}  # source node -> keys of its wires
        self._nodes_rect: Optional[QRectF] = None  # kept until a box is added, removed or moved
        self._pending: Optional[PendingWire] = None
        self._pending_from: Optional[PortSpot] = None
        self._verdicts: dict[tuple, Verdict] = {}
        self._hovered: Optional[NodeItem] = None
        self._route_timer = QTimer(self)
        self._route_timer.setSingleShot(True)
        self._route_timer.setInterval(0)
        self._route_timer.timeout.connect(self.route_wires)
        self.setBackgroundBrush(QColor(style.CANVAS_COLOR))
        self.setItemIndexMethod(QGraphicsScene.BspTreeIndex)

        with collector_paused():
            document.ensure_layout(arrange)
            self.flow = flow_of(document.layout_direction)
            for node_id in document.graph.nodes:
                self._add_node_item(node_id)
            for node_id in document.graph.nodes:
                self._sync_wires(node_id, label=False)  # refresh_analysis labels every wire next
            self.refresh_analysis()
            self.route_wires()

        document.nodeAdded.connect(self._on_node_added)
        document.nodeRemoved.connect(self._on_node_removed)
        document.nodeChanged.connect(self._on_node_changed)
        document.nodeRenamed.connect(self._on_node_renamed)
        document.nodeMoved.connect(self._on_node_moved)
        document.analysisChanged.connect(self.refresh_analysis)
        document.trainingChanged.connect(self.refresh_frozen)  # the freeze setting: icy boxes
        document.layoutDirectionChanged.connect(self._on_direction_changed)
        self.selectionChanged.connect(self._on_selection_changed)

    # ------------------------------------------------------------------ queries
    def selected_ids(self) -> list[str]:
        """Selected nodes, in file order."""
        chosen = {item.node_id for item in self.selectedItems() if isinstance(item, NodeItem)}
        return [i for i in self.document.graph.nodes if i in chosen]

    def selected_wires(self) -> list[WireItem]:
        return [item for item in self.selectedItems() if isinstance(item, WireItem)]

    def select_nodes(self, ids: list[str]) -> None:
        """Select exactly these nodes (and no wires)."""
        wanted = set(ids)
        self.blockSignals(True)  # one selectionChanged, not one per item
        try:
            for item in self.selectedItems():
                item.setSelected(False)
            for node_id in wanted:
                if node_id in self.node_items:
                    self.node_items[node_id].setSelected(True)
        finally:
            self.blockSignals(False)
        self._on_selection_changed()

    def set_marks(self, marks: dict[str, str]) -> None:
        """Badge these nodes with a note each (all others cleared): gradient warnings
        from a training run, which are not problems of the graph."""
        for node_id, item in self.node_items.items():
            item.set_mark(marks.get(node_id, ""))

    def refresh_frozen(self) -> None:
        """Draw the nodes the training section freezes as frozen (its ``freeze`` read as the
        trainer reads it), and the others as not."""
        training = self.document.graph.training
        frozen = set(frozen_nodes(self.document.graph, (training or {}).get("freeze"))[0]) \
            if isinstance(training, dict) and training.get("freeze") else set()
        for node_id, item in self.node_items.items():
            item.set_frozen(node_id in frozen)

    def wires_into(self, node_id: str) -> list[WireItem]:
        return [self.wire_items[key] for key in self._into.get(node_id, {})]

    def wires_of(self, node_ids) -> list[WireItem]:
        """The wires into and out of these nodes, each once."""
        keys: dict[tuple, None] = {}
        for node_id in node_ids:
            keys.update(self._into.get(node_id, {}))
            keys.update(self._out_of.get(node_id, {}))
        return [self.wire_items[key] for key in keys]

    def nodes_rect(self) -> QRectF:
        """The boxes' bounding rectangle (for fit to view, and the overview's every paint)."""
        if self._nodes_rect is None:
            rect = QRectF()
            for item in self.node_items.values():
                rect = rect.united(item.sceneBoundingRect())
            self._nodes_rect = rect
        return QRectF(self._nodes_rect)

    # ------------------------------------------------------------------ document -> items
    def _add_node_item(self, node_id: str) -> NodeItem:
        item = NodeItem(node_id)
        item.set_flow(self.flow)
        if self.read_only:
            item.setFlag(QGraphicsItem.ItemIsMovable, False)
        position = self.document.position(node_id) or (0, 0)
        item.setPos(*position)
        self.addItem(item)
        self.node_items[node_id] = item
        self._nodes_rect = None
        return item

    def _on_node_added(self, node_id: str) -> None:
        self._add_node_item(node_id)
        self._sync_wires(node_id)
        for consumer in self.document.graph.consumers(node_id):
            self._sync_wires(consumer)
        self._refresh_node(node_id)
        self.schedule_routing()

    def _on_node_removed(self, node_id: str) -> None:
        item = self.node_items.pop(node_id, None)
        if item is self._hovered:
            self._hovered = None
        if item is not None:
            self.removeItem(item)
        for wire in self.wires_of([node_id]):
            self._remove_wire(wire.key)
        self._nodes_rect = None
        self.schedule_routing()

    def _on_direction_changed(self, direction: str) -> None:
        """Ports move to the edges that face the new flow; wires follow."""
        self.flow = flow_of(direction)
        for item in self.node_items.values():
            item.set_flow(self.flow)
        self._nodes_rect = None
        self.route_wires()

    def _on_node_changed(self, node_id: str) -> None:
        if node_id in self.node_items:
            self._sync_wires(node_id)
            self.schedule_routing()

    def _on_node_renamed(self, old: str, new: str) -> None:
        item = self.node_items.pop(old)
        item.node_id = new
        self.node_items[new] = item
        for wire in self.wires_of([old]):
            self._remove_wire(wire.key)
        self._sync_wires(new)
        for consumer in self.document.graph.consumers(new):
            self._sync_wires(consumer)
        self.schedule_routing()

    def _on_node_moved(self, node_id: str) -> None:
        item = self.node_items.get(node_id)
        position = self.document.position(node_id)
        if item is None or position is None:
            return
        if (item.pos().x(), item.pos().y()) != tuple(map(float, position)):
            item.setPos(*position)
            self._nodes_rect = None
        self.schedule_routing()

    def _sync_wires(self, target: str, label: bool = True) -> None:
        """Make the wire items into ``target`` match the document's wires."""
        wanted = {}
        for w in self.document.wires(target):  # the same source twice into a variadic port: two wires
            copies = sum(1 for key in wanted if key[:3] == (w.target, w.target_port, w.ref))
            wanted[(w.target, w.target_port, w.ref, copies)] = w
        for key in [k for k in self._into.get(target, ()) if k not in wanted]:
            self._remove_wire(key)
        for key, wire in wanted.items():
            if key not in self.wire_items and wire.source in self.node_items:
                item = WireItem(key, wire.source, wire.source_port, wire.target, wire.target_port)
                if self.read_only:
                    item.setFlag(QGraphicsItem.ItemIsSelectable, False)
                self.addItem(item)
                self.wire_items[key] = item
                self._into.setdefault(wire.target, {})[key] = None
                self._out_of.setdefault(wire.source, {})[key] = None
                if label:
                    self._label_wire(item)

    def _remove_wire(self, key: tuple) -> None:
        item = self.wire_items.pop(key)
        self._into.get(item.target, {}).pop(key, None)
        self._out_of.get(item.source, {}).pop(key, None)
        self.removeItem(item)

    def refresh_analysis(self) -> None:
        """Redraw every node's texts and every wire's label from the current analysis."""
        self.refresh_frozen()
        for node_id in self.node_items:
            self._refresh_node(node_id)
        for wire in self.wire_items.values():
            self._label_wire(wire)
        self._nodes_rect = None  # port labels may have come or gone
        self.schedule_routing()  # the number of ports may have changed

    def _refresh_node(self, node_id: str) -> None:
        analysis = self.document.analysis
        node = self.document.graph.nodes[node_id]
        info = analysis.nodes.get(node_id)
        self.node_items[node_id].refresh(node, info.block if info else None, info, analysis.problems_for(node_id))

    def _label_wire(self, wire: WireItem) -> None:
        analysis = self.document.analysis
        info = analysis.nodes.get(wire.source)
        shape = info.outputs.get(wire.source_port) if info is not None and wire.source_port else None
        target = analysis.nodes.get(wire.target)
        broken = target is not None and not target.ok and bool(target.input_shapes) and any(
            p.is_error for p in analysis.problems_for(wire.target))
        text = short_shape(shape) if shape is not None else "?"
        port = f".{wire.target_port}" if wire.target_port else ""
        wire.set_label(text, broken, f"{wire.key[2]} → {wire.target}{port}: {text}")

    # ------------------------------------------------------------------ routing
    def schedule_routing(self) -> None:
        """Route the wires once control returns to the event loop (many edits, one pass)."""
        self._route_timer.start()

    def route_wires(self, wires=None) -> None:
        """Give each wire its end points and, where boxes are in the way, a free lane."""
        self._route_timer.stop()
        boxes = BoxIndex(((i, item.pos().x(), item.pos().y()) for i, item in self.node_items.items()), self.flow)
        for wire in (self.wire_items.values() if wires is None else wires):
            source, target = self.node_items.get(wire.source), self.node_items.get(wire.target)
            if source is None or target is None:
                continue
            start = source.port_pos(wire.source_port, output=True)
            end = target.port_pos(wire.target_port, output=False)
            lane, side = boxes.lane(to_flow(self.flow, (start.x(), start.y())), to_flow(self.flow, (end.x(), end.y())),
                                    {wire.source, wire.target})
            wire.set_route(start, end, lane, side, self.flow)

    def _follow_dragged_boxes(self) -> None:
        """The boxes a drag moves (the one grabbed and the selected ones): their wires follow."""
        moved = {item.node_id for item in self.selectedItems() if isinstance(item, NodeItem)}
        grabbed = self.mouseGrabberItem()
        if isinstance(grabbed, NodeItem):
            moved.add(grabbed.node_id)
        self._nodes_rect = None
        self.route_wires(self.wires_of(moved))

    # ------------------------------------------------------------------ gestures
    def _node_at(self, pos: QPointF) -> Optional[NodeItem]:
        for item in self.items(pos):
            if isinstance(item, NodeItem):
                return item
        return None

    def _port_at(self, pos: QPointF) -> Optional[PortSpot]:
        near = QRectF(pos.x() - 12, pos.y() - 12, 24, 24)
        for item in self.items(near):
            if isinstance(item, NodeItem):
                spot = item.port_at(pos)
                if spot is not None:
                    return spot
        return None

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.LeftButton and not self.read_only:
            spot = self._port_at(event.scenePos())
            if spot is not None:
                self._start_wire(spot)
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._pending is not None:
            self._drag_wire(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)
        if event.buttons() & Qt.LeftButton and isinstance(self.mouseGrabberItem(), NodeItem) and not self.read_only:
            self._follow_dragged_boxes()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._pending is not None:
            self._finish_wire(event.scenePos())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        self.commit_moves()

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        node = self._node_at(event.scenePos())
        if node is not None:
            self.nodeDoubleClicked.emit(node.node_id)
            event.accept()
            return
        if not self.read_only and not any(isinstance(i, WireItem) for i in self.items(event.scenePos())):
            self.canvasDoubleClicked.emit(event.scenePos())
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def commit_moves(self) -> None:
        """Boxes the user dragged become one undoable move (on mouse release)."""
        moved = {}
        for node_id, item in self.node_items.items():
            position = self.document.position(node_id)
            now = (round(item.pos().x()), round(item.pos().y()))
            if position is not None and now != tuple(position):
                moved[node_id] = now
        if moved:
            self.document.move_nodes(moved)

    # ------------------------------------------------------------------ wire dragging
    def _ref(self, spot: PortSpot) -> str:
        """The reference text of an output port: ``node`` for the first, ``node.port`` else."""
        item = self.node_items[spot.node]
        return spot.node if item.outputs and spot.port == item.outputs[0] else f"{spot.node}.{spot.port}"

    def _start_wire(self, spot: PortSpot) -> None:
        item = self.node_items[spot.node]
        self._pending_from = spot
        self._verdicts.clear()
        self._pending = PendingWire(item.port_pos(spot.port, spot.output), spot.output, self.flow)
        self.addItem(self._pending)

    def verdict_at(self, pos: QPointF) -> tuple[Optional[tuple], Verdict]:
        """What letting the dragged wire go at ``pos`` would do: the (node, port, output)
        it would join, or None over empty canvas, and the document's verdict."""
        origin = self._pending_from
        spot = self._port_at(pos)
        node = self._node_at(pos) if spot is None else None
        if spot is None and node is None:
            return None, Verdict(False, "")
        if spot is None:  # over a box: its first free input (or its first output)
            spot = PortSpot(node.node_id, None, not origin.output)
        key = (spot.node, spot.port, spot.output)
        if key not in self._verdicts:
            if spot.output == origin.output:
                side = "output" if origin.output else "input"
                verdict = Verdict(False, f"cannot join an {side} to another {side}",
                                  "drag from an output (bottom) to an input (top)")
            elif origin.output:
                verdict = self.document.can_connect(self._ref(origin), spot.node, spot.port)
            else:
                source = spot if spot.port is not None else PortSpot(
                    spot.node, (self.node_items[spot.node].outputs or [None])[0], True)
                if source.port is None:
                    verdict = Verdict(False, f"{spot.node!r} has no outputs")
                else:
                    verdict = self.document.can_connect(self._ref(source), origin.node, origin.port)
            self._verdicts[key] = verdict
        return key, self._verdicts[key]

    def _drag_wire(self, pos: QPointF) -> None:
        key, verdict = self.verdict_at(pos)
        hovered = self.node_items.get(key[0]) if key else None
        if self._hovered is not None and self._hovered is not hovered:
            self._hovered.set_highlight(None)
        self._hovered = hovered
        if hovered is not None:
            hovered.set_highlight(key[1], key[2], verdict.ok)
        text = ""
        if key is not None and not verdict.ok:
            text = verdict.reason + (f"\n{verdict.hint}" if verdict.hint else "")
        view = self.views()[0] if self.views() else None
        visible = view.mapToScene(view.viewport().rect()).boundingRect() if view is not None else None
        zoom = view.transform().m11() if view is not None else 1.0
        self._pending.follow(pos, ok=key is None or verdict.ok, message=text, visible=visible, zoom=zoom)

    def _finish_wire(self, pos: QPointF) -> None:
        key, verdict = self.verdict_at(pos)
        origin = self._pending_from
        self.removeItem(self._pending)
        self._pending, self._pending_from = None, None
        if self._hovered is not None:
            self._hovered.set_highlight(None)
            self._hovered = None
        if key is None:
            if origin.output:
                self.wireDroppedOnCanvas.emit(self._ref(origin), pos)
            return
        if not verdict.ok:
            self.message.emit(f"Not connected: {verdict.reason}")
            return
        node, port, output = key
        if origin.output:
            self.document.connect(self._ref(origin), node, port)
        else:
            port = port or (self.node_items[node].outputs or [None])[0]
            self.document.connect(self._ref(PortSpot(node, port, True)), origin.node, origin.port)

    # ------------------------------------------------------------------ background
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        super().drawBackground(painter, rect)
        if painter.worldTransform().m11() * GRID < 16:
            return  # a grid this dense is noise
        painter.setPen(QPen(QColor(style.GRID_COLOR), 0))
        # lines at multiples of GRID wherever the exposed strip starts, so that the strips
        # painted while panning continue the lines already on screen
        for x in grid_lines(rect.left(), rect.right(), GRID):
            painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
        for y in grid_lines(rect.top(), rect.bottom(), GRID):
            painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))

    def _on_selection_changed(self) -> None:
        self.nodeSelectionChanged.emit(self.selected_ids())

