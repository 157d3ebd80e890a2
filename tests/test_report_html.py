"""`erflow report NAME --html FILE`: one self-contained page with the report's charts and table.

The page is built by erflow.reports.html from Report objects (tested here directly), written by the CLI
(tested on a real store), and opened in headless Chromium through Playwright, which checks what a
person would see: the charts drawn to scale, the rows there, nothing fetched and no customer text run.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import DEV, NICK, PM, QA, Cli, describe, one_line_error

from erflow.reports import html as htmlpage
from erflow.reports.base import Chart, Report

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
GENERATED = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)

# Customer text that would run, or fetch, or break out of an attribute if it reached the page as markup.
SCRIPT = "<script>window.__pwned = 'script'</script>"
IMG = "<img src=x onerror=\"window.__pwned = 'img'\">"
QUOTE = '" onmouseover="window.__pwned = \'attr\'" x="'
HOSTILE = f"Acme {SCRIPT} {IMG} {QUOTE}"


# ---------------------------------------------------------------------------------------------
# The page as a parser sees it


class Page(HTMLParser):
    """Every start tag with its attributes, and the text of the page (entities decoded)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def all(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.tags
            if t == tag and all(v in a.get(k.rstrip("_"), "").split() for k, v in attrs.items())
        ]


def assert_inert(page: str) -> None:
    """Our one script, no event-handler attribute, nothing fetched, and the hostile text as text."""
    parsed = Page(page)
    assert len(parsed.all("script")) == 1
    assert [t for t, _ in parsed.tags if t in ("img", "iframe", "link", "object", "embed")] == []
    handlers = [(t, k) for t, a in parsed.tags for k in a if k.startswith("on")]
    assert handlers == []
    assert [(t, k) for t, a in parsed.tags for k in a if k in ("src", "href", "xlink:href", "srcset")] == []
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page, re.IGNORECASE)


def report(**kw: Any) -> Report:
    base: dict[str, Any] = {"name": "board", "columns": ["state", "count"], "title": "Board"}
    base.update(kw)
    return Report(**base)


def render(rep: Report) -> str:
    return htmlpage.render(rep, generated_at=GENERATED)


STATES = ["intake", "pm_review", "needs_info", "product_board", "leadership", "in_development"]
STAGES = ["Intake", "Review", "Review", "Decision", "Decision", "Build"]
ENHANCEMENTS = [4.0, 10.0, 2.0, 7.0, 1.0, 5.0]
BUGS = [3.0, 0.0, 1.0, 2.0, 6.0, 2.0]


def full_report() -> Report:
    """Every chart kind, stacked series, groups, and hostile text everywhere a ticket's text can go."""
    rows: list[dict[str, Any]] = [
        {"state": s, "stage": g, "enhancement": e, "bug": b, "hours": e * 12.5}
        for s, g, e, b in zip(STATES, STAGES, ENHANCEMENTS, BUGS, strict=True)
    ]
    rows.append({"state": HOSTILE, "stage": HOSTILE, "enhancement": 1234567, "bug": None, "hours": 0.125})
    return Report(
        "board",
        ["state", "stage", "enhancement", "bug", "hours"],
        rows=rows,
        problems=[f"tickets/ER/ER-1.md:3: {HOSTILE}"],
        title=f"Board for {HOSTILE}",
        params={"type": "enhancement, bug", "owner": HOSTILE},
        charts=[
            Chart(
                "bars",
                "Tickets per state",
                labels=STATES,
                series={"enhancement": ENHANCEMENTS, "bug": BUGS},
                groups=STAGES,
            ),
            Chart(
                "histogram",
                "Age of open tickets",
                labels=["< 1 d", "1–3 d", "3–7 d", "1–2 w", "> 2 w"],
                series={"bug": [1.0, 4.0, 2.0, 0.0, 1.0], "enhancement": [2.0, 3.0, 8.0, 4.0, 1.0]},
            ),
            Chart(
                "funnel",
                "From intake to live",
                labels=["submitted", "approved", "scheduled", "live"],
                series={"tickets": [40.0, 25.0, 12.0, 9.0]},
                groups=["Intake", "Decision", "Build", "Build"],
            ),
            Chart("bars", f"Per owner {HOSTILE}", labels=["nick", HOSTILE], series={HOSTILE: [3.0, 1.0]}),
        ],
    )


