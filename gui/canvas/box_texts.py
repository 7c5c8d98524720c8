"""What a node's box says: its id, block line, shape line and parameter count, the large
id and shape of the far-out level of detail, and its tooltip, all worked out from the
node, its block declaration, its analysis info and its problems, and elided to the
box's width with the metrics the box draws with.

:class:`gui.canvas.node_item.NodeItem` asks for these only when it first needs them
(drawn at a zoom that shows text, hovered, or asked by code): measuring and eliding the
texts of 5,000 boxes nobody sees yet took a third of the time a big graph took to open.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics

from gui import style
from gui.labels import human_count, key_params_text, param_text, short_shape
from gui.layout import NODE_WIDTH
from gui.wording import for_app, plain


@dataclass(frozen=True)
class BoxMetrics:
    """The metrics of the fonts a box draws its texts in."""

    text: QFontMetrics
    bold: QFontMetrics
    small: QFontMetrics
    large_title: QFontMetrics
    large_shape: QFontMetrics


@dataclass(frozen=True)
class BoxTexts:
    """Every string a box shows, ready to draw."""

    title: str
    subtitle: str = ""
    shape_line: str = ""
    count_text: str = ""  # parameter count, right-aligned on the shape line
    large_title: str = ""  # the id and shape for the far-out level of detail
    large_shape: str = ""
    tooltip: str = ""


def repeat_badge(node, block) -> str:
    """"× 12" for a node repeated 12 times (the count as the analysis worked it out, else as
    written), "" for any other node."""
    if getattr(node, "repeat", None) is None and getattr(node, "vary", None) is None:
        return ""
    count = getattr(block, "count", None) if block is not None and hasattr(block, "steps") else None
    return f"× {count if count is not None else node.repeat if node.repeat is not None else '?'}"


def _normal(param, value):
    try:
        return param.check(value)
    except ValueError:
        return value


def _defaults(block) -> dict:
    """Default values, normalized the way values are compared (stride 1 == [1, 1])."""
    return {name: _normal(p, p.default) for name, p in block.params.items() if not p.required}


def box_texts(node, block, info, problems, metrics: BoxMetrics) -> BoxTexts:
    """The texts of ``node``'s box; ``block`` is None if unknown, ``info`` (its analysis)
    None if missing."""
    width = NODE_WIDTH - 16
    repeat_text = repeat_badge(node, block)
    badge = metrics.bold.horizontalAdvance(repeat_text) + 14 if repeat_text else 0
    title = metrics.bold.elidedText(node.id, Qt.ElideRight, width - badge)
    if getattr(node, "graph", None):  # a graph file used as a block: its name and params
        kind = str(node.graph).replace("\\", "/").rsplit("/", 1)[-1]
        keys = "  ".join(f"{k}={param_text(v)}" for k, v in node.params.items())
    else:
        kind = node.block or "?"
        keys = ""
    if block is not None and not getattr(node, "graph", None):
        params = {k: _normal(block.params[k], v) if k in block.params else v for k, v in node.params.items()}
        keys = key_params_text(block.key_params, params, _defaults(block))
    if getattr(node, "enabled", True) is False:
        keys = "(off: passes its input on)"
    subtitle = metrics.text.elidedText(f"{kind}  {keys}".strip(), Qt.ElideRight, width)
    errors = [p for p in problems if p.is_error]
    if errors:
        line = "⚠ " + errors[0].message
    elif info is not None and info.outputs:
        shapes = [short_shape(s) for s in info.outputs.values()]
        line = "→ " + ("  |  ".join(shapes) if len(shapes) > 1 else shapes[0])
    elif info is not None and block is not None and not block.outputs:
        line = "model output"
    else:
        line = ""
    count_text = ""
    if not errors and info is not None and info.cost.params:
        count_text = f"{human_count(info.cost.params)} params"
        width -= metrics.small.horizontalAdvance(count_text) + 8
    room = NODE_WIDTH - 12
    return BoxTexts(
        title=title,
        subtitle=subtitle,
        shape_line=metrics.text.elidedText(line, Qt.ElideRight, width),
        count_text=count_text,
        large_title=metrics.large_title.elidedText(f"{node.id} {repeat_text}".strip(), Qt.ElideRight, room),
        large_shape=metrics.large_shape.elidedText(line.removeprefix("→ "), Qt.ElideRight, room),
        tooltip=tooltip(node, block, info, problems),
    )


def tooltip(node, block, info, problems) -> str:
    """The box's tooltip (rich text): what the node is, its shapes and cost, its problems."""
    lines = [f"<b>{escape(node.id)}</b> — {escape(node.block or ('graph ' + str(node.graph)))}"]
    badge = repeat_badge(node, block)
    if badge:
        lines.append(f"repeated {escape(badge.removeprefix('× '))} times in a chain, each repetition taking the "
                     "previous one's output (double-click to see them)")
    if getattr(node, "enabled", True) is False:
        lines.append("switched off (enabled: false): its consumers take its first input")
    if block is not None:
        summary = block.summary() if callable(getattr(block, "summary", None)) else ""
        if summary:
            lines.append(f"<i>{escape(plain(summary))}</i>")
    if info is not None:
        for port, shape in info.outputs.items():
            lines.append(f"{escape(port)}: {escape(short_shape(shape))}")
        if info.cost.params or info.cost.macs:
            lines.append(f"{info.cost.params:,} parameters, {info.cost.macs:,} MACs")
    for problem in map(for_app, problems):
        color = style.ERROR_COLOR if problem.is_error else style.WARNING_COLOR
        text = escape(problem.message) + (f"<br><i>{escape(problem.hint)}</i>" if problem.hint else "")
        lines.append(f"<span style='color:{color}'>{text}</span>")
    return "<br>".join(lines)
