"""Server-side SVG charts for the 挂图作战 page: no JavaScript, nothing loaded from elsewhere.

Each chart is an <svg role="img"> with a <title> and <desc> (screen readers read those; the page
also puts a table with the same numbers under every chart). Only presentation attributes are used,
never style="", so the console's Content-Security-Policy (no inline styles) has nothing to block.

Every chart is drawn at its own size, WIDTH pixels wide (it fits a column of the page's two-column
grid), and never scaled to its container: scaled, the same 13 px of text came out at 9 px in a
half-width column and 20 px across the page. So every label on the page is FONT_PX, and a screen
too narrow for a chart scrolls it sideways (.chart-frame) instead of shrinking its text.
"""
from __future__ import annotations

import math
from itertools import count

from markupsafe import Markup, escape

PALETTE = {"bar": "#0b5cad", "warn": "#b42318", "grid": "#d9dee5", "ink": "#1f2933", "muted": "#5f6b7a"}
# 非常满意 → 非常不满意: greens to reds, distinguishable in grey too (decreasing lightness order).
LEVEL_COLOURS = {5: "#1e7b3a", 4: "#5aa469", 3: "#b7d7a8", 2: "#f0a35e", 1: "#b42318"}
FONT_PX = 13  # every label of every chart; at least 12 px, the smallest the page prints
WIDTH = 480  # a column of the dashboard's grid is about 490 px wide at the page's full width
_ids = count(1)


def _text_width(text: str) -> float:
    return sum(FONT_PX if ord(ch) > 0x2E80 else FONT_PX * 0.55 for ch in text)


def _svg(width: int, height: int, title: str, desc: str, body: list[str]) -> Markup:
    n = next(_ids)
    return Markup(
        f'<div class="chart-frame"><svg class="chart" role="img" aria-labelledby="chart-t{n} chart-d{n}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" '
        f'font-size="{FONT_PX}" font-family="sans-serif">'
        f'<title id="chart-t{n}">{escape(title)}</title><desc id="chart-d{n}">{escape(desc)}</desc>'
        + "".join(body) + "</svg></div>")


def _month_axis(months: list[str], x_of, y: float, slot: float) -> list[str]:
    """Month labels under the plot: 「3月」, with the year (「2026」) under the first labelled month
    of each year, so a period across New Year reads right. Twelve months fit; a longer period
    labels every second (third …) month rather than overlap them."""
    every = max(1, math.ceil(_text_width("12月") * 1.2 / slot))
    out, year = [], None
    for i, month in enumerate(months):
        if i % every:
            continue
        x = x_of(i)
        y4, _, m = month.partition("-")
        out.append(f'<text x="{x:.1f}" y="{y}" text-anchor="middle" fill="{PALETTE["ink"]}">'
                   f'{escape(f"{int(m)}月" if m.isdigit() else month)}</text>')
        if m.isdigit() and y4 != year:
            year = y4
            out.append(f'<text x="{x:.1f}" y="{y + FONT_PX + 3}" text-anchor="middle" '
                       f'fill="{PALETTE["muted"]}">{escape(y4)}</text>')
    return out


def hbar(title: str, data: list[tuple[str, float]], unit: str = "", colour: str | None = None,
         highlight: set[str] | None = None) -> Markup:
    """Horizontal bars, one per (label, value); labels on the left, values at the bar ends."""
    width, row = WIDTH, 26
    label_w = max([_text_width(label) for label, _ in data] + [40]) + 12
    plot_w = width - label_w - 70
    top = 6
    height = top + row * max(len(data), 1) + 6
    peak = max([v for _, v in data if v] + [1])
    body = []
    for i, (label, value) in enumerate(data):
        y = top + i * row
        w = plot_w * (value or 0) / peak
        fill = PALETTE["warn"] if highlight and label in highlight else (colour or PALETTE["bar"])
        body.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" fill="{PALETTE["ink"]}">{escape(label)}</text>')
        body.append(f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 0.5 if value else 0):.1f}" height="{row - 8}" '
                    f'fill="{fill}"><title>{escape(label)}：{_fmt(value)}{escape(unit)}</title></rect>')
        body.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 17}" fill="{PALETTE["muted"]}">{_fmt(value)}{escape(unit)}</text>')
    if not data:
        body.append(f'<text x="10" y="20" fill="{PALETTE["muted"]}">暂无数据</text>')
    desc = "；".join(f"{label} {_fmt(v)}{unit}" for label, v in data) or "暂无数据"
    return _svg(width, height, title, desc, body)


