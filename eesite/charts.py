"""Server-rendered SVG charts: readable without JavaScript, on a phone, and by screen readers.

Each chart is inline SVG with a viewBox (it scales to the column, text stays legible at 375 px
because the drawing is narrow and the type large), a <title> and <desc> that state what it
shows (the figure's data table sits beside it on the page), and series told apart by colour
(the Okabe–Ito palette, safe for colour-vision deficiency) *and* by marker shape and dash
pattern, so no reader depends on colour alone. Strings are escaped here; the result is Markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from markupsafe import Markup

# Okabe & Ito (2008), "Color Universal Design"; black is currentColor so dark mode works.
INK, ORANGE, SKY, GREEN, BLUE, VERMILLION, PURPLE = (
    "currentColor", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7")
SOLID, DASHED, DOTTED = "", "7 4", "2 3"

W, H = 560, 330  # drawing units; narrow on purpose so 15-unit type stays readable on phones
LEFT, RIGHT, TOP, BOTTOM = 64, 14, 14, 38
FONT = 15
GAP_DAYS = 183  # a category line breaks where its rounds are more than this far apart


@dataclass(frozen=True)
class Style:
    colour: str
    marker: str  # circle, square, triangle, diamond, cross, plus
    dash: str = SOLID


STYLES: dict[str, Style] = {
    "general": Style(INK, "circle"),
    "cec": Style(ORANGE, "square"),
    "pnp": Style(BLUE, "triangle"),
    "fsw": Style(VERMILLION, "cross", DASHED),
    "fst": Style(PURPLE, "plus", DASHED),
    "french": Style(SKY, "diamond"),
    "healthcare": Style(GREEN, "circle", DASHED),
    "stem": Style(VERMILLION, "square", DASHED),
    "trades": Style(PURPLE, "triangle"),
    "transport": Style(ORANGE, "diamond", DOTTED),
    "agriculture": Style(GREEN, "triangle", DOTTED),
    "education": Style(BLUE, "plus", DOTTED),
    "physicians": Style(SKY, "cross", DASHED),
    "researchers": Style(INK, "diamond", DOTTED),
    "senior-managers": Style(PURPLE, "circle", DOTTED),
    "skilled-military": Style(GREEN, "square", SOLID),
}
DEFAULT_STYLE = Style(BLUE, "circle")


@dataclass(frozen=True)
class Point:
    x: date
    y: int
    label: str  # what a hover tooltip says


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    points: tuple[Point, ...]  # oldest first

    @property
    def style(self) -> Style:
        return STYLES.get(self.key, DEFAULT_STYLE)


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    partial: bool = False  # drawn hatched: the period is not over yet


# ---- scales --------------------------------------------------------------------------------

def nice_ticks(low: float, high: float, count: int = 5) -> tuple[int, ...]:
    """Round tick values covering low..high: steps of 1, 2 or 5 times a power of ten."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    stop = math.ceil(high / step) * step
    return tuple(int(start + i * step) for i in range(int(round((stop - start) / step)) + 1))


def _scale(domain: tuple[float, float], extent: tuple[float, float]):
    (d0, d1), (r0, r1) = domain, extent
    span = (d1 - d0) or 1
    return lambda v: round(r0 + (v - d0) * (r1 - r0) / span, 1)


def _time_ticks(start: date, end: date) -> list[tuple[date, str]]:
    """Labelled x ticks: years for long spans, months (at most six labels) for short ones."""
    if (end - start).days > 3 * 366:
        years = list(range(start.year + (start > date(start.year, 1, 1)), end.year + 1))
        every = math.ceil(len(years) / 7)
        return [(date(y, 1, 1), str(y)) for y in years[::every]]
    months = []
    y, m = (start.year, start.month + 1) if start.day > 1 else (start.year, start.month)
    while date(y + (m > 12), (m - 1) % 12 + 1, 1) <= end:
        y, m = y + (m > 12), (m - 1) % 12 + 1
        months.append(date(y, m, 1))
        m += 1
    every = math.ceil(len(months) / 6) or 1
    return [(d, f"{d:%b} {d.year}" if i == 0 or d.month == 1 else f"{d:%b}")
            for i, d in enumerate(months[::every])]


# ---- pieces --------------------------------------------------------------------------------

