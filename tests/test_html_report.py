"""The HTML report, rendered in a real headless Chromium (docs/reports.md).

Runs the three commands of docs/reports.md exactly as written, opens the page
they write, and checks the rendered DOM: rows, statuses, charts, no console
error and no request leaving the file.  Chromium is Debian's ``chromium``
package (``python3 dev.py test`` installs it); without it these tests fail.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from servicegoals import evaluate, measure
from servicegoals.goalfiles import load_goals
from servicegoals.htmlreport import ExtraColumn, render_html
from servicegoals.sources import CsvSource

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "Chromium is missing: 'python3 dev.py test' installs it, "
            "or run 'apt-get install chromium'"
        )
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = _chromium()
    with sync_playwright() as playwright:
        # launch() gives Chromium a fresh temporary --user-data-dir of its own.
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            launched.close()


class Visit:
    """A page opened from a file, with everything it asked the network and the console."""

    def __init__(self, browser: Browser, path: Path, **context: Any) -> None:
        self.context = browser.new_context(**context)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page: Page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url, wait_until="load")

    def close(self) -> None:
        self.context.close()


def _sequence() -> list[list[str]]:
    """The commands of the first console block of docs/reports.md."""
    page = (ROOT / "docs" / "reports.md").read_text(encoding="utf-8")
    found = re.search(r"```console\n(.*?)```", page, re.DOTALL)
    assert found is not None
    return [shlex.split(line[2:]) for line in found[1].splitlines() if line.startswith("$ ")]


def _run(args: list[str], cwd: Path) -> None:
    assert args[0] == "servicegoals"
    command = shutil.which("servicegoals", path=str(Path(sys.executable).parent))
    prefix = [command] if command else [sys.executable, "-m", "servicegoals"]
    done = subprocess.run(
        [*prefix, *args[1:]], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )
    assert done.returncode == 0, (args, done.stderr)


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page the documented three commands write, in a scratch copy of the repository."""
    work = tmp_path_factory.mktemp("repo")
    shutil.copytree(EXAMPLES, work / "docs" / "examples")
    commands = _sequence()
    assert [c[1] for c in commands] == ["init", "refresh", "report"]
    for command in commands:
        _run(command, work)
    return work / "report.html"


