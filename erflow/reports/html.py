"""A report as one self-contained HTML page: header, charts drawn as inline SVG, then the table.

Nothing on the page is fetched: the CSS and the (optional) sorting script are inline, the charts are
computed here, and a Content-Security-Policy admits only those two blocks, by hash. Every value from a
ticket is customer text and goes through ``_e`` (``html.escape`` with quotes), so it stays text.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from erflow.core.model import plain
from erflow.reports.base import Chart, Report

MAX_ROWS = 2000  # table rows on the page; --csv and --json give all
PALETTE_SIZE = 8  # series colours (CSS variables --c0..--c7), one per series name across the page

W = 560  # the charts' viewBox width: about their width on a wide screen, two to a row
ROW = 26  # one bar's row (bars, funnel)
BAR = 16
GROUP_ROW = 24  # a group's heading row (bars, funnel)
TOP = 8


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def render(report: Report, *, generated_at: datetime | None = None) -> str:
    """The whole page for ``report``; ``generated_at`` defaults to now (UTC)."""
    when = (generated_at or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    title = report.title or f"{report.name.replace('_', ' ').capitalize()} report"
    colours = _series_colours(report.charts)
    parts = [_header(report, title, when)]
    if report.problems:
        parts.append(_problems(report.problems))
    if not report.rows:
        parts.append(
            '<section class="empty"><h2>No tickets match</h2><p>Nothing to chart or list for this report'
            + (" with these parameters" if report.params else "")
            + ".</p></section>"
        )
    else:
        if report.charts:
            figures = "".join(_figure(chart, i, colours) for i, chart in enumerate(report.charts))
            parts.append(f'<section class="charts" aria-label="Charts">{figures}</section>')
        parts.append(_table(report))
    body = "\n".join(parts)
    csp = (
        "default-src 'none'; "
        f"style-src '{_sha256(_CSS)}'; script-src '{_sha256(_JS)}'; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f'<meta name="generator" content="erflow">\n<title>{_e(title)} · erflow</title>\n'
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
        f"<script>{_JS}</script>\n</body>\n</html>\n"
    )


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


# --- header, problems, table --------------------------------------------------------------------


def _header(report: Report, title: str, when: str) -> str:
    params = "".join(
        f'<div class="param"><dt>{_e(k.replace("_", " "))}</dt><dd>{_e(v)}</dd></div>'
        for k, v in report.params.items()
    )
    rows = len(report.rows)
    return (
        f'<header><p class="kicker">erflow report · <code>{_e(report.name)}</code></p>'
        f"<h1>{_e(title)}</h1>"
        + (f'<dl class="params">{params}</dl>' if params else "")
        + f'<p class="meta">{_num(rows)} row{"" if rows == 1 else "s"} · generated '
        f'<time datetime="{_e(when)}">{_e(when)}</time></p></header>'
    )


def _problems(problems: Sequence[str]) -> str:
    items = "".join(f"<li>{_e(p)}</li>" for p in problems)
    n = len(problems)
    return (
        f'<section class="problems" role="note"><h2>{n} file{"" if n == 1 else "s"} skipped</h2>'
        f"<ul>{items}</ul></section>"
    )


def _table(report: Report) -> str:
    numeric = {c for c in report.columns if _is_numeric_column(report.rows, c)}
    num = ' class="num"'
    head = "".join(
        f'<th scope="col"{num if c in numeric else ""}>{_e(c.replace("_", " ").capitalize())}</th>'
        for c in report.columns
    )
    shown = report.rows[:MAX_ROWS]
    body = []
    for row in shown:
        cells = []
        for column in report.columns:
            value = row.get(column)
            if column in numeric and value is not None:
                cells.append(f'<td class="num" data-v="{_e(value)}">{_e(_num(value))}</td>')
            elif column == "status" and isinstance(value, str) and value.replace("_", "").isalnum():
                cells.append(
                    f'<td><span class="status st-{_e(value)}">{_e(value.replace("_", " "))}</span></td>'
                )
            else:
                cells.append(f"<td>{_e(plain(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    left_out = len(report.rows) - len(shown)
    note = (
        f'<p class="truncated" role="note">Showing the first {_num(len(shown))} of '
        f"{_num(len(report.rows))} rows; {_num(left_out)} left out. "
        f"<code>erflow report {_e(report.name)} --csv</code> or <code>--json</code> gives all of them.</p>"
        if left_out
        else ""
    )
    return (
        '<section class="table"><h2>Rows</h2>'
        + note
        + '<div class="table-wrap"><table class="data">'
        + f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div></section>"
    )


def _is_numeric_column(rows: Sequence[dict[str, Any]], column: str) -> bool:
    values = [r.get(column) for r in rows if r.get(column) is not None]
    return bool(values) and all(_is_number(v) for v in values)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _num(value: Any) -> str:
    """1234 → "1,234"; 2.5 → "2.5"; 0.333… → "0.33"."""
    if not _is_number(value):
        return plain(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


# --- charts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Series:
    name: str
    values: list[float]
    colour: int


def _series_colours(charts: Sequence[Chart]) -> dict[str, int]:
    """One colour per series name, the same in every chart of the page, in order of first use."""
    colours: dict[str, int] = {}
    for chart in charts:
        for name in chart.series:
            colours.setdefault(name, len(colours) % PALETTE_SIZE)
    return colours


def _figure(chart: Chart, index: int, colours: dict[str, int]) -> str:
    series = [
        _Series(name, [_value(v) for v in values[: len(chart.labels)]], colours[name])
        for name, values in chart.series.items()
    ]
    for s in series:
        s.values.extend([0.0] * (len(chart.labels) - len(s.values)))
    totals = [sum(s.values[i] for s in series) for i in range(len(chart.labels))]
    caption = f'<figcaption><h2 id="chart-{index}">{_e(chart.title)}</h2>'
    if len(series) > 1:
        caption += (
            '<ul class="legend">'
            + "".join(f'<li><span class="swatch c{s.colour}"></span>{_e(s.name)}</li>' for s in series)
            + "</ul>"
        )
    caption += "</figcaption>"
    if not chart.labels or not any(totals):
        return f'<figure class="chart">{caption}<p class="nodata">Nothing to chart: all zero.</p></figure>'
    draw = {"histogram": _histogram, "funnel": _funnel}.get(chart.kind, _bars)
    inner, height = draw(chart, series, totals)
    total = _num(sum(totals))
    shape = "column" if chart.kind == "histogram" else "bar"
    label = f"{chart.title}: {len(chart.labels)} {shape}s, {total} {chart.unit} in all"
    svg = (
        f'<svg class="chart-svg {_e(chart.kind)}" role="img" aria-label="{_e(label)}" '
        f'viewBox="0 0 {W} {height}" width="{W}" height="{height}" preserveAspectRatio="xMinYMin meet">'
        f"<title>{_e(label)}</title>{inner}</svg>"
    )
    return f'<figure class="chart {_e(chart.kind)}" aria-labelledby="chart-{index}">{caption}{svg}</figure>'


def _value(value: object) -> float:
    return float(value) if _is_number(value) and float(value) > 0 else 0.0  # type: ignore[arg-type]


def _tip(chart: Chart, i: int, series: Sequence[_Series], s: _Series | None, total: float) -> str:
    """The exact numbers of one bar (or one segment of it), for its <title> tooltip."""
    where = chart.labels[i] + (f" ({chart.groups[i]})" if i < len(chart.groups) and chart.groups[i] else "")
    if s is None or len(series) == 1:
        return f"{where}: {_num(total)} {chart.unit}"
    return f"{where} · {s.name}: {_num(s.values[i])} {chart.unit} (of {_num(total)})"


def _bar(label: str, total: float, segments: Sequence[str]) -> str:
    """One label's bar: its segments (one per series) in a group the browser test can measure."""
    return f'<g class="bar" data-label="{_e(label)}" data-value="{_e(_num(total))}">{"".join(segments)}</g>'


