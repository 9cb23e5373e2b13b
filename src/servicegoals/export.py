"""Reports as plain data and as text: the renderers of the command line.

`report_records` and `report_data` turn a goal's
[GoalReport][servicegoals.GoalReport] into dicts of plain values (numbers,
strings, booleans, None): durations in seconds (a float) and as ISO-8601 text,
the percent, the status's name, and the exact fields beside them (ticket count,
total microseconds, attainment as ``"n/d"``), then each row's forecast and pace
(`servicegoals.forecast`).  The command's JSON, CSV and table output are built
from the same rows; ``docs/cli.md`` documents every field.

They are functions rather than methods of the report: a report holds numbers
only, while its rows' meaning (tickets or durations, milestone labels, people's
names) comes from the goal and the directory.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from typing import IO, Any, Literal

import attrs
from attrs import frozen

from ._convert import format_duration
from ._text import json_safe, printable
from .calendar import Period
from .errors import InvalidInput
from .forecast import GoalForecast, RowForecast, forecast, forecast_text, pace_text
from .goals import ContributorKind, Directory, Goal, Team, User
from .kpis import Unit
from .status import GoalReport, Progress, Status

__all__ = [
    "JSON_VERSION",
    "RECORD_FIELDS",
    "report_data",
    "report_records",
]

#: The ``version`` of the JSON document; 2 added numbers beside the exact strings,
#: 3 the forecast and pace fields.
JSON_VERSION = 4

#: A cell (one contributor, one milestone), a contributor's whole goal, a milestone's total.
RowKind = Literal["cell", "goal", "total"]

_GOAL_COLUMNS = ("goal_id", "goal_name", "kpi", "cadence", "unit")
_ROW_FIELDS = (
    "kind",
    "contributor_id",
    "contributor_kind",
    "contributor_name",
    "milestone_index",
    "milestone",
    "start",
    "end",
    "target",
    "target_iso",
    "target_exact",
    "value",
    "value_iso",
    "value_exact",
    "tickets",
    "total_us",
    "attainment",
    "percent",
    "percent_text",
    "infinite",
    "status",
    "status_text",
    "frozen",
    "calculated_at",
    "forecast_method",
    "forecast",
    "forecast_iso",
    "forecast_exact",
    "forecast_attainment",
    "forecast_percent",
    "forecast_percent_text",
    "forecast_infinite",
    "at_risk",
    "today_target",
    "today_target_iso",
    "today_target_exact",
    "pace_gap",
    "pace_gap_iso",
    "pace_gap_exact",
    "no_forecast_reason",
)
_FORECAST_FIELDS = _ROW_FIELDS[_ROW_FIELDS.index("forecast_method") :]
#: The keys of a record, in order: the CSV header.
RECORD_FIELDS = (*_GOAL_COLUMNS, *_ROW_FIELDS)

STATUS_TEXT = {
    Status.PENDING: "Pending",
    Status.IN_PROGRESS: "In progress",
    Status.ACHIEVED: "Achieved",
    Status.EXCEEDED: "Exceeded",
    Status.MISSED: "Missed",
}
_US = 1_000_000


# == rows in display order ========================================================


@frozen
class Line:
    """One output row: a cell, a contributor's whole goal, or a milestone's total."""

    goal: Goal
    kind: RowKind
    progress: Progress
    period: Period
    label: str | None  # the milestone's label (None for a whole-goal row)
    previous: Progress | None = None  # the row of the milestone before (listings only)
    previous_label: str | None = None
    forecast: RowForecast | None = None  # None: the report is not of the goal's milestones


def report_forecast(
    goal: Goal, report: GoalReport, given: GoalForecast | None = None
) -> GoalForecast | None:
    """``given`` (checked), else the report's forecast on the calendar clock.

    None when the goal's milestones have changed since the report was stored:
    its rows can still be shown, but not projected onto milestones that no
    longer exist.
    """
    if given is not None:
        if not isinstance(given, GoalForecast):
            raise InvalidInput("forecast", given, "expected a GoalForecast")
        if (given.goal_id, given.calculated_at) != (report.goal_id, report.calculated_at):
            raise InvalidInput("forecast", given.goal_id, "not a forecast of this report")
        return given
    if report.milestones != goal.milestones:
        return None
    return forecast(goal, report)


def report_lines(
    goal: Goal,
    report: GoalReport,
    keep: Callable[[Progress], bool] | None = None,
    *,
    projected: GoalForecast | None = None,
) -> list[Line]:
    """A report's rows in display order: each contributor's cells and whole goal, then totals.

    ``keep`` selects cell rows (and the whole-goal and total rows that go with
    them); ``projected`` is the report's forecast (by default computed on the
    calendar clock).
    """
    _check(goal, report)
    lines = _ordered(goal, report, keep)
    plan = report_forecast(goal, report, projected)
    if plan is None:
        return lines
    return [attrs.evolve(line, forecast=plan.of(line.progress)) for line in lines]


def _ordered(goal: Goal, report: GoalReport, keep: Callable[[Progress], bool] | None) -> list[Line]:
    lines: list[Line] = []
    milestones = report.milestones
    used: set[int] = set()
    for contributor in goal.contributors:
        cells = [r for r in report.rows_of(contributor.id) if keep is None or keep(r)]
        for row in cells:
            assert row.milestone_index is not None
            m = milestones[row.milestone_index]
            used.add(m.index)
            lines.append(Line(goal, "cell", row, m.period, m.label))
        if cells:  # the whole goal spans every targeted milestone, kept or not
            own = [r.milestone_index for r in report.rows_of(contributor.id)]
            first, last = milestones[own[0] or 0], milestones[own[-1] or 0]
            span = Period(first.period.start, last.period.end)
            lines.append(Line(goal, "goal", report.whole_goal(contributor.id), span, None))
    for row in report.milestone_rows:
        assert row.milestone_index is not None
        if row.milestone_index in used:
            m = milestones[row.milestone_index]
            lines.append(Line(goal, "total", row, m.period, m.label))
    return lines


def _check(goal: Goal, report: GoalReport) -> None:
    if not isinstance(goal, Goal):
        raise InvalidInput("goal", goal, "expected a Goal")
    if not isinstance(report, GoalReport):
        raise InvalidInput("report", report, "expected a GoalReport")
    if report.goal_id != goal.id:
        raise InvalidInput("report.goal_id", report.goal_id, f"not goal {goal.id!r}")


# == plain data ===================================================================


def _exact(value: int | Fraction | None) -> str | None:
    """An exact number as a string: ``"12"`` or ``"1234567/8"``."""
    return None if value is None else str(Fraction(value))


def _amount(goal: Goal, name: str, value: int | Fraction | None) -> dict[str, Any]:
    """A target or value: a number (tickets, or seconds), ISO-8601 text, the exact string."""
    if value is None:
        return {name: None, f"{name}_iso": None, f"{name}_exact": None}
    exact = Fraction(value)
    if goal.kpi.unit is Unit.DURATION:
        iso = format_duration(timedelta(microseconds=round(exact)))
        return {name: float(exact / _US), f"{name}_iso": iso, f"{name}_exact": str(exact)}
    number: int | float = exact.numerator if exact.denominator == 1 else float(exact)
    return {name: number, f"{name}_iso": None, f"{name}_exact": str(exact)}


def contributor_name(
    contributor_id: str | None, kind: str | None, directory: Directory | None
) -> str | None:
    """The name of a user or team in ``directory`` (None when unknown)."""
    if contributor_id is None or directory is None:
        return None
    who: User | Team | None
    who = (
        directory.find_team(contributor_id)
        if kind == "team"
        else directory.find_user(contributor_id)
    )
    return None if who is None else who.name


def line_data(line: Line, directory: Directory | None) -> dict[str, Any]:
    """One row as plain data (the row fields of ``RECORD_FIELDS``)."""
    p = line.progress
    kind = None
    if p.contributor_id is not None:
        kind = next(
            (c.kind.value for c in line.goal.contributors if c.id == p.contributor_id), None
        )
    return {
        "kind": line.kind,
        "contributor_id": p.contributor_id,
        "contributor_kind": kind,
        "contributor_name": contributor_name(p.contributor_id, kind, directory),
        "milestone_index": p.milestone_index,
        "milestone": line.label,
        "start": line.period.start.isoformat(),
        "end": line.period.end.isoformat(),
        **_amount(line.goal, "target", p.target),
        **_amount(line.goal, "value", p.value),
        "tickets": p.measurement.count,
        "total_us": p.measurement.total,
        "attainment": _exact(p.attainment),
        "percent": None if p.percent is None else float(p.percent),
        "percent_text": p.percent_text,
        "infinite": p.infinite,
        "status": p.status.value,
        "status_text": status_text(p),
        "frozen": None if p.frozen is None else p.frozen.value,
        "calculated_at": p.calculated_at.isoformat(),
        **forecast_data(line.goal, line.forecast),
    }


def forecast_data(goal: Goal, row: RowForecast | None) -> dict[str, Any]:
    """A row's forecast and pace as plain data (the ``forecast_*`` ... fields of a record)."""
    if row is None:
        return dict.fromkeys(_FORECAST_FIELDS)
    percent = row.percent
    return {
        "forecast_method": None if row.method is None else row.method.value,
        **_amount(goal, "forecast", row.value),
        "forecast_attainment": _exact(row.attainment),
        "forecast_percent": None if percent is None else float(percent),
        "forecast_percent_text": row.percent_text,
        "forecast_infinite": row.infinite,
        "at_risk": row.at_risk,
        **_amount(goal, "today_target", row.today_target),
        **_amount(goal, "pace_gap", row.pace_gap),
        "no_forecast_reason": None if row.reason is None else row.reason.value,
    }