# ---------------------------------------------------------------------------------------------
# render(): the page from a Report


@pytest.mark.parametrize("kind", ["bars", "histogram", "funnel"])
def test_each_chart_kind_draws_one_bar_per_label_in_an_accessible_svg(kind: str) -> None:
    chart = Chart(kind, "Tickets", labels=["a", "b", "c"], series={"open": [3.0, 1.0, 2.0]})
    page = Page(render(report(rows=[{"state": "a", "count": 3}], charts=[chart])))
    (svg,) = page.all("svg")
    assert svg["role"] == "img"
    assert svg["aria-label"].startswith("Tickets: 3 ")
    assert svg["class"].split() == ["chart-svg", kind]
    bars = page.all("g", class_="bar")
    assert [b["data-label"] for b in bars] == ["a", "b", "c"]
    assert [b["data-value"] for b in bars] == ["3", "1", "2"]
    assert len(page.all("rect", class_="c0")) == 3
    assert "a: 3 tickets" in page.text  # each bar's <title> tooltip carries the exact value


def test_stacked_series_get_one_segment_each_a_legend_and_the_same_colour_in_every_chart() -> None:
    page = Page(render(full_report()))
    bars = page.all("g", class_="bar")
    assert len(bars) == len(STATES) + 5 + 4 + 2
    legends = [t for t, a in page.tags if t == "ul" and "legend" in a.get("class", "")]
    assert len(legends) == 2  # the stacked charts; a single series needs none
    # "enhancement" is the first series met, "bug" the second: the histogram lists them the other way
    # round but keeps their colours.
    assert "pm_review (Review) · enhancement: 10 tickets (of 10)" in page.text
    assert "pm_review (Review) · bug" not in page.text  # a zero segment is not drawn
    assert "1–3 d · bug: 4 tickets (of 7)" in page.text
    text = render(full_report())
    assert re.search(r'class="c0"[^>]*><title>1–3 d · enhancement', text)
    assert re.search(r'class="c1"[^>]*><title>1–3 d · bug', text)
    assert re.search(r'class="c1"[^>]*><title>intake \(Intake\) · bug', text)


def test_groups_band_the_labels_and_name_each_group_once_per_run() -> None:
    page = render(full_report())
    groups = re.findall(r'<text class="group"[^>]*>([^<]*)</text>', page)
    assert groups[:4] == ["Intake", "Review", "Decision", "Build"]  # the bars chart
    assert groups[4:] == ["Intake", "Decision", "Build"]  # the funnel
    assert "pm_review (Review) · enhancement" in Page(page).text


def test_hostile_text_in_rows_labels_params_series_and_problems_stays_text() -> None:
    page = render(full_report())
    assert_inert(page)
    text = Page(page).text
    for where in (
        f"Board for {HOSTILE}",  # title
        f"tickets/ER/ER-1.md:3: {HOSTILE}",  # problems
        f"Per owner {HOSTILE}",  # chart title
        f"{HOSTILE}: 1 tickets",  # a label in a tooltip
    ):
        assert where in text
    assert text.count(HOSTILE) >= 6  # param, row cells, label, series name in the legend-less tooltip
    assert SCRIPT not in page and IMG not in page and QUOTE not in page
    assert "&lt;script&gt;" in page and "&quot; onmouseover=&quot;" in page


def test_numbers_are_formatted_and_right_aligned() -> None:
    page = render(full_report())
    assert '<td class="num" data-v="1234567" data-col="Enhancement">1,234,567</td>' in page
    assert '<td class="num" data-v="0.125" data-col="Hours">0.12</td>' in page  # two decimals at most
    assert '<th scope="col" class="num">Enhancement</th>' in page
    assert '<th scope="col">State</th>' in page
    assert '<td data-col="Bug"></td>' in page  # a missing value is an empty cell, not "None"


