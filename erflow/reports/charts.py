"""A report's charts as inline SVG: horizontal bars, a centred funnel and a histogram, each bar a
group the browser test can measure, with the exact numbers in its tooltip."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from erflow.reports.base import Chart
from erflow.reports.markup import esc, is_number, num

PALETTE_SIZE = 8  # series colours (CSS variables --c0..--c7), one per series name across the page

W = 560  # the charts' viewBox width: about their width on a wide screen, two to a row
ROW = 26  # one bar's row (bars, funnel)
BAR = 16
GROUP_ROW = 24  # a group's heading row (bars, funnel)
TOP = 8
LINE = 14  # a label's line height
CHAR = 7  # a label character's width, at most, for the layout


@dataclass(frozen=True)
class _Series:
    name: str
    values: list[float]
    colour: int


def series_colours(charts: Sequence[Chart]) -> dict[str, int]:
    """One colour per series name, the same in every chart of the page, in order of first use."""
    colours: dict[str, int] = {}
    for chart in charts:
        for name in chart.series:
            colours.setdefault(name, len(colours) % PALETTE_SIZE)
    return colours


def figure(chart: Chart, index: int, colours: dict[str, int]) -> str:
    series = [
        _Series(name, [_value(v) for v in values[: len(chart.labels)]], colours[name])
        for name, values in chart.series.items()
    ]
    for s in series:
        s.values.extend([0.0] * (len(chart.labels) - len(s.values)))
    totals = [sum(s.values[i] for s in series) for i in range(len(chart.labels))]
    caption = f'<figcaption><h2 id="chart-{index}">{esc(chart.title)}</h2>'
    if len(series) > 1:
        caption += (
            '<ul class="legend">'
            + "".join(f'<li><span class="swatch c{s.colour}"></span>{esc(s.name)}</li>' for s in series)
            + "</ul>"
        )
    caption += "</figcaption>"
    if not chart.labels or not any(totals):
        return f'<figure class="chart">{caption}<p class="nodata">Nothing to chart: all zero.</p></figure>'
    draw = {"histogram": _histogram, "funnel": _funnel}.get(chart.kind, _bars)
    inner, height = draw(chart, series, totals)
    total = num(sum(totals))
    shape = "column" if chart.kind == "histogram" else "bar"
    label = f"{chart.title}: {len(chart.labels)} {shape}s, {total} {chart.unit} in all"
    svg = (
        f'<svg class="chart-svg {esc(chart.kind)}" role="img" aria-label="{esc(label)}" '
        f'viewBox="0 0 {W} {height}" width="{W}" height="{height}" preserveAspectRatio="xMinYMin meet">'
        f"<title>{esc(label)}</title>{inner}</svg>"
    )
    return f'<figure class="chart {esc(chart.kind)}" aria-labelledby="chart-{index}">{caption}{svg}</figure>'


def _value(value: object) -> float:
    return float(value) if is_number(value) and float(value) > 0 else 0.0  # type: ignore[arg-type]


def _tip(chart: Chart, i: int, series: Sequence[_Series], s: _Series | None, total: float) -> str:
    """The exact numbers of one bar (or one segment of it), for its <title> tooltip."""
    where = chart.labels[i] + (f" ({chart.groups[i]})" if i < len(chart.groups) and chart.groups[i] else "")
    if s is None or len(series) == 1:
        return f"{where}: {num(total)} {chart.unit}"
    return f"{where} · {s.name}: {num(s.values[i])} {chart.unit} (of {num(total)})"


def _bar(label: str, total: float, segments: Sequence[str]) -> str:
    """One label's bar: its segments (one per series) in a group the browser test can measure."""
    return f'<g class="bar" data-label="{esc(label)}" data-value="{esc(num(total))}">{"".join(segments)}</g>'


def _rect(colour: int, x: float, y: float, width: float, height: float, tip: str, rx: int = 2) -> str:
    return (
        f'<rect class="c{colour}" x="{x:.2f}" y="{y:.2f}" width="{width:.2f}" height="{height:.2f}" '
        f'rx="{rx}"><title>{esc(tip)}</title></rect>'
    )


def _label_width(labels: Sequence[str]) -> int:
    return max(70, min(200, 14 + CHAR * max((len(x) for x in labels), default=0)))