def goal_data(goal: Goal) -> dict[str, Any]:
    """A goal's fields in the JSON document (without its rows)."""
    return {
        "id": goal.id,
        "name": goal.name,
        "kpi": goal.kpi.key,
        "unit": goal.kpi.unit.value,
        "direction": goal.kpi.direction.value,
        "cadence": goal.cadence.value,
        "align_to_fiscal_year": goal.align_to_fiscal_year,
        "pipelines": sorted(goal.pipelines),
        "start": goal.span.start.isoformat(),
        "end": goal.span.end.isoformat(),
    }


def _goal_columns(goal: Goal) -> dict[str, Any]:
    return {
        "goal_id": goal.id,
        "goal_name": goal.name,
        "kpi": goal.kpi.key,
        "cadence": goal.cadence.value,
        "unit": goal.kpi.unit.value,
    }


def report_records(
    goal: Goal,
    report: GoalReport,
    *,
    directory: Directory | None = None,
    projected: GoalForecast | None = None,
) -> list[dict[str, Any]]:
    """A report's rows as flat dicts of plain values, keys in `RECORD_FIELDS` order.

    Rows come in display order: each contributor's cells and whole goal, then
    each milestone's total.  ``directory`` supplies the contributors' names.
    ``projected`` is the report's forecast, `forecast(goal, report)` unless
    given (pass one to forecast on working time).  Ready for
    ``csv.DictWriter``, ``json.dumps`` or ``pandas.DataFrame``.

    Raises:
        InvalidInput: ``report`` or ``projected`` is not of ``goal``.
    """
    head = _goal_columns(goal) if isinstance(goal, Goal) else {}
    lines = report_lines(goal, report, projected=projected)
    return [{**head, **line_data(line, directory)} for line in lines]