def test_the_header_names_the_report_its_parameters_and_when() -> None:
    page = Page(render(full_report()))
    assert "Board for" in page.text and "erflow report · board" in page.text
    assert "type" in page.text and "enhancement, bug" in page.text
    assert page.all("time")[0]["datetime"] == "2026-11-02T09:00:00+00:00"


def test_a_big_report_shows_the_first_2000_rows_and_says_how_many_are_left_out() -> None:
    rows = [{"state": f"s{i}", "count": i} for i in range(2345)]
    page = render(report(rows=rows))
    assert page.count("<tr>") == 1 + 2000
    assert "s1999" in page and "s2000" not in page
    text = Page(page).text
    assert "Showing the first 2,000 of 2,345 rows; 345 left out." in text
    assert "erflow report board --csv or --json gives all of them." in text


def test_a_report_under_the_cap_says_nothing_is_left_out() -> None:
    page = render(report(rows=[{"state": "a", "count": 1}]))
    assert "left out" not in page


def test_an_empty_report_says_no_tickets_match_instead_of_drawing_empty_charts() -> None:
    chart = Chart("bars", "Open per owner", labels=[], series={"open": []})
    page = render(report(rows=[], charts=[chart], params={"type": "bug"}))
    assert "No tickets match" in page
    assert "<svg" not in page and "<table" not in page
    assert_inert(page)


def test_a_chart_whose_values_are_all_zero_says_so_instead_of_an_empty_svg() -> None:
    chart = Chart("histogram", "Age", labels=["< 1 d", "> 1 d"], series={"open": [0.0, 0.0]})
    page = render(report(rows=[{"state": "a", "count": 0}], charts=[chart]))
    assert "Nothing to chart" in page and "<svg" not in page


def test_the_page_admits_only_its_own_style_and_script() -> None:
    page = render(full_report())
    (policy,) = [a["content"] for a in Page(page).all("meta") if a.get("http-equiv")]
    assert "default-src 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert policy.count("'sha256-") == 2


# ---------------------------------------------------------------------------------------------
# The CLI on a real store


@pytest.fixture
def busy(run: Cli, store: Path) -> dict[str, float]:
    """A store whose open tickets are spread over owners, one of them named with hostile text.

    Returns the open count per owner, as `report workload` counts it.
    """
    hostile_id = run.new(
        "--title",
        HOSTILE,
        "--customer-name",
        HOSTILE,
        "--customer-email",
        "jane@acme.example",
        "--set",
        "product=Billing Portal",
    )
    ids = [run.new() for _ in range(6)]
    for ticket_id, owner in zip(ids, [NICK, NICK, NICK, DEV, DEV, QA], strict=True):
        run.ok("assign", ticket_id, owner, user=PM)
    path = run.path(hostile_id)
    text = path.read_text(encoding="utf-8")
    owner = re.search(r"^owner: .*$", text, re.MULTILINE)
    assert owner
    path.write_text(text.replace(owner.group(0), "owner: " + json.dumps(HOSTILE)), encoding="utf-8")
    run.commit_all("a hand edit gives a ticket a hostile owner")
    rows = run.json("report", "workload")["rows"]
    return {str(r["owner"]): float(r["open"]) for r in rows}


@pytest.mark.parametrize("fmt", [[], ["--json"], ["--csv"]])
def test_html_writes_the_page_and_leaves_stdout_as_it_was(
    run: Cli, busy: dict[str, float], tmp_path: Path, fmt: list[str]
) -> None:
    out = tmp_path / "pages" / "workload.html"
    plain = run.ok("report", "workload", *fmt)
    result = run.ok("report", "workload", *fmt, "--html", str(out))
    assert result.stdout == plain.stdout
    assert f"wrote {out}" in result.stderr.splitlines()
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert_inert(page)
    assert HOSTILE in Page(page).text
    assert [b["data-label"] for b in Page(page).all("g", class_="bar")] == list(busy)
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in out.parent.iterdir()] == ["workload.html"]  # no temp file left behind


