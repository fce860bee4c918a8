"""An SVG flame graph of a Profile: each box a function on the stack, as wide as its share of
the samples, callers below their callees ("all" at the bottom), siblings in name order. No
script: each box's tooltip (``<title>``) gives its samples and share. Boxes narrower than
``MIN_WIDTH`` pixels are left out (their time is still in their callers' width)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from watchkeeper.profile.stacks import Profile

WIDTH = 1200
ROW = 17
MIN_WIDTH = 0.3
FONT = 11
CHAR = 6.4
"""Pixels a character of the 11 px monospace label takes, to fit labels in their boxes."""


@dataclass(slots=True)
class _Node:
    name: str
    value: int = 0
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(profile: Profile) -> _Node:
    root = _Node("all")
    for stack, count in profile.stacks.items():
        root.value += count
        node = root
        for frame in stack:
            node = node.children.setdefault(frame, _Node(frame))
            node.value += count
    return root


def _depth(node: _Node) -> int:
    return 1 + max((_depth(c) for c in node.children.values()), default=0)


def _colour(name: str) -> str:
    digest = hashlib.blake2s(name.encode(), digest_size=3).digest()
    return f"rgb({205 + digest[0] % 50},{80 + digest[1] % 130},{digest[2] % 55})"


def svg(profile: Profile, title: str) -> str:
    root = _tree(profile)
    total = max(root.value, 1)
    depth = _depth(root)
    height = (depth + 2) * ROW + 10
    scale = (WIDTH - 20) / total
    boxes: list[str] = []

    def place(node: _Node, x: float, level: int) -> None:
        width = node.value * scale
        if width < MIN_WIDTH:
            return
        y = height - (level + 1) * ROW - 5
        share = node.value / total * 100
        tip = f"{node.name} — {node.value:,} samples ({share:.2f} %)"
        label = ""
        fits = int((width - 6) / CHAR)
        if fits >= 3:
            label = node.name if len(node.name) <= fits else node.name[: fits - 2] + ".."
        boxes.append(
            f"<g><title>{escape(tip)}</title>"
            f'<rect x="{x:.2f}" y="{y}" width="{max(width - 0.5, 0.1):.2f}" height="{ROW - 1}" '
            f'fill="{_colour(node.name)}" rx="2"/>'
            + (f'<text x="{x + 3:.2f}" y="{y + ROW - 5}">{escape(label)}</text>' if label else "")
            + "</g>"
        )
        offset = x
        for name in sorted(node.children):
            child = node.children[name]
            place(child, offset, level + 1)
            offset += child.value * scale

    place(root, 10.0, 0)
    text = f"{title} — {root.value:,} samples"
    most = int(WIDTH / 8)
    heading = escape(text if len(text) <= most else text[: most - 3] + "...")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="monospace" font-size="{FONT}">'
        f'<rect width="100%" height="100%" fill="#fbfaf7"/>'
        f'<text x="{WIDTH / 2}" y="{ROW}" text-anchor="middle" font-size="14">{heading}</text>'
        f"<desc>{escape('Flame graph made by Watchkeeper from py-spy samples')}</desc>"
        + "".join(boxes)
        + "</svg>\n"
    )