def report_data(
    goal: Goal,
    report: GoalReport,
    *,
    directory: Directory | None = None,
    projected: GoalForecast | None = None,
) -> dict[str, Any]:
    """A goal and its report as one JSON-ready dict: the goal's fields and its ``rows``.

    The same shape as one item of the command's ``--format json`` ``goals`` list.
    """
    lines = report_lines(goal, report, projected=projected)
    return {**goal_data(goal), "rows": [line_data(line, directory) for line in lines]}


# == text for people ==============================================================


def duration_text(us: int | Fraction) -> str:
    """A duration in microseconds for people: ``2d 4h 05m``, ``1h 47m``, ``12m 30s``."""
    seconds = round(Fraction(us) / _US)
    if seconds == 0 and us > 0:
        return "<1s"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def amount_text(goal: Goal, value: int | Fraction | None) -> str:
    """A target or value for people: tickets, or a duration such as ``1h 47m``."""
    if value is None:
        return "–"
    if goal.kpi.unit is Unit.DURATION:
        return duration_text(value)
    if goal.kpi.unit is Unit.PERCENT:  # a share: one decimal is enough to read
        return f"{float(value):.1f}%"
    return str(round(value)) if Fraction(value).denominator != 1 else str(int(value))


def status_text(row: Progress) -> str:
    """``"In progress"``, ``"Missed (inactive)"``, ...: the status as tables show it."""
    text = STATUS_TEXT[row.status]
    if row.frozen is not None and row.frozen.value == "contributor_inactive":
        text += " (inactive)"
    return text