@pytest.mark.parametrize("target", ["a-file/report.html", "a-folder"])
def test_html_to_an_unwritable_path_is_a_usage_error_and_prints_no_report(
    run: Cli, store: Path, tmp_path: Path, target: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    (tmp_path / "a-folder").mkdir()
    result = run("report", "workload", "--html", str(tmp_path / target))
    assert result.exit_code == 2, describe(result)
    line = one_line_error(result)
    assert line.startswith(f"erflow: --html {tmp_path / target}: cannot write it: ")
    assert result.stdout == ""
    assert sorted(p.name for p in (tmp_path / "a-folder").iterdir()) == []


def test_html_of_an_unknown_report_is_not_found_and_writes_nothing(
    run: Cli, store: Path, tmp_path: Path
) -> None:
    result = run("report", "horoscope", "--html", str(tmp_path / "h.html"))
    assert result.exit_code == 4, describe(result)
    assert not (tmp_path / "h.html").exists()


# ---------------------------------------------------------------------------------------------
# In a headless browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright. Missing Chromium fails the test: CI installs it."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the HTML report's browser tests need Debian's Chromium "
            "(apt-get install --no-install-recommends chromium; .ci/run does this)",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[test]'", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Visit:
    """One page opened from a file, with everything it asked for and everything it complained about."""

    def __init__(self, browser: Any, path: Path, width: int = 1280, **context: Any) -> None:
        self.url = path.as_uri()
        self.context = browser.new_context(viewport={"width": width, "height": 900}, **context)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda m: m.type in ("error", "warning") and self.errors.append(m.text))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(self.url, wait_until="load")

    def charts(self) -> list[dict[str, Any]]:
        """Each chart SVG's size and visibility, and each of its bars' box, in the page's order."""
        result: list[dict[str, Any]] = self.page.evaluate(
            """() => Array.from(document.querySelectorAll("svg.chart-svg")).map(svg => {
                const box = svg.getBoundingClientRect();
                const style = getComputedStyle(svg);
                return {
                    kind: svg.classList[1], width: box.width, height: box.height,
                    visible: style.visibility === "visible" && style.display !== "none",
                    bars: Array.from(svg.querySelectorAll("g.bar")).map(g => {
                        const b = g.getBoundingClientRect();
                        return {label: g.dataset.label, width: b.width, height: b.height, x: b.x};
                    }),
                };
            })"""
        )
        return result

    def close(self) -> None:
        self.context.close()


def assert_to_scale(sizes: list[float], values: list[float]) -> None:
    """Each bar's length over the longest equals its value over the largest, to a pixel."""
    longest, largest = max(sizes), max(values)
    assert longest > 50
    for size, value in zip(sizes, values, strict=True):
        assert abs(size - longest * value / largest) <= 1.0, (sizes, values)


def assert_not_blank(visit: Visit, png: Path) -> None:
    """The screenshot, decoded by the browser, has many colours and little of its most common one."""
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    page = visit.context.new_page()
    stats = page.evaluate(
        """async (data) => {
            const img = new Image();
            img.src = "data:image/png;base64," + data;
            await img.decode();
            const canvas = document.createElement("canvas");
            canvas.width = img.width; canvas.height = img.height;
            const ctx = canvas.getContext("2d");
            ctx.drawImage(img, 0, 0);
            const px = ctx.getImageData(0, 0, img.width, img.height).data;
            const counts = new Map();
            for (let i = 0; i < px.length; i += 4) {
                const key = (px[i] << 16) | (px[i + 1] << 8) | px[i + 2];
                counts.set(key, (counts.get(key) || 0) + 1);
            }
            return {colours: counts.size, top: Math.max(...counts.values()) / (px.length / 4),
                    width: img.width, height: img.height};
        }""",
        data,
    )
    page.close()
    assert stats["width"] == 1280 and stats["height"] > 600
    assert stats["colours"] > 50 and stats["top"] < 0.95, stats