def _marker(shape: str, x: float, y: float, r: float = 4.5) -> str:
    """Path data for one marker centred on (x, y)."""
    if shape == "square":
        return f"M{x - r * .8:.1f},{y - r * .8:.1f}h{r * 1.6:.1f}v{r * 1.6:.1f}h{-r * 1.6:.1f}z"
    if shape == "triangle":
        return f"M{x:.1f},{y - r:.1f}L{x + r:.1f},{y + r * .8:.1f}L{x - r:.1f},{y + r * .8:.1f}z"
    if shape == "diamond":
        return f"M{x:.1f},{y - r:.1f}L{x + r:.1f},{y:.1f}L{x:.1f},{y + r:.1f}L{x - r:.1f},{y:.1f}z"
    if shape == "cross":
        return (f"M{x - r:.1f},{y - r:.1f}L{x + r:.1f},{y + r:.1f}"
                f"M{x - r:.1f},{y + r:.1f}L{x + r:.1f},{y - r:.1f}")
    if shape == "plus":
        return f"M{x - r:.1f},{y:.1f}h{2 * r:.1f}M{x:.1f},{y - r:.1f}v{2 * r:.1f}"
    return (f"M{x - r:.1f},{y:.1f}a{r:.1f},{r:.1f} 0 1,0 {2 * r:.1f},0"
            f"a{r:.1f},{r:.1f} 0 1,0 {-2 * r:.1f},0")


def _open(chart_id: str, title: str, desc: str, width: int, height: int, extra: str = "") -> str:
    return (f'<svg class="chart" id="{chart_id}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="{chart_id}-t {chart_id}-d" font-size="{FONT}"{extra}>'
            f'<title id="{chart_id}-t">{escape(title)}</title>'
            f'<desc id="{chart_id}-d">{escape(desc)}</desc>')


def _y_axis(ticks: Sequence[int], y, left: float, right: float) -> list[str]:
    """Horizontal grid lines with their values; the unit is said in the figure caption."""
    out = ['<g class="grid" aria-hidden="true">']
    for t in ticks:
        out.append(f'<line x1="{left}" x2="{right}" y1="{y(t)}" y2="{y(t)}"/>'
                   f'<text x="{left - 6}" y="{y(t) + 5}" text-anchor="end">{t:,}</text>')
    out.append("</g>")
    return out


def legend(series: Sequence[Series]) -> Markup:
    """An HTML key (it wraps on a phone) with each series' colour, marker and dash."""
    items = []
    for s in series:
        st = s.style
        dash = f' stroke-dasharray="{st.dash}"' if st.dash else ""
        items.append(
            f'<li><svg viewBox="0 0 36 14" width="36" height="14" aria-hidden="true" '
            f'style="color:{st.colour}"><line x1="1" x2="35" y1="7" y2="7" stroke="currentColor" '
            f'stroke-width="2"{dash}/><path d="{_marker(st.marker, 18, 7)}" '
            f'{_marker_paint(st)}/></svg> {escape(s.label)}</li>')
    return Markup('<ul class="chart-key">' + "".join(items) + "</ul>")


def _marker_paint(st: Style) -> str:
    if st.marker in ("cross", "plus"):
        return 'fill="none" stroke="currentColor" stroke-width="2"'
    return 'fill="currentColor" style="stroke:var(--paper,#fff)" stroke-width="1"'


# ---- charts --------------------------------------------------------------------------------

