"""Inline SVG charts for the year-end report: no scripts, no images, no network, just markup.

Every text that comes from data (department names, labels) is escaped here, because the
charts are handed to the template as Markup and autoescape does not look inside them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

FONT = (
    "'PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC',"
    "'WenQuanYi Micro Hei',sans-serif"
)
AXIS = "#666"
GRID = "#e3e3e3"


def _fit(text: str, limit: int) -> str:
    """Shorten a label to `limit` characters; the full text stays in the bar's tooltip."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    head = (
        f'<svg role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="12">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")


def histogram_bins(
    scores: Sequence[float], bin_width: float = 5, top: float = 100
) -> list[tuple[float, float, int]]:
    """Bins [lo, hi) of `bin_width` from below the lowest score up to `top` (the last bin is
    closed, so a score of 100 falls in 95–100)."""
    if not scores:
        return []
    start = min(math.floor(min(scores) / bin_width) * bin_width, top - bin_width)
    edges: list[float] = []
    lo = start
    while lo < top:
        edges.append(lo)
        lo += bin_width
    counts = [0] * len(edges)
    for s in scores:
        i = min(int((s - start) // bin_width), len(edges) - 1)
        counts[max(i, 0)] += 1
    return [(lo, min(lo + bin_width, top), c) for lo, c in zip(edges, counts, strict=True)]


def histogram_svg(
    scores: Sequence[float],
    *,
    title: str = "得分分布",
    bin_width: float = 5,
    width: int = 760,
    height: int = 280,
    colour: str = "#3b6ea5",
) -> Markup:
    """A histogram of scores with counts above the bars and score ranges below them."""
    bins = histogram_bins(scores, bin_width)
    if not bins:
        return _svg(width, 40, title, ['<text x="10" y="24">暂无数据</text>'])
    left, right, top_pad, bottom = 40, 10, 20, 40
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    peak = max(c for _, _, c in bins) or 1
    step = max(1, math.ceil(peak / 5))
    ymax = step * math.ceil(peak / step)
    bar_w = plot_w / len(bins)
    body: list[str] = []
    for v in range(0, ymax + 1, step):
        y = top_pad + plot_h - plot_h * v / ymax
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}">{v}</text>'
        )
    for i, (lo, hi, c) in enumerate(bins):
        x = left + i * bar_w
        h = plot_h * c / ymax
        y = top_pad + plot_h - h
        body.append(
            f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bar_w - 4:.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>{lo:g}–{hi:g} 分：{c} 个部门</title></rect>'
        )
        if c:
            body.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{c}</text>'
            )
        body.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{top_pad + plot_h + 16:.1f}" '
            f'text-anchor="middle" fill="{AXIS}" font-size="11">{lo:g}–{hi:g}</text>'
        )
    body.append(
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - right}" '
        f'y2="{top_pad + plot_h}" stroke="{AXIS}"/>'
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
        f'fill="{AXIS}">得分区间（分） / 纵轴：部门数</text>'
    )
    return _svg(width, height, title, body)


def stacked_bars_svg(
    rows: Sequence[tuple[str, Sequence[int]]],
    series: Sequence[tuple[str, str]],
    *,
    title: str,
    width: int = 760,
    label_width: int = 170,
    bar_height: int = 18,
) -> Markup:
    """Horizontal 100 % stacked bars, one per row; `series` gives (legend label, colour).

    Each row is (label, counts per series); a row with no items shows an empty track.
    """
    gap, legend_h, right = 8, 28, 60
    height = legend_h + len(rows) * (bar_height + gap) + gap
    plot_w = width - label_width - right
    body: list[str] = []
    lx = label_width
    for name, colour in series:
        body.append(
            f'<rect x="{lx}" y="6" width="12" height="12" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="16">{escape(name)}</text>'
        )
        lx += 16 + 14 * len(name) + 18
    for i, (label, counts) in enumerate(rows):
        y = legend_h + i * (bar_height + gap)
        total = sum(counts)
        body.append(
            f'<text x="{label_width - 8}" y="{y + bar_height - 5}" text-anchor="end">'
            f"{escape(_fit(label, label_width // 13))}</text>"
            f'<rect x="{label_width}" y="{y}" width="{plot_w}" height="{bar_height}" '
            f'fill="#f2f2f2"/>'
        )
        x = float(label_width)
        for (name, colour), c in zip(series, counts, strict=True):
            if not total or not c:
                continue
            w = plot_w * c / total
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_height}" '
                f'fill="{colour}"><title>{escape(label)} {escape(name)}：{c}</title></rect>'
            )
            if w >= 18:
                body.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + bar_height - 5}" text-anchor="middle" '
                    f'fill="#fff" font-size="11">{c}</text>'
                )
            x += w
        body.append(
            f'<text x="{label_width + plot_w + 6}" y="{y + bar_height - 5}" fill="{AXIS}">'
            f"共{total}项</text>"
        )
    return _svg(width, height, title, body)


def trend_svg(
    points: Sequence[tuple[int, float, str, str]],
    *,
    title: str,
    width: int = 280,
    height: int = 96,
) -> Markup:
    """A department's annual score across years: one dot per year in its board colour (a hex
    colour), joined by a line, the score above each dot and the year (with `note`, e.g. the
    rank) below. `points` are (year, score, colour, note), in year order."""
    if not points:
        return _svg(width, 40, title, ['<text x="10" y="24">暂无数据</text>'])
    left, right, top_pad, bottom = 24, 24, 20, 30
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    scores = [s for _, s, _, _ in points]
    lo = min(60.0, math.floor(min(scores) / 10) * 10)
    hi = 100.0
    step = plot_w / (len(points) - 1) if len(points) > 1 else 0.0

    def xy(i: int, score: float) -> tuple[float, float]:
        x = left + (i * step if len(points) > 1 else plot_w / 2)
        y = top_pad + plot_h - plot_h * (min(max(score, lo), hi) - lo) / (hi - lo)
        return x, y

    body = [
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - right}" '
        f'y2="{top_pad + plot_h}" stroke="{GRID}"/>'
    ]
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, s) for i, s in enumerate(scores)))
        body.append(f'<polyline points="{path}" fill="none" stroke="{AXIS}" stroke-width="1.5"/>')
    for i, (year, score, colour, note) in enumerate(points):
        x, y = xy(i, score)
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{escape(colour)}">'
            f"<title>{year}年 {score:.2f} 分 {escape(note)}</title></circle>"
            f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle" font-size="11">'
            f"{score:.1f}</text>"
            f'<text x="{x:.1f}" y="{height - 16}" text-anchor="middle" fill="{AXIS}" '
            f'font-size="11">{year}</text>'
            f'<text x="{x:.1f}" y="{height - 3}" text-anchor="middle" fill="{AXIS}" '
            f'font-size="10">{escape(_fit(note, 8))}</text>'
        )
    return _svg(width, height, title, body)