def test_the_workload_page_in_chromium_draws_each_owner_to_scale_and_runs_no_customer_text(
    run: Cli, busy: dict[str, float], tmp_path: Path, browser: Any
) -> None:
    out = tmp_path / "workload.html"
    run.ok("report", "workload", "--html", str(out))
    started = time.monotonic()
    visit = Visit(browser, out)
    try:
        assert visit.requests == [visit.url]
        assert visit.errors == []
        assert visit.page.evaluate("window.__pwned") is None
        (chart,) = visit.charts()
        assert chart["visible"] and chart["width"] > 300 and chart["height"] > 50
        assert [b["label"] for b in chart["bars"]] == list(busy)
        assert_to_scale([b["width"] for b in chart["bars"]], list(busy.values()))
        rows = visit.page.locator("table.data tbody tr")
        assert rows.count() == len(busy)
        assert visit.page.get_by_text(SCRIPT).count() >= 1  # shown as text, in the table and the chart
        # Sorting by a column is the one thing the script does.
        visit.page.get_by_role("button", name="Open").click()
        opens = visit.page.locator("table.data tbody tr td:nth-child(3)").all_inner_texts()
        assert opens == sorted(opens, key=float)
        shot = tmp_path / "workload.png"
        visit.page.screenshot(path=str(shot), full_page=True)
        assert_not_blank(visit, shot)
        assert visit.requests == [visit.url] and visit.errors == []
    finally:
        visit.close()
    assert time.monotonic() - started < 30


def test_every_chart_kind_in_chromium_is_visible_and_to_scale_in_light_and_dark(
    tmp_path: Path, browser: Any
) -> None:
    rep = full_report()
    out = tmp_path / "board.html"
    out.write_text(render(rep), encoding="utf-8")
    for scheme in ("light", "dark"):
        visit = Visit(browser, out, color_scheme=scheme)
        try:
            assert visit.requests == [visit.url]
            assert visit.errors == []
            assert visit.page.evaluate("window.__pwned") is None
            charts = visit.charts()
            assert [c["kind"] for c in charts] == [c.kind for c in rep.charts]
            for drawn, chart in zip(charts, rep.charts, strict=True):
                assert drawn["visible"] and drawn["width"] > 200 and drawn["height"] > 50, drawn
                assert [b["label"] for b in drawn["bars"]] == chart.labels
                totals = [sum(v[i] for v in chart.series.values()) for i in range(len(chart.labels))]
                length = "height" if chart.kind == "histogram" else "width"
                assert_to_scale([b[length] for b in drawn["bars"]], totals)
            funnel = charts[2]["bars"]
            centres = {round(b["x"] + b["width"] / 2) for b in funnel}
            assert max(centres) - min(centres) <= 1  # centred, narrowing
            assert visit.page.locator("table.data tbody tr").count() == len(rep.rows)
            assert visit.page.locator("th[scope=col]").count() == len(rep.columns)
            shot = tmp_path / f"board-{scheme}.png"
            visit.page.screenshot(path=str(shot), full_page=True)
            assert_not_blank(visit, shot)
        finally:
            visit.close()


def test_the_charts_show_with_javascript_off(tmp_path: Path, browser: Any) -> None:
    out = tmp_path / "board.html"
    out.write_text(render(full_report()), encoding="utf-8")
    visit = Visit(browser, out, java_script_enabled=False)
    try:
        boxes = [
            visit.page.locator("svg.chart-svg").nth(i).bounding_box()
            for i in range(visit.page.locator("svg.chart-svg").count())
        ]
        assert len(boxes) == 4
        assert all(b is not None and b["width"] > 200 and b["height"] > 50 for b in boxes)
        assert visit.page.locator("table.data tbody tr").count() == 7
    finally:
        visit.close()
