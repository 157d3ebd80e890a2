"""Reports a person can read: a cumulative funnel whose Done row counts resolved requests, throughput
per week and an SLA burn-down drawn as charts, and pages whose tables and labels fit at 1280 and at
390 pixels wide in a real browser (Chromium through Playwright, as in test_report_html.py).

One support store, moved at pinned instants (ERFLOW_NOW):

    2026-10-05  A, B, D made (new)
    2026-10-06  A, B, D classified (scoping)
    2026-10-07  A resolved without development work (skips Estimate, Invoice, Delivery)
    2026-10-08  B declined
    2026-10-09  D resolved; 2026-10-16 D closed
    2026-10-20  C made (new)
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import PM, SUPPORT, Cli
from test_report_html import Page, Visit, browser

from erflow.reports import html as htmlpage

__all__ = ["browser"]  # the Chromium fixture, shared with test_report_html.py

NOW = {"ERFLOW_NOW": "2026-10-20T12:00:00+00:00"}
CUSTOMER = ["--customer-name", "Jane Roe", "--customer-email", "jane@acme.example"]
RESOLVE = ["--set", "resolution=answered", "--set", "resolution_notes=Explained the export settings"]
SUPPORT_STAGES = ["Intake", "Scoping", "Estimate", "Invoice", "Delivery", "Resolution", "Done"]
_BUILT: dict[str, Any] = {}


def at(day: str) -> dict[str, str | None]:
    return {"ERFLOW_NOW": f"{day}T09:00:00+00:00"}


@pytest.fixture
def story(run: Cli, walk_cache: Path) -> dict[str, str]:
    """The module's support store, made once and copied (with its history) for each test."""
    if not _BUILT:
        built = Cli(walk_cache / "readable-story", walk_cache)
        built.init()
        _BUILT["ids"] = tell(built)
        _BUILT["root"] = built.root
    shutil.copytree(_BUILT["root"], run.root, symlinks=True)
    ids: dict[str, str] = _BUILT["ids"]
    return ids


def tell(run: Cli) -> dict[str, str]:
    def new(day: str, title: str) -> str:
        data = run.json("new", "support", "--title", title, *CUSTOMER, user=SUPPORT, env=at(day))
        return str(data["id"])

    def advance(ticket: str, day: str, *args: str) -> None:
        run.ok("advance", ticket, *args, user=PM, env=at(day))

    ids = {name: new("2026-10-05", f"Request {name}") for name in "ABD"}
    for ticket in ids.values():
        advance(
            ticket, "2026-10-06", "classify", "--set", "classification=Bug Fix", "--set", "product=Portal"
        )
    advance(ids["A"], "2026-10-07", "resolve", *RESOLVE)
    advance(ids["B"], "2026-10-08", "decline", "--set", "decline_reason=Out of contract")
    advance(ids["D"], "2026-10-09", "resolve", *RESOLVE)
    advance(ids["D"], "2026-10-16", "close")
    ids["C"] = new("2026-10-20", "Request C")
    return ids