def stacked_months(title: str, months: list[tuple[str, dict[int, int]]], labels: dict[int, str]) -> Markup:
    """One stacked column per month, a segment per rating level, with a legend."""
    width, height, left, bottom, top = WIDTH, 270, 40, 46, 30
    plot_h = height - top - bottom
    n = max(len(months), 1)
    slot = (width - left - 10) / n
    bar_w = min(48, slot * 0.6)
    peak = max([sum(c.values()) for _, c in months] + [1])
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="{PALETTE["grid"]}"/>',
            f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" fill="{PALETTE["muted"]}">{peak}</text>',
            f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" fill="{PALETTE["muted"]}">0</text>']
    x_legend = left
    for level, label in labels.items():
        body.append(f'<rect x="{x_legend:.1f}" y="6" width="12" height="12" fill="{LEVEL_COLOURS[level]}"/>'
                    f'<text x="{x_legend + 16:.1f}" y="17" fill="{PALETTE["ink"]}">{escape(label)}</text>')
        x_legend += 16 + _text_width(label) + 14
    for i, (month, counts) in enumerate(months):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for level in labels:
            v = counts.get(level, 0)
            if not v:
                continue
            h = plot_h * v / peak
            y -= h
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{LEVEL_COLOURS[level]}">'
                        f'<title>{escape(month)} {escape(labels[level])}：{v}</title></rect>')
    body += _month_axis([m for m, _ in months], lambda i: left + i * slot + slot / 2, top + plot_h + 18, slot)
    if not months:
        body.append(f'<text x="{left + 10}" y="{top + 40}" fill="{PALETTE["muted"]}">期间内暂无评价</text>')
    desc = "；".join(f"{m}：" + "，".join(f"{labels[lv]}{c.get(lv, 0)}" for lv in labels) for m, c in months) or "暂无评价"
    return _svg(width, height, title, desc, body)


def rate_line(title: str, points: list[tuple[str, float | None]]) -> Markup:
    """Satisfaction rate per month as a line on a 0–100 % scale."""
    width, height, left, bottom, top = WIDTH, 210, 48, 46, 14
    plot_h = height - top - bottom
    n = max(len(points), 1)
    slot = (width - left - 10) / n
    body = []
    for pct in (0, 50, 100):
        y = top + plot_h * (1 - pct / 100)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="{PALETTE["grid"]}"/>'
                    f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{PALETTE["muted"]}">{pct}%</text>')
    coords = []
    for i, (month, rate) in enumerate(points):
        x = left + i * slot + slot / 2
        if rate is None:
            continue
        y = top + plot_h * (1 - rate)
        coords.append(f"{x:.1f},{y:.1f}")
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{PALETTE["bar"]}"><title>{escape(month)} 满意率 {rate:.1%}</title></circle>'
                    f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle" fill="{PALETTE["ink"]}">{rate:.0%}</text>')
    body += _month_axis([m for m, _ in points], lambda i: left + i * slot + slot / 2, top + plot_h + 20, slot)
    if len(coords) > 1:
        body.insert(0, f'<polyline points="{" ".join(coords)}" fill="none" stroke="{PALETTE["bar"]}" stroke-width="2"/>')
    if not points:
        body.append(f'<text x="{left + 10}" y="{top + 40}" fill="{PALETTE["muted"]}">期间内暂无评价</text>')
    desc = "；".join(f"{m} {'—' if r is None else f'{r:.1%}'}" for m, r in points) or "暂无评价"
    return _svg(width, height, title, desc, body)


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.1f}"
    return str(int(value))