def _rect(colour: int, x: float, y: float, width: float, height: float, tip: str, rx: int = 2) -> str:
    return (
        f'<rect class="c{colour}" x="{x:.2f}" y="{y:.2f}" width="{width:.2f}" height="{height:.2f}" '
        f'rx="{rx}"><title>{_e(tip)}</title></rect>'
    )


def _label_width(labels: Sequence[str]) -> int:
    return max(70, min(190, 14 + 7 * max((len(x) for x in labels), default=0)))


def _short(text: str, room: int) -> str:
    limit = max(4, (room - 12) // 7)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rows_layout(chart: Chart) -> tuple[list[tuple[int, str]], list[int], int]:
    """For bars and funnel: group headings (y, name), each label's row y, and the total height."""
    headings: list[tuple[int, str]] = []
    ys: list[int] = []
    y, previous = TOP, None
    for i in range(len(chart.labels)):
        group = chart.groups[i] if i < len(chart.groups) else ""
        if chart.groups and group != previous:
            headings.append((y, group))
            y += GROUP_ROW
            previous = group
        ys.append(y)
        y += ROW
    return headings, ys, y + TOP


def _group_bands(headings: Sequence[tuple[int, str]], bottom: int) -> str:
    out = []
    for n, (y, name) in enumerate(headings):
        end = headings[n + 1][0] if n + 1 < len(headings) else bottom - TOP
        if n % 2 == 0:
            out.append(f'<rect class="band" x="0" y="{y}" width="{W}" height="{end - y}"></rect>')
        out.append(f'<text class="group" x="6" y="{y + 16}">{_e(name or "—")}</text>')
    return "".join(out)


def _bars(chart: Chart, series: Sequence[_Series], totals: Sequence[float]) -> tuple[str, int]:
    left = _label_width(chart.labels)
    right = 64
    span = W - left - right
    top_value, ticks = _axis(max(totals))
    headings, ys, height = _rows_layout(chart)
    parts = [_group_bands(headings, height)]
    for tick in ticks:
        x = left + span * tick / top_value
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{height - TOP}"></line>')
    for i, label in enumerate(chart.labels):
        y = ys[i]
        parts.append(
            f'<text class="label" x="{left - 8}" y="{y + ROW / 2 + 4:.0f}" text-anchor="end">'
            f"<title>{_e(label)}</title>{_e(_short(label, left))}</text>"
        )
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
            + f'<text class="value" x="{x + 6:.1f}" y="{y + ROW / 2 + 4:.0f}">{_e(_num(totals[i]))}</text>'
        )
    return "".join(parts), height