def test_the_documented_commands_make_a_page_that_renders(
    browser: Browser, report_page: Path, tmp_path: Path
) -> None:
    visit = Visit(browser, report_page, viewport={"width": 1100, "height": 900})
    try:
        page = visit.page
        assert page.title() == "Service goals: workspace.sqlite"
        sections = page.locator("main > section")
        assert sections.count() == 2
        closed, response = sections.nth(0), sections.nth(1)
        # ada and alan: 3 milestones and the whole goal each; then 3 totals.
        assert closed.locator("tbody tr").count() == 11
        assert closed.locator("tbody.totals tr").count() == 3
        assert response.locator("tbody tr").count() == 3
        statuses = closed.locator("td.status").all_inner_texts()
        assert statuses[:4] == ["Achieved", "In progress", "Pending", "In progress"]
        assert statuses.count("Missed") == 2  # alan's April and the April total
        first = closed.locator("tbody tr").first
        assert first.locator("th").inner_text() == "ada"
        assert first.locator("td").nth(3).inner_text().strip() == "100%"
        # Bars: as wide as the progress, coloured by status, hidden from screen readers.
        bar = first.locator(".fill")
        assert bar.get_attribute("style") == "width: 100.0%"
        achieved = bar.evaluate("e => getComputedStyle(e).backgroundColor")
        missed = closed.locator("tr[data-status=missed] .fill").first
        assert achieved != missed.evaluate("e => getComputedStyle(e).backgroundColor")
        assert first.locator(".bar").get_attribute("aria-hidden") == "true"
        # A chart per goal with a text alternative naming every milestone.
        charts = page.locator("svg[role=img]")
        assert charts.count() == 2
        description = charts.nth(0).locator("desc").text_content() or ""
        assert "2026-04: 4 against a target of 5, 80%, Missed" in description
        assert charts.nth(0).locator("rect").count() == 3
        assert page.locator("caption").count() == 2
        # Forecast and pace (docs/forecasts.md): May is half over at the refresh.
        headings = closed.locator("thead th").all_inner_texts()
        assert headings[-2:] == ["Forecast", "Pace"]
        ada_may = closed.locator("tbody tr").nth(1)
        forecast = ada_may.locator("td.forecast")
        assert forecast.inner_text() == "2.1 (71%) at risk"
        assert "at-risk" in (forecast.get_attribute("class") or "")
        assert ada_may.locator("td.pace").inner_text() == "1.4 (-0.4)"
        red = missed.evaluate("e => getComputedStyle(e).backgroundColor")
        assert forecast.evaluate("e => getComputedStyle(e).color") == red
        assert closed.locator("tbody tr").first.locator("td.forecast").inner_text() == "–"
        may_total = closed.locator("tbody.totals tr").nth(1)
        assert may_total.locator("td.forecast").inner_text() == "8.6 (171%)"
        assert response.locator("td.forecast").first.inner_text() == "2h 16m (175%)"
        # The chart marks the forecast of the milestone in progress, and says it.
        assert charts.nth(0).locator("path.forecast").count() == 1
        assert "2026-05: 4 against a target of 5, 80%, In progress; forecast 9" in description
        # Self-contained: the file itself is the only request; nothing went wrong.
        assert visit.requests == [visit.url]
        assert visit.errors == []
        # SERVICEGOALS_SCREENSHOT=1 refreshes the screenshot of docs/reports.md.
        keep = os.environ.get("SERVICEGOALS_SCREENSHOT") == "1"
        shot_path = ROOT / "docs" / "images" / "report.png" if keep else tmp_path / "report.png"
        shot = page.screenshot(path=str(shot_path), full_page=True)
        assert shot.startswith(b"\x89PNG")
        assert len(shot) > 10_000
    finally:
        visit.close()


def _background(browser: Browser, path: Path, **media: Any) -> str:
    visit = Visit(browser, path)
    try:
        visit.page.emulate_media(**media)
        color: str = visit.page.evaluate("getComputedStyle(document.body).backgroundColor")
        return color
    finally:
        visit.close()


def test_the_page_follows_dark_mode_and_prints_on_white(
    browser: Browser, report_page: Path
) -> None:
    assert _background(browser, report_page, color_scheme="light") == "rgb(255, 255, 255)"
    assert _background(browser, report_page, color_scheme="dark") == "rgb(13, 17, 23)"
    printed = _background(browser, report_page, color_scheme="dark", media="print")
    assert printed == "rgb(255, 255, 255)"


def test_names_are_text_and_the_extra_column_hook_fills_cells(
    browser: Browser, tmp_path: Path
) -> None:
    goals = load_goals(EXAMPLES / "goals.toml")
    hostile = goals[0].with_name('<script>alert("x")</script><img src=http://example.com/x>')
    at = datetime(2026, 5, 15, 10, tzinfo=UTC)
    measured = measure([hostile], CsvSource(EXAMPLES / "tickets.csv").tickets())
    report = evaluate(hostile, measured, at=at)
    pace = ExtraColumn("Pace", lambda goal, rep, row: f"pace {row.milestone_index}")
    path = tmp_path / "hostile.html"
    path.write_text(render_html([(hostile, report)], at=at, extra_columns=[pace]), "utf-8")
    visit = Visit(browser, path)
    try:
        page = visit.page
        assert page.locator("script").count() == 0
        assert page.locator("img").count() == 0
        assert '<script>alert("x")</script>' in page.locator("h2").inner_text()
        assert page.locator("thead th").last.inner_text() == "Pace"
        assert page.locator("tbody tr").first.locator("td").last.inner_text() == "pace 0"
        assert visit.requests == [visit.url]
        assert visit.errors == []
    finally:
        visit.close()