def report(run: Cli, name: str, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = run.json("report", name, "--type", "support", *args, env=NOW)
    return data


# --- the funnel ---------------------------------------------------------------------------------


def test_the_funnel_is_cumulative_and_a_resolved_request_counts_as_done(
    run: Cli, story: dict[str, str]
) -> None:
    data = report(run, "funnel")
    rows = {r["stage"]: r for r in data["rows"]}
    assert list(rows) == SUPPORT_STAGES
    # A (resolved) and D (closed) count in every stage, the ones they skipped too; B stopped at Scoping.
    assert [rows[s]["reached"] for s in SUPPORT_STAGES] == [4, 3, 2, 2, 2, 2, 2]
    assert rows["Done"]["percent"] == 50.0
    assert [rows[s]["now_in_stage"] for s in SUPPORT_STAGES] == [1, 0, 0, 0, 0, 1, 1]  # C, A, D
    assert [rows[s]["stopped_here"] for s in SUPPORT_STAGES] == [0, 1, 0, 0, 0, 0, 0]  # B
    assert rows["Estimate"]["median_days_from_previous"] == 2.0  # A a day after scoping, D three
    assert rows["Done"]["median_days_from_previous"] == 0.0  # resolved is done for the customer
    assert any("cumulative" in n for n in data["notes"])
    assert "Support or maintenance request: Done counts the ones that reached resolved, or closed " in (
        "\n".join(data["notes"])
    )


def test_every_type_of_the_demo_has_a_monotone_funnel_ending_in_done(run: Cli, tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    run.ok("demo", str(demo))
    data = run.json("report", "funnel", "--store", str(demo), store=False)
    by_type: dict[str, list[int]] = {}
    for row in data["rows"]:
        by_type.setdefault(row["type"], []).append(row["reached"])
    assert set(by_type) == {"enhancement", "bug", "support", "doc_change", "implementation", "config"}
    for counts in by_type.values():
        assert counts == sorted(counts, reverse=True), by_type
    assert [r["stage"] for r in data["rows"] if r["type"] == "bug"][-1] == "Done"
    assert sum(counts[-1] for counts in by_type.values()) >= 2  # done requests are counted as done


def test_the_text_report_says_how_the_funnel_counts(run: Cli, story: dict[str, str]) -> None:
    result = run.ok("report", "funnel", "--type", "support", env=NOW)
    assert "Stages are cumulative" in result.stderr
    assert "Stages are cumulative" not in result.stdout


# --- throughput and the SLA burn-down ----------------------------------------------------------


def chart(page: str, title: str) -> tuple[list[str], list[float]]:
    """A chart's labels and totals, from its bars' data attributes, found by the chart's title."""
    parsed = Page(page)
    svgs = [a for t, a in parsed.tags if t == "svg" and a.get("aria-label", "").startswith(title)]
    assert len(svgs) == 1, [a.get("aria-label") for t, a in parsed.tags if t == "svg"]
    figure = page.split(f'aria-label="{svgs[0]["aria-label"]}"', 1)[1].split("</svg>", 1)[0]
    bars = [a for t, a in Page(figure).tags if t == "g" and a.get("class") == "bar"]
    return [b["data-label"] for b in bars], [float(b["data-value"]) for b in bars]


def test_the_funnel_page_draws_requests_done_per_week(
    run: Cli, story: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "funnel.html"
    run.ok("report", "funnel", "--type", "support", "--html", str(out), env=NOW)
    page = out.read_text(encoding="utf-8")
    labels, done = chart(page, "Requests done per week")
    assert len(labels) == 12 and labels[-1] == "19 Oct"  # twelve weeks up to now, by their Monday
    assert done[labels.index("5 Oct")] == 2.0  # A and D were resolved that week
    assert sum(done) == 2.0
    assert "How it is counted" in page and "Stages are cumulative" in Page(page).text
    stages, reached = chart(page, "Support or maintenance request: requests reaching each stage")
    assert stages == SUPPORT_STAGES and reached == sorted(reached, reverse=True)


def test_the_sla_page_draws_a_burn_down_of_the_open_clocks(
    run: Cli, story: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "sla.html"
    run.ok("report", "sla", "--type", "support", "--html", str(out), env=NOW)
    labels, left = chart(out.read_text(encoding="utf-8"), "SLA burn-down")
    # C's clocks run: its response is due within a business day, its resolution in fifteen.
    assert labels[:3] == ["now", "+1 d", "+2 d"] and 8 <= len(labels) <= 15
    assert left[0] == 2.0 and left[-1] == 1.0
    assert left == sorted(left, reverse=True)


# --- in a browser, wide and narrow ------------------------------------------------------------

OVERFLOW = """() => {
    const wrap = document.querySelector(".table-wrap");
    const cut = Array.from(document.querySelectorAll("td, th, .param dd, figcaption h2"))
        .filter(e => e.scrollWidth > e.clientWidth + 1)
        .map(e => e.tagName + ": " + e.textContent);
    const labels = Array.from(document.querySelectorAll("svg.chart-svg text.label")).map(t => {
        const box = t.getBBox(), view = t.ownerSVGElement.viewBox.baseVal;
        return {text: t.textContent, inside: box.x >= -0.5 && box.x + box.width <= view.width + 0.5};
    });
    const last = Array.from(document.querySelectorAll("table.data tbody tr"))
        .map(r => r.cells[r.cells.length - 1].getBoundingClientRect().right);
    return {
        cut: cut,
        outside: labels.filter(l => !l.inside).map(l => l.text),
        shortened: labels.filter(l => l.text.includes("\u2026")).map(l => l.text),
        labels: labels.length,
        tableFits: wrap.scrollWidth <= wrap.clientWidth + 1,
        lastCellShown: last.every(x => x <= wrap.getBoundingClientRect().right + 1),
        pageFits: document.documentElement.scrollWidth <= window.innerWidth,
        rows: last.length,
    };
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_the_sla_and_board_pages_fit_with_nothing_cut(
    run: Cli, story: dict[str, str], tmp_path: Path, browser: Any, width: int
) -> None:
    for ticket in ("x", "y"):  # an enhancement or two, for the board's long state labels
        run.ok("new", "enhancement", "--title", f"Export {ticket}", *CUSTOMER, user=SUPPORT, env=NOW)
    for name, args in (("sla", []), ("board", ["--type", "enhancement", "--type", "support"])):
        out = tmp_path / f"{name}.html"
        run.ok("report", name, *args, "--html", str(out), env=NOW)
        visit = Visit(browser, out, width)
        try:
            seen = visit.page.evaluate(OVERFLOW)
            assert visit.errors == [] and visit.requests == [visit.url]
            assert seen["rows"] > 0 and (name == "sla" or seen["labels"] > 20), seen
            assert seen["cut"] == [], seen["cut"]
            assert seen["outside"] == [] and seen["shortened"] == [], seen
            assert seen["tableFits"] and seen["lastCellShown"] and seen["pageFits"], seen
            if name == "sla":
                status = visit.page.locator("table.data tbody tr td:last-child .status").first
                assert status.is_visible()
        finally:
            visit.close()


def test_a_long_label_wraps_onto_lines_instead_of_being_cut() -> None:
    from erflow.reports.base import Chart, Report

    label = "Leadership: confirm the board's decline before the customer hears of it"
    rep = Report(
        "board",
        ["state", "tickets"],
        rows=[{"state": label, "tickets": 2}],
        charts=[Chart("bars", "Board", [label, "Intake"], {"tickets": [2.0, 1.0]})],
    )
    page = htmlpage.render(rep)
    lines = re.findall(r"<tspan[^>]*>([^<]*)</tspan>", page)
    assert lines == [
        "Leadership: confirm the",
        "board&#x27;s decline before the",
        "customer hears of it",
        "Intake",
    ]
