"""Reports as one self-contained HTML page (needs the extra ``servicegoals[html]``).

The page has each goal's contributors × milestones as progress bars coloured by
status (the status is also written out), their forecast and pace (`forecast`),
the milestones' totals, and a chart of each milestone's total value against its
target and, for a milestone in progress, its forecast.  It loads nothing: the CSS
and the SVG charts are inline, so it works offline, from a file or an e-mail.
The template (``templates/report.html.j2``) is rendered by Jinja2 with
autoescaping on; ``docs/reports.md`` shows the page.

The charts are plain inline SVG drawn here rather than a charting library: a
bar and a target mark per milestone need a few rectangles, and a library would
mean JavaScript in the page, bytes to inline, and a moving part to keep up to
date.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from attrs import frozen

from .errors import InvalidInput
from .export import (
    Line,
    amount_text,
    forecast_cells,
    goal_title,
    label_text,
    report_lines,
    status_text,
    who_text,
)
from .goals import Directory, Goal
from .kpis import Direction
from .status import GoalReport, Progress
from .workspace import temp_beside, writable_target

__all__ = ["ExtraColumn", "render_html", "write_html"]

_TEMPLATE = "report.html.j2"
# The chart's drawing area, in SVG user units (the SVG scales to the page width).
_WIDTH, _HEIGHT, _LEFT, _BOTTOM = 640, 180, 8, 28


@frozen
class ExtraColumn:
    """A column added to every goal's table, after "Forecast" and "Pace".

    The hook for figures computed elsewhere: ``cell(goal, report, row)``
    returns the text of one row's cell, or None for an empty cell.
    """

    heading: str
    cell: Callable[[Goal, GoalReport, Progress], str | None]


def _bar_percent(row: Progress) -> float:
    """The filled part of a progress bar, 0 to 100 (an attainment over 100% fills it)."""
    if row.infinite:
        return 100.0
    if row.percent is None:
        return 0.0
    return float(min(max(row.percent, Fraction(0)), Fraction(100)))


def _row(
    line: Line, report: GoalReport, directory: Directory | None, extra: Sequence[ExtraColumn]
) -> dict[str, Any]:
    p = line.progress
    forecast, pace = forecast_cells(line)
    return {
        "kind": line.kind,
        "who": who_text(line, directory),
        "milestone": label_text(line),
        "target": amount_text(line.goal, p.target),
        "value": amount_text(line.goal, p.value),
        "percent": p.percent_text,
        "bar": f"{_bar_percent(p):.1f}",
        "status": p.status.value,
        "status_text": status_text(p),
        "forecast": forecast,
        "pace": pace,
        "at_risk": line.forecast is not None and line.forecast.at_risk,
        "extra": [column.cell(line.goal, report, p) or "" for column in extra],
    }


def _chart(goal: Goal, report: GoalReport, lines: Sequence[Line]) -> dict[str, Any]:
    """Bars of each milestone's total value with a mark at its target (and its forecast).

    Floats here only place shapes; every number shown is the exact one.
    """
    totals = list(report.milestone_rows)
    projected = {
        line.progress.milestone_index: line.forecast.value
        for line in lines
        if line.kind == "total" and line.forecast is not None and line.forecast.value is not None
    }
    amounts = [float(r.value or 0) for r in totals] + [float(r.target) for r in totals]
    amounts += [float(v) for v in projected.values()]
    top = max([*amounts, 1.0]) * 1.1
    slot = (_WIDTH - _LEFT) / max(len(totals), 1)
    plot = _HEIGHT - _BOTTOM
    bars: list[dict[str, Any]] = []
    for n, row in enumerate(totals):
        assert row.milestone_index is not None
        label = report.milestones[row.milestone_index].label
        value = float(row.value or 0)
        height = plot * value / top
        x = _LEFT + n * slot + slot * 0.15
        ahead = projected.get(row.milestone_index)
        text = (
            f"{label}: {amount_text(goal, row.value)} against a target of "
            f"{amount_text(goal, row.target)}, {row.percent_text}, {status_text(row)}"
        )
        if ahead is not None:
            text += f"; forecast {amount_text(goal, ahead)}"
        bars.append(
            {
                "x": f"{x:.1f}",
                "width": f"{slot * 0.7:.1f}",
                "y": f"{plot - height:.1f}",
                "height": f"{height:.1f}",
                "target_y": f"{plot - plot * float(row.target) / top:.1f}",
                "label_x": f"{x + slot * 0.35:.1f}",
                "label": label,
                "status": row.status.value,
                "forecast_y": None if ahead is None else f"{plot - plot * float(ahead) / top:.1f}",
                "text": text,
            }
        )
    widest = max((len(b["label"]) for b in bars), default=1)
    better = "lower" if goal.kpi.direction is Direction.LOWER_IS_BETTER else "higher"
    return {
        "better": better,
        "width": _WIDTH,
        "height": _HEIGHT,
        "axis_y": plot,
        "bars": bars,
        "forecasts": bool(projected),
        # Many milestones (a year of weeks) would crowd the labels: show every k-th,
        # k such that a label (about 6.5 units a character at 11px) fits its room.
        "label_every": max(1, math.ceil(widest * 6.5 / slot)),
    }


def _environment() -> Any:
    try:
        import jinja2
    except ImportError:
        raise InvalidInput(
            "--html", "jinja2", "an HTML report needs the extra: pip install 'servicegoals[html]'"
        ) from None
    return jinja2.Environment(
        loader=jinja2.PackageLoader("servicegoals", "templates"),
        autoescape=True,  # every name and label in the page is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(
    reports: Iterable[tuple[Goal, GoalReport]],
    *,
    at: datetime,
    directory: Directory | None = None,
    title: str = "Service goals",
    extra_columns: Sequence[ExtraColumn] = (),
) -> str:
    """One self-contained HTML page of ``(goal, report)`` pairs.

    Args:
        reports: Each goal with its report.
        at: The report's time, shown in the heading.
        directory: The account's people, for contributors' names.
        title: The page's title.
        extra_columns: Columns added after "Pace" (the built-in forecast columns).

    Raises:
        InvalidInput: Jinja2 is not installed, or a report is not the goal's.
    """
    goals = []
    for goal, report in reports:
        lines = report_lines(goal, report)
        goals.append(
            {
                "id": goal.id,
                "title": goal_title(goal),
                "name": goal.name,
                "rows": [_row(line, report, directory, extra_columns) for line in lines],
                "chart": _chart(goal, report, lines),
            }
        )
    template = _environment().get_template(_TEMPLATE)
    html: str = template.render(
        title=title,
        at=at.isoformat(),
        goals=goals,
        extra_headings=[c.heading for c in extra_columns],
    )
    return html


def write_html(
    path: str | os.PathLike[str],
    reports: Iterable[tuple[Goal, GoalReport]],
    *,
    at: datetime,
    directory: Directory | None = None,
    title: str = "Service goals",
    extra_columns: Sequence[ExtraColumn] = (),
) -> None:
    """Write `render_html`'s page to ``path``: a temporary file beside it, then a rename."""
    target = Path(path)
    writable_target("--html", target)
    html = render_html(
        reports, at=at, directory=directory, title=title, extra_columns=extra_columns
    )
    temp = temp_beside(target)
    try:
        temp.write_text(html, encoding="utf-8")
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
