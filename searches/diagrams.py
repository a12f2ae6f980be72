"""Architecture diagrams as inline SVG, built from the architecture dict (no Django, no torch).

``arch_svg(space_kind, arch)``: the NAS-Bench-201 cell as its DAG (4 nodes, an op
on each of the 6 edges; "none" edges dashed), every other space as its layer
stack (input, the whole-network choices, one box per layer or stage with its
choices, output). The page inlines the string; it needs no script.
"""

from __future__ import annotations

import re
from html import escape

#: Colour-blind-safe (Okabe-Ito) colours for the ops of a cell.
OP_COLOURS = {"nor_conv_3x3": "#0072B2", "nor_conv_1x1": "#56B4E9", "avg_pool_3x3": "#E69F00",
              "skip_connect": "#009E73", "none": "#999999"}
BLOCK_WORDS = {"macro_cnn": "stage", "hybrid": "stage"}
FAMILIES = {"conv": "conv", "attn": "attention"}
NUMBERED = re.compile(r"^(?P<prefix>.*?)_?(?P<index>\d+)$")


def arch_svg(space_kind: str, arch: dict) -> str:
    if space_kind == "nb201":
        return cell_svg(arch)
    return stack_svg(space_kind, arch)


def cell_svg(arch: dict) -> str:
    """The NB201 cell: nodes 0..3 left to right, edge j<-i as an arc labelled with its op."""
    xs = [40, 200, 360, 520]
    y = 150
    parts = []
    for name, op in sorted(arch.items()):
        match = re.match(r"edge_(\d)<-(\d)", name)
        if not match:
            continue
        j, i = int(match.group(1)), int(match.group(2))
        span = j - i
        bend = -45 * span if (i + j) % 2 else 45 * span  # alternate above and below so labels never overlap
        x0, x1, mid = xs[i] + 18, xs[j] - 18, (xs[i] + xs[j]) / 2
        colour = OP_COLOURS.get(op, "#444")
        dash = ' stroke-dasharray="5 4"' if op == "none" else ""
        label_y = y + bend * 0.55 + (5 if bend > 0 else -2)
        parts.append(f'<path d="M{x0},{y} Q{mid},{y + bend} {x1},{y}" fill="none" stroke="{colour}" '
                     f'stroke-width="2.5"{dash} marker-end="url(#arrow)"><title>{escape(name)}: {escape(op)}'
                     f'</title></path>')
        parts.append(f'<text x="{mid}" y="{label_y}" text-anchor="middle" font-size="12" fill="{colour}">'
                     f'{escape(op)}</text>')
    for index, x in enumerate(xs):
        label = "in" if index == 0 else ("out" if index == 3 else str(index))
        parts.append(f'<circle cx="{x}" cy="{y}" r="18" fill="#fff" stroke="#1f2328" stroke-width="2"/>'
                     f'<text x="{x}" y="{y + 5}" text-anchor="middle" font-size="13">{label}</text>')
    return _svg(560, 300, "NAS-Bench-201 cell: node j sums the ops on its incoming edges", "".join(parts))


def stack_rows(space_kind: str, arch: dict) -> list[tuple[str, list[tuple[str, str]]]]:
    """(box title, [(choice, value)]) from input to output: whole-network choices, then each layer."""
    overall, blocks = [], {}
    for name, value in arch.items():
        match = NUMBERED.match(name)
        if not match:
            overall.append((name.replace("_", " "), _text(value)))
            continue
        prefix, index = match.group("prefix"), int(match.group("index"))
        family = prefix.split("_")[0] if prefix.split("_")[0] in FAMILIES else ""
        choice = prefix[len(family):].strip("_") or prefix
        blocks.setdefault((family != "", family, index), []).append((choice.replace("_", " "), _text(value)))
    rows = [("input", [])]
    if overall:
        rows.append(("whole network", overall))
    word = BLOCK_WORDS.get(space_kind, "layer")
    order = sorted(blocks, key=lambda k: (list(FAMILIES).index(k[1]) if k[1] else -1, k[2]))
    for key in order:
        family, index = key[1], key[2]
        rows.append((f"{FAMILIES[family] + ' ' if family else ''}{word} {index}", blocks[key]))
    rows.append(("output", []))
    return rows


def stack_svg(space_kind: str, arch: dict) -> str:
    rows = stack_rows(space_kind, arch)
    width, y, parts = 360, 10, []
    for number, (title, choices) in enumerate(rows):
        height = 26 + 17 * len(choices)
        fill = "#eaeef2" if not choices else ("#fff8e6" if title == "whole network" else "#e8f1fb")
        parts.append(f'<rect x="20" y="{y}" width="{width - 40}" height="{height}" rx="6" fill="{fill}" '
                     f'stroke="#57606a"/><text x="{width / 2}" y="{y + 18}" text-anchor="middle" font-size="13" '
                     f'font-weight="600">{escape(title)}</text>')
        for k, (choice, value) in enumerate(choices):
            parts.append(f'<text x="{width / 2}" y="{y + 36 + 17 * k}" text-anchor="middle" font-size="12">'
                         f'{escape(choice)}: {escape(value)}</text>')
        y += height
        if number < len(rows) - 1:
            parts.append(f'<line x1="{width / 2}" y1="{y}" x2="{width / 2}" y2="{y + 18}" stroke="#57606a" '
                         f'stroke-width="2" marker-end="url(#arrow)"/>')
            y += 20
    return _svg(width, y + 10, "Layer stack, input at the top", "".join(parts))


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _svg(width: int, height: int, title: str, body: str) -> str:
    return (f'<svg class="arch-diagram" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker></defs>'
            f'{body}</svg>')