def time_chart(chart_id: str, title: str, desc: str, series: Sequence[Series], *,
               start: date, end: date, zero: bool = False, crs: bool = False,
               tooltips: bool = True, marker_size: float = 4.5) -> Markup:
    """Values over time, one line (broken at long gaps) and marker set per series.

    `crs` marks the chart for the optional "your score" line (static/charts.js), which
    reads the plot's scale from data attributes.
    """
    values = [p.y for s in series for p in s.points] or [0]
    ticks = nice_ticks(0 if zero else min(values), max(values))
    x = _scale((start.toordinal(), end.toordinal()), (LEFT, W - RIGHT))
    y = _scale((ticks[0], ticks[-1]), (H - BOTTOM, TOP))
    extra = (f' data-crs="1" data-v0="{ticks[0]}" data-v1="{ticks[-1]}" data-y0="{H - BOTTOM}" '
             f'data-y1="{TOP}" data-x0="{LEFT}" data-x1="{W - RIGHT}"' if crs else "")
    out = [_open(chart_id, title, desc, W, H, extra), *_y_axis(ticks, y, LEFT, W - RIGHT)]
    out.append('<g class="grid" aria-hidden="true">')
    for day, text in _time_ticks(start, end):
        px = x(day.toordinal())
        out.append(f'<line class="tick" x1="{px}" x2="{px}" y1="{H - BOTTOM}" y2="{H - BOTTOM + 5}"/>'
                   f'<text x="{px}" y="{H - BOTTOM + 20}" text-anchor="middle">{escape(text)}</text>')
    out.append(f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{H - BOTTOM}" '
               f'y2="{H - BOTTOM}"/></g>')
    for s in series:
        st = s.style
        path, last = [], None
        for p in s.points:
            cmd = "L" if last and (p.x - last).days <= GAP_DAYS else "M"
            path.append(f"{cmd}{x(p.x.toordinal())},{y(p.y)}")
            last = p.x
        dash = f' stroke-dasharray="{st.dash}"' if st.dash else ""
        out.append(f'<g class="series" style="color:{st.colour}" data-series="{escape(s.key)}">'
                   f'<path d="{"".join(path)}" fill="none" stroke="currentColor" '
                   f'stroke-width="2"{dash} stroke-linejoin="round"/>')
        paint = _marker_paint(st)
        for p in s.points:
            tip = f"<title>{escape(p.label)}</title>" if tooltips else ""
            out.append(f'<path d="{_marker(st.marker, x(p.x.toordinal()), y(p.y), marker_size)}" {paint} '
                       f'data-v="{p.y}">{tip}</path>')
        out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))


def column_chart(chart_id: str, title: str, desc: str, bars: Sequence[Bar], unit: str, *,
                 labels: Sequence[tuple[int, str]] = ()) -> Markup:
    """Vertical bars (e.g. invitations per month); `labels` = (bar index, text) on the x axis."""
    ticks = nice_ticks(0, max([b.value for b in bars] or [1]))
    y = _scale((0, ticks[-1]), (H - BOTTOM, TOP))
    slot = (W - RIGHT - LEFT) / max(len(bars), 1)
    out = [_open(chart_id, title, desc, W, H), *_y_axis(ticks, y, LEFT, W - RIGHT)]
    out.append('<g class="bars">')
    for i, b in enumerate(bars):
        bx, top = LEFT + i * slot + slot * .12, y(b.value)
        cls = ' class="partial"' if b.partial else ""
        out.append(f'<rect{cls} x="{bx:.1f}" y="{top}" width="{slot * .76:.1f}" '
                   f'height="{round(H - BOTTOM - top, 1)}"><title>{escape(b.label)}: '
                   f'{b.value:,} {escape(unit)}</title></rect>')
    out.append('</g><g class="grid" aria-hidden="true">')
    for i, text in labels:
        px = round(LEFT + (i + .5) * slot, 1)
        out.append(f'<text x="{px}" y="{H - BOTTOM + 20}" text-anchor="middle">{escape(text)}</text>')
    out.append(f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{H - BOTTOM}" '
               f'y2="{H - BOTTOM}"/></g></svg>')
    return Markup("".join(out))


def bar_chart(chart_id: str, title: str, desc: str, bars: Sequence[Bar]) -> Markup:
    """Horizontal bars with their values written out: best for a dozen labelled rows on a phone."""
    row, label_w, value_w = 30, 64, 96
    height = TOP + row * len(bars) + 8
    top_value = max([b.value for b in bars] or [1])
    x = _scale((0, top_value), (label_w, W - value_w))
    out = [_open(chart_id, title, desc, W, height), '<g class="bars">']
    for i, b in enumerate(bars):
        by = TOP + i * row
        cls = ' class="partial"' if b.partial else ""
        out.append(f'<text class="bar-label" x="{label_w - 8}" y="{by + 19}" text-anchor="end">'
                   f'{escape(b.label)}</text>'
                   f'<rect{cls} x="{label_w}" y="{by + 4}" width="{max(x(b.value) - label_w, 1):.1f}" '
                   f'height="{row - 8}"/>'
                   f'<text x="{x(b.value) + 6}" y="{by + 19}">{b.value:,}{"*" if b.partial else ""}'
                   f'</text>')
    out.append("</g></svg>")
    return Markup("".join(out))