def _short(text: str, room: int) -> str:
    limit = max(4, (room - 12) // CHAR)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rows_layout(chart: Chart, left: int) -> tuple[list[tuple[int, str]], list[int], list[int], int]:
    """For bars and funnel: group headings (y, name), each label's row y and height, and the total
    height; a label that needs two or three lines gets a taller row."""
    headings: list[tuple[int, str]] = []
    ys: list[int] = []
    heights: list[int] = []
    y, previous = TOP, None
    for i, label in enumerate(chart.labels):
        group = chart.groups[i] if i < len(chart.groups) else ""
        if chart.groups and group != previous:
            headings.append((y, group))
            y += GROUP_ROW
            previous = group
        ys.append(y)
        heights.append(ROW + LINE * (len(_lines(label, left)) - 1))
        y += heights[-1]
    return headings, ys, heights, y + TOP


def _lines(text: str, room: int) -> list[str]:
    """``text`` broken at spaces into at most three lines that fit in ``room`` pixels; the last one
    ends in "…" when even that is not enough (the whole label is in its tooltip)."""
    limit = max(4, (room - 12) // CHAR)
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= limit:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > 3:
        lines[2:] = [" ".join(lines[2:])]
    return [_short(x, room) for x in lines] or [""]


def _label(label: str, left: int, y: float, height: int) -> str:
    """A row's label, right-aligned before the bars, on as many lines as it needs, centred on the row."""
    lines = _lines(label, left)
    first = y + height / 2 + 4 - LINE * (len(lines) - 1) / 2
    spans = "".join(
        f'<tspan x="{left - 8}" y="{first + LINE * n:.0f}">{esc(line)}</tspan>'
        for n, line in enumerate(lines)
    )
    return f'<text class="label" text-anchor="end"><title>{esc(label)}</title>{spans}</text>'


def _group_bands(headings: Sequence[tuple[int, str]], bottom: int) -> str:
    out = []
    for n, (y, name) in enumerate(headings):
        end = headings[n + 1][0] if n + 1 < len(headings) else bottom - TOP
        if n % 2 == 0:
            out.append(f'<rect class="band" x="0" y="{y}" width="{W}" height="{end - y}"></rect>')
        out.append(f'<text class="group" x="6" y="{y + 16}">{esc(name or "—")}</text>')
    return "".join(out)


def _bars(chart: Chart, series: Sequence[_Series], totals: Sequence[float]) -> tuple[str, int]:
    left = _label_width(chart.labels)
    right = 64
    span = W - left - right
    top_value, ticks = _axis(max(totals))
    headings, ys, heights, height = _rows_layout(chart, left)
    parts = [_group_bands(headings, height)]
    for tick in ticks:
        x = left + span * tick / top_value
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{height - TOP}"></line>')
    for i, label in enumerate(chart.labels):
        y = ys[i] + (heights[i] - ROW) / 2
        parts.append(_label(label, left, ys[i], heights[i]))
        x = float(left)
        segments = []
        for s in series:
            width = span * s.values[i] / top_value
            if width > 0:
                segments.append(
                    _rect(s.colour, x, y + (ROW - BAR) / 2, width, BAR, _tip(chart, i, series, s, totals[i]))
                )
            x += width
        parts.append(
            _bar(label, totals[i], segments)
            + f'<text class="value" x="{x + 6:.1f}" y="{y + ROW / 2 + 4:.0f}">{esc(num(totals[i]))}</text>'
        )
    return "".join(parts), height


def _funnel(chart: Chart, series: Sequence[_Series], totals: Sequence[float]) -> tuple[str, int]:
    left = _label_width(chart.labels)
    right = 110
    span = W - left - right
    centre = left + span / 2
    top_value = max(totals)
    first = totals[0]
    headings, ys, heights, height = _rows_layout(chart, left)
    parts = [_group_bands(headings, height)]
    parts.append(
        f'<line class="axis" x1="{centre:.1f}" y1="{TOP}" x2="{centre:.1f}" y2="{height - TOP}"></line>'
    )
    for i, label in enumerate(chart.labels):
        y = ys[i] + (heights[i] - ROW) / 2
        full = span * totals[i] / top_value
        x = centre - full / 2
        segments = []
        for s in series:
            width = span * s.values[i] / top_value
            if width > 0:
                tip = _tip(chart, i, series, s, totals[i])
                segments.append(_rect(s.colour, x, y + (ROW - BAR) / 2 - 1, width, BAR + 2, tip))
            x += width
        share = f" · {totals[i] / first:.0%}" if first and i else ""
        parts.append(
            _label(label, left, ys[i], heights[i])
            + _bar(label, totals[i], segments)
            + f'<text class="value" x="{W - right + 8}" y="{y + ROW / 2 + 4:.0f}">{esc(num(totals[i]))}'
            f'<tspan class="share">{esc(share)}</tspan></text>'
        )
    return "".join(parts), height


def _histogram(chart: Chart, series: Sequence[_Series], totals: Sequence[float]) -> tuple[str, int]:
    n = len(chart.labels)
    left, right, plot = 44, 12, 220
    slot = (W - left - right) / n
    col = max(2.0, min(64.0, slot * 0.72))
    rotate = max(len(x) for x in chart.labels) * 6.5 > slot
    label_room = min(110, 12 + 6 * max(len(x) for x in chart.labels)) if rotate else 22
    group_room = 30 if chart.groups else 0
    top = 20
    base = top + plot
    height = base + label_room + group_room + 6
    top_value, ticks = _axis(max(totals))
    parts = []
    if chart.groups:
        start, band = 0, 0
        for i in range(1, n + 1):
            if i == n or chart.groups[i] != chart.groups[start]:
                x1, x2 = left + slot * start, left + slot * i
                if band % 2 == 0:
                    parts.append(
                        f'<rect class="band" x="{x1:.1f}" y="{top}" width="{x2 - x1:.1f}" height="{plot}"/>'
                    )
                band += 1
                parts.append(
                    f'<line class="bracket" x1="{x1 + 4:.1f}" y1="{height - group_room}" x2="{x2 - 4:.1f}" '
                    f'y2="{height - group_room}"></line>'
                    f'<text class="group" x="{(x1 + x2) / 2:.1f}" y="{height - group_room + 16}" '
                    f'text-anchor="middle">'
                    f"{esc(_short(chart.groups[start] or '—', int(x2 - x1) + 12))}</text>"
                )
                if i < n:
                    parts.append(
                        f'<line class="divider" x1="{x2:.1f}" y1="{top}" x2="{x2:.1f}" '
                        f'y2="{height - group_room + 4}"></line>'
                    )
                start = i
    for tick in ticks:
        y = base - plot * tick / top_value
        parts.append(
            f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{W - right}" y2="{y:.1f}"></line>'
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(num(tick))}</text>'
        )
    parts.append(f'<line class="axis" x1="{left}" y1="{base}" x2="{W - right}" y2="{base}"></line>')
    for i, label in enumerate(chart.labels):
        cx = left + slot * (i + 0.5)
        y = float(base)
        segments = []
        for s in series:
            h = plot * s.values[i] / top_value
            if h > 0:
                y -= h
                segments.append(
                    _rect(s.colour, cx - col / 2, y, col, h, _tip(chart, i, series, s, totals[i]), rx=0)
                )
        parts.append(_bar(label, totals[i], segments))
        if totals[i]:
            parts.append(
                f'<text class="value" x="{cx:.1f}" y="{y - 5:.1f}" text-anchor="middle">'
                f"{esc(num(totals[i]))}</text>"
            )
        if rotate:
            parts.append(
                f'<text class="label" transform="translate({cx + 4:.1f},{base + 12}) rotate(-40)" '
                f'text-anchor="end"><title>{esc(label)}</title>{esc(_short(label, label_room + 20))}</text>'
            )
        else:
            parts.append(
                f'<text class="label" x="{cx:.1f}" y="{base + 16}" text-anchor="middle">{esc(label)}</text>'
            )
    return "".join(parts), height


def _axis(value: float) -> tuple[float, list[float]]:
    """The axis's end and its gridlines: about four steps of 1, 2 or 5 × 10ⁿ from 0 past ``value``."""
    if value <= 0:
        return 1.0, [0.0, 1.0]
    raw = value / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if value >= 1:
        step = max(step, 1.0)  # counts get whole-number gridlines
    top = math.ceil(value / step - 1e-9) * step
    return top, [step * k for k in range(round(top / step) + 1)]