def who_text(line: Line, directory: Directory | None) -> str:
    """The row's contributor for people: a name (or id), ``(team)``, or "All contributors"."""
    p = line.progress
    if line.kind == "total" or p.contributor_id is None:
        return "All contributors"
    kind = line.goal.contributor(p.contributor_id).kind
    who = contributor_name(p.contributor_id, kind.value, directory) or p.contributor_id
    return printable(f"{who} (team)" if kind is ContributorKind.TEAM else who)


def label_text(line: Line) -> str:
    """The milestone column: its label, or "Whole goal"."""
    return "Whole goal" if line.kind == "goal" else printable(line.label or "")


def goal_title(goal: Goal) -> str:
    """``name [id] · KPI · cadence, pipelines ...``, safe to print."""
    pipelines = f", pipelines {', '.join(sorted(goal.pipelines))}" if goal.pipelines else ""
    return printable(
        f"{goal.name} [{goal.id}] · {goal.kpi.label} · {goal.cadence.value}{pipelines}"
    )


# == the command's writers ========================================================


@frozen
class Output:
    """Everything a command prints: goals with their lines, at one time."""

    at: datetime
    sections: tuple[tuple[Goal, tuple[Line, ...]], ...]
    directory: Directory | None


def write_json(out: Output, stream: IO[str]) -> None:
    """The ``--format json`` document (``docs/cli.md``)."""
    data = {
        "version": JSON_VERSION,
        "calculated_at": out.at.isoformat(),
        "goals": [
            {**goal_data(goal), "rows": [line_data(line, out.directory) for line in lines]}
            for goal, lines in out.sections
        ],
    }
    # Control characters as \u escapes: the same strings, harmless in a terminal.
    stream.write(json_safe(json.dumps(data, indent=2, ensure_ascii=False)))
    stream.write("\n")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(out: Output, stream: IO[str]) -> None:
    """The ``--format csv`` table: `RECORD_FIELDS`, one line per row."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(RECORD_FIELDS)
    for goal, lines in out.sections:
        head = _goal_columns(goal)
        for line in lines:
            row = {**head, **line_data(line, out.directory)}
            writer.writerow(_csv_cell(row[k]) for k in RECORD_FIELDS)


_TABLE_COLUMNS = (
    "Contributor",
    "Milestone",
    "Target",
    "Value",
    "Progress",
    "Status",
    "Forecast",
    "Pace",
)
_PREVIOUS = "Previous milestone"
_RIGHT = frozenset({"Target", "Value", "Progress"})
_STATUS_STYLE = {
    Status.PENDING: "dim",
    Status.IN_PROGRESS: "yellow",
    Status.ACHIEVED: "green",
    Status.EXCEEDED: "bold green",
    Status.MISSED: "red",
}


def _columns(lines: Sequence[Line]) -> tuple[str, ...]:
    """The table's columns: a listing with earlier milestones also shows their results."""
    if any(line.previous_label is not None for line in lines):
        return (*_TABLE_COLUMNS, _PREVIOUS)
    return _TABLE_COLUMNS