def _funnel(chart: Chart, series: Sequence[_Series], totals: Sequence[float]) -> tuple[str, int]:
    left = _label_width(chart.labels)
    right = 110
    span = W - left - right
    centre = left + span / 2
    top_value = max(totals)
    first = totals[0]
    headings, ys, height = _rows_layout(chart)
    parts = [_group_bands(headings, height)]
    parts.append(
        f'<line class="axis" x1="{centre:.1f}" y1="{TOP}" x2="{centre:.1f}" y2="{height - TOP}"></line>'
    )
    for i, label in enumerate(chart.labels):
        y = ys[i]
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
            f'<text class="label" x="{left - 8}" y="{y + ROW / 2 + 4:.0f}" text-anchor="end">'
            f"<title>{_e(label)}</title>{_e(_short(label, left))}</text>"
            + _bar(label, totals[i], segments)
            + f'<text class="value" x="{W - right + 8}" y="{y + ROW / 2 + 4:.0f}">{_e(_num(totals[i]))}'
            f'<tspan class="share">{_e(share)}</tspan></text>'
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
                    f'text-anchor="middle">{_e(_short(chart.groups[start] or "—", int(x2 - x1) + 12))}</text>'
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
            f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_e(_num(tick))}</text>'
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
                f"{_e(_num(totals[i]))}</text>"
            )
        if rotate:
            parts.append(
                f'<text class="label" transform="translate({cx + 4:.1f},{base + 12}) rotate(-40)" '
                f'text-anchor="end"><title>{_e(label)}</title>{_e(_short(label, label_room + 20))}</text>'
            )
        else:
            parts.append(
                f'<text class="label" x="{cx:.1f}" y="{base + 16}" text-anchor="middle">{_e(label)}</text>'
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


# --- the page's CSS and script ----------------------------------------------------------------

_CSS = """
:root{--bg:#fbfbfa;--card:#fff;--fg:#1d2330;--muted:#5d6677;--line:#e3e5ea;--band:#f3f4f7;
--accent:#3b5bdb;--warn-bg:#fff6e0;--warn-fg:#7a4d00;--zebra:#f7f8fa;
--c0:#4e79a7;--c1:#f28e2b;--c2:#59a14f;--c3:#e15759;--c4:#76b7b2;--c5:#b07aa1;--c6:#edc948;--c7:#9c755f;
--ok:#2b8a3e;--risk:#b7791f;--bad:#c92a2a;color-scheme:light dark}
@media screen and (prefers-color-scheme:dark){:root{--bg:#12151b;--card:#1a1e26;--fg:#e6e8ee;
--muted:#9aa3b5;--line:#2c323e;--band:#20252f;--accent:#8ea5ff;--warn-bg:#3a2e12;--warn-fg:#ffd98a;
--zebra:#1e232c;--c0:#6f9fd8;--c1:#ffa64d;--c2:#7cc770;--c3:#ff7b7d;--c4:#8fd6d0;--c5:#d09ac4;
--c6:#f5d96b;--c7:#c39a80;--ok:#69db7c;--risk:#ffc94d;--bad:#ff8787}}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--fg);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif;
-webkit-text-size-adjust:100%}
body{margin:0}
main{max-width:1120px;margin:0 auto;padding:28px 20px 48px}
h1{font-size:1.75rem;line-height:1.2;margin:.1em 0 .4em}
h2{font-size:1.05rem;margin:0 0 .6em}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
header{margin-bottom:24px;padding-bottom:16px;border-bottom:1px solid var(--line)}
.kicker{margin:0;color:var(--muted);font-size:.85rem;letter-spacing:.02em}
.meta{margin:.5em 0 0;color:var(--muted);font-size:.9rem}
.params{display:flex;flex-wrap:wrap;gap:6px;margin:0}
.param{display:flex;border:1px solid var(--line);border-radius:999px;overflow:hidden;font-size:.85rem;
background:var(--card)}
.param dt{padding:2px 8px;color:var(--muted);background:var(--band)}
.param dd{margin:0;padding:2px 10px;font-weight:600;overflow-wrap:anywhere}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,500px),1fr));gap:18px;
margin-bottom:28px}
.chart{margin:0;padding:16px 18px 12px;background:var(--card);border:1px solid var(--line);
border-radius:10px;break-inside:avoid;min-width:0}
.chart figcaption{display:flex;flex-wrap:wrap;align-items:baseline;justify-content:space-between;gap:4px 16px}
.chart-svg{display:block;width:100%;max-width:760px;margin:0 auto;height:auto;font-size:12px}
.chart-svg text{fill:var(--fg)}
.chart-svg .label,.chart-svg .tick,.chart-svg .share{fill:var(--muted)}
.chart-svg .value{font-weight:600;font-variant-numeric:tabular-nums}
.chart-svg .group{fill:var(--muted);font-size:11px;font-weight:700;letter-spacing:.06em;
text-transform:uppercase}
.chart-svg .grid{stroke:var(--line);stroke-width:1}
.chart-svg .axis{stroke:var(--muted);stroke-width:1}
.chart-svg .divider{stroke:var(--line);stroke-dasharray:3 3}
.chart-svg .bracket{stroke:var(--muted);stroke-width:1.5}
.chart-svg .band{fill:var(--band)}
.chart-svg .bar rect:hover{opacity:.8}
.c0{fill:var(--c0);background:var(--c0)}.c1{fill:var(--c1);background:var(--c1)}
.c2{fill:var(--c2);background:var(--c2)}.c3{fill:var(--c3);background:var(--c3)}
.c4{fill:var(--c4);background:var(--c4)}.c5{fill:var(--c5);background:var(--c5)}
.c6{fill:var(--c6);background:var(--c6)}.c7{fill:var(--c7);background:var(--c7)}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;list-style:none;margin:0 0 8px;padding:0;font-size:.85rem;
color:var(--muted)}
.legend li{display:flex;align-items:center;gap:6px}
.swatch{display:inline-block;width:11px;height:11px;border-radius:3px;print-color-adjust:exact;
-webkit-print-color-adjust:exact}
.nodata{color:var(--muted);margin:.5em 0}
.empty{padding:40px 20px;text-align:center;background:var(--card);border:1px dashed var(--line);
border-radius:10px;color:var(--muted)}
.empty h2{font-size:1.3rem;color:var(--fg)}
.problems{background:var(--warn-bg);color:var(--warn-fg);border-radius:10px;padding:12px 18px;
margin-bottom:24px}
.problems ul{margin:0;padding-left:1.2em;overflow-wrap:anywhere}
.truncated{background:var(--warn-bg);color:var(--warn-fg);border-radius:8px;padding:8px 12px}
.table-wrap{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:10px}
table.data{border-collapse:collapse;width:100%;font-size:.9rem}
.data th,.data td{padding:7px 12px;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
.data th{position:sticky;top:0;background:var(--card);font-weight:600;white-space:nowrap;
box-shadow:inset 0 -2px 0 var(--line)}
.data tbody tr:nth-child(even){background:var(--zebra)}
.data tbody tr:last-child td{border-bottom:0}
.data td{overflow-wrap:break-word;max-width:48ch}
.data .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.data th button{all:inherit;cursor:pointer;box-shadow:none;padding:0}
.data th button::after{content:" \\2195";color:var(--muted);font-weight:400}
.data th[aria-sort=ascending] button::after{content:" \\2191"}
.data th[aria-sort=descending] button::after{content:" \\2193"}
.data th button:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
.status{font-weight:600;white-space:nowrap}
.st-breached{color:var(--bad)}.st-at_risk{color:var(--risk)}.st-met{color:var(--ok)}.st-paused{color:var(--muted)}
@media (max-width:600px){main{padding:16px 10px 32px}h1{font-size:1.4rem}.chart{padding:12px 10px}}
@media print{html{background:#fff;color:#000;font-size:11pt}main{max-width:none;padding:0}
.chart,.table-wrap{border-color:#ccc}.charts{grid-template-columns:1fr 1fr}
.data th{position:static}.data thead{display:table-header-group}.data tr{break-inside:avoid}
.data th button::after{content:""}*{print-color-adjust:exact;-webkit-print-color-adjust:exact}}
"""

# Optional: a click on a column's header sorts the table by it (numbers by value, text naturally).
_JS = """
(function () {
  var table = document.querySelector("table.data");
  if (!table) return;
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    var button = document.createElement("button");
    button.type = "button";
    while (th.firstChild) button.appendChild(th.firstChild);
    th.appendChild(button);
    button.addEventListener("click", function () {
      var up = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      var numeric = th.classList.contains("num");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col], y = b.cells[col], r;
        if (numeric) {
          r = parseFloat(x.dataset.v || "-Infinity") - parseFloat(y.dataset.v || "-Infinity");
        } else {
          r = x.textContent.localeCompare(y.textContent, undefined, {numeric: true});
        }
        return up ? r : -r;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
})();
"""
