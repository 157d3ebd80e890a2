"""A report as one self-contained HTML page: header, charts drawn as inline SVG, then the table.

Nothing on the page is fetched: the CSS and the (optional) sorting script are inline, the charts are
computed here, and a Content-Security-Policy admits only those two blocks, by hash. Every value from a
ticket is customer text and goes through ``markup.esc`` (``html.escape`` with quotes), so it stays text.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from erflow.core.model import plain
from erflow.reports.base import Report
from erflow.reports.charts import figure, series_colours
from erflow.reports.markup import esc, is_number, num

MAX_ROWS = 2000  # table rows on the page; --csv and --json give all


def render(report: Report, *, generated_at: datetime | None = None) -> str:
    """The whole page for ``report``; ``generated_at`` defaults to now (UTC)."""
    when = (generated_at or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    title = report.title or f"{report.name.replace('_', ' ').capitalize()} report"
    colours = series_colours(report.charts)
    parts = [_header(report, title, when)]
    if report.problems:
        parts.append(_problems(report.problems))
    if report.notes:
        notes = "".join(f"<li>{esc(n)}</li>" for n in report.notes)
        parts.append(
            f'<section class="notes" role="note"><h2>How it is counted</h2><ul>{notes}</ul></section>'
        )
    if not report.rows:
        parts.append(
            '<section class="empty"><h2>No tickets match</h2><p>Nothing to chart or list for this report'
            + (" with these parameters" if report.params else "")
            + ".</p></section>"
        )
    else:
        if report.charts:
            figures = "".join(figure(chart, i, colours) for i, chart in enumerate(report.charts))
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
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f'<meta name="generator" content="erflow">\n<title>{esc(title)} · erflow</title>\n'
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
        f"<script>{_JS}</script>\n</body>\n</html>\n"
    )


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


# --- header, problems, table --------------------------------------------------------------------


def _header(report: Report, title: str, when: str) -> str:
    params = "".join(
        f'<div class="param"><dt>{esc(k.replace("_", " "))}</dt><dd>{esc(v)}</dd></div>'
        for k, v in report.params.items()
    )
    rows = len(report.rows)
    return (
        f'<header><p class="kicker">erflow report · <code>{esc(report.name)}</code></p>'
        f"<h1>{esc(title)}</h1>"
        + (f'<dl class="params">{params}</dl>' if params else "")
        + f'<p class="meta">{num(rows)} row{"" if rows == 1 else "s"} · generated '
        f'<time datetime="{esc(when)}">{esc(when)}</time></p></header>'
    )


def _problems(problems: Sequence[str]) -> str:
    items = "".join(f"<li>{esc(p)}</li>" for p in problems)
    n = len(problems)
    return (
        f'<section class="problems" role="note"><h2>{n} file{"" if n == 1 else "s"} skipped</h2>'
        f"<ul>{items}</ul></section>"
    )


def _table(report: Report) -> str:
    numeric = {c for c in report.columns if _is_numeric_column(report.rows, c)}
    num_class = ' class="num"'
    names = {c: c.replace("_", " ").capitalize() for c in report.columns}
    head = "".join(
        f'<th scope="col"{num_class if c in numeric else ""}>{esc(names[c])}</th>' for c in report.columns
    )
    shown = report.rows[:MAX_ROWS]
    body = []
    for row in shown:
        cells = []
        for column in report.columns:
            value = row.get(column)
            col = f' data-col="{esc(names[column])}"'
            if column in numeric and value is not None:
                cells.append(f'<td class="num" data-v="{esc(value)}"{col}>{esc(num(value))}</td>')
            elif column == "status" and isinstance(value, str) and value.replace("_", "").isalnum():
                shown_as = esc(value.replace("_", " "))
                cells.append(f'<td{col}><span class="status st-{esc(value)}">{shown_as}</span></td>')
            else:
                cells.append(f"<td{col}>{esc(_breakable(plain(value)))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    left_out = len(report.rows) - len(shown)
    note = (
        f'<p class="truncated" role="note">Showing the first {num(len(shown))} of '
        f"{num(len(report.rows))} rows; {num(left_out)} left out. "
        f"<code>erflow report {esc(report.name)} --csv</code> or <code>--json</code> gives all of them.</p>"
        if left_out
        else ""
    )
    return (
        '<section class="table"><h2>Rows</h2>'
        + note
        + '<div class="table-wrap"><table class="data">'
        + f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div></section>"
    )


def _breakable(text: str) -> str:
    """``text`` with a zero-width space after each ``T`` of a date and time, so that it may wrap."""
    return (
        text.replace("T", "T\u200b") if len(text) >= 19 and text[4:5] == "-" and text[10:11] == "T" else text
    )


def _is_numeric_column(rows: Sequence[dict[str, Any]], column: str) -> bool:
    values = [r.get(column) for r in rows if r.get(column) is not None]
    return bool(values) and all(is_number(v) for v in values)


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
.data th,.data td{padding:7px 8px;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
.data th{position:sticky;top:0;background:var(--card);font-weight:600;
box-shadow:inset 0 -2px 0 var(--line)}
.data tbody tr:nth-child(even){background:var(--zebra)}
.data tbody tr:last-child td{border-bottom:0}
.data td{overflow-wrap:break-word;max-width:48ch}
.data .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.data th button{all:inherit;cursor:pointer;box-shadow:none;padding:0}
.data th button::after{content:"\\00a0\\2195";color:var(--muted);font-weight:400}
.data th[aria-sort=ascending] button::after{content:"\\00a0\\2191"}
.data th[aria-sort=descending] button::after{content:"\\00a0\\2193"}
.data th button:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
.status{font-weight:600;white-space:nowrap}
.st-breached{color:var(--bad)}.st-at_risk{color:var(--risk)}.st-met{color:var(--ok)}.st-paused{color:var(--muted)}
.notes{background:var(--band);border-radius:10px;padding:12px 18px;margin-bottom:24px;font-size:.9rem}
.notes ul{margin:0;padding-left:1.2em}
@media (max-width:600px){main{padding:16px 10px 32px}h1{font-size:1.4rem}.chart{padding:12px 10px}
.data thead{display:none}.data,.data tbody,.data tr,.data td{display:block;width:100%}
.data tr{padding:6px 0;border-bottom:1px solid var(--line)}
.data td,.data .num{display:flex;gap:12px;justify-content:space-between;text-align:right;max-width:none;
border:0;padding:3px 10px;white-space:normal}
.data td::before{content:attr(data-col);color:var(--muted);font-weight:600;text-align:left;flex:none}}
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