def _previous_text(line: Line) -> str:
    p = line.previous
    if line.previous_label is None:
        return ""
    label = printable(line.previous_label)
    if p is None:
        return f"{label}: no target"
    return f"{label}: {status_text(p)} {p.percent_text}"


def _table_cells(line: Line, directory: Directory | None) -> tuple[str, ...]:
    p = line.progress
    return (
        who_text(line, directory),
        label_text(line),
        amount_text(line.goal, p.target),
        amount_text(line.goal, p.value),
        p.percent_text,
        status_text(p),
        *forecast_cells(line),
        _previous_text(line),
    )


def forecast_cells(line: Line) -> tuple[str, str]:
    """The "Forecast" and "Pace" cells of a row: ``"36 (120%) at risk"``, ``"10 (-4)"``, "–"."""
    row = line.forecast
    if row is None:
        return "–", "–"
    unit = line.goal.kpi.unit
    # A projected count or today's share of a target is rarely whole: tenths show it.
    amount = duration_text if unit is Unit.DURATION else _tenths
    return forecast_text(row, unit, amount=amount), pace_text(row, unit, amount=amount)


def _tenths(value: Fraction) -> str:
    """A count to a tenth: ``"36"``, ``"1.4"``."""
    return f"{float(round(value, 1)):.1f}".removesuffix(".0")


def write_table(out: Output, stream: IO[str]) -> None:
    """A table per goal: with rich when it is installed, else plain text."""
    if not out.sections:
        stream.write("No goals match.\n")
        return
    if importlib.util.find_spec("rich") is not None:
        _rich_table(out, stream)
    else:
        _plain_table(out, stream)


def _rich_table(out: Output, stream: IO[str]) -> None:
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    terminal = stream.isatty()
    # Files and pipes get room for every column (rich sizes the table to its cells).
    width = None if terminal or "COLUMNS" in os.environ else 200
    console = Console(file=stream, width=width, highlight=False)
    for goal, lines in out.sections:
        columns = _columns(lines)
        table = Table(title=escape(goal_title(goal)), title_justify="left", box=box.SIMPLE_HEAD)
        for column in columns:
            table.add_column(column, justify="right" if column in _RIGHT else "left")
        status = _TABLE_COLUMNS.index("Status")
        at_risk = _TABLE_COLUMNS.index("Forecast")
        for line in lines:
            cells = [escape(c) for c in _table_cells(line, out.directory)[: len(columns)]]
            cells[status] = f"[{_STATUS_STYLE[line.progress.status]}]{cells[status]}[/]"
            if line.forecast is not None and line.forecast.at_risk:
                cells[at_risk] = f"[red]{cells[at_risk]}[/]"
            table.add_row(
                *cells,
                style="bold" if line.kind == "total" else None,
                end_section=line.kind == "goal",
            )
        if terminal:
            console.print(table)
            continue
        with console.capture() as captured:  # no trailing blanks in files and pipes
            console.print(table)
        stream.write("".join(f"{text.rstrip()}\n" for text in captured.get().splitlines()))


def _plain_table(out: Output, stream: IO[str]) -> None:
    for goal, lines in out.sections:
        columns = _columns(lines)
        rows = [columns, *(_table_cells(line, out.directory)[: len(columns)] for line in lines)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(columns))]
        stream.write(goal_title(goal) + "\n")
        for n, row in enumerate(rows):
            cells = [
                c.rjust(w) if columns[i] in _RIGHT else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            stream.write("  ".join(cells).rstrip() + "\n")
            if n == 0:
                stream.write("  ".join("-" * w for w in widths) + "\n")
        stream.write("\n")


WRITERS: dict[str, Callable[[Output, IO[str]], None]] = {
    "table": write_table,
    "json": write_json,
    "csv": write_csv,
}


def sections(pairs: Iterable[tuple[Goal, GoalReport]]) -> tuple[tuple[Goal, tuple[Line, ...]], ...]:
    """Every row of each report, in display order."""
    return tuple((goal, tuple(report_lines(goal, report))) for goal, report in pairs)
