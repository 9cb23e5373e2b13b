"""The ``servicegoals`` command line.

Commands: ``demo`` (a sample workspace), ``evaluate`` (a goal file against a
ticket CSV or database), ``refresh`` (run the tracker on a workspace) and
``goals list``.  A *workspace* is one SQLite file holding the tickets
(:class:`~servicegoals.sources.SqliteSource`), the goals, snapshots and outbox
(:class:`~servicegoals.stores.SqliteStore`) and the account's calendar and
people (the ``workspace`` table, written here).

Every error is one line on stderr and exit code 2; ``docs/cli.md`` documents
the commands and the JSON output.  ``rich`` (extra ``servicegoals[cli]``) draws
tables and progress bars when installed; plain text is the fallback.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import logging
import math
import os
import secrets
import sqlite3
import sys
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Literal, NoReturn, TypeVar

import attrs
from attrs import frozen

from . import __version__
from ._convert import settings_from_dict
from ._errors import InvalidInput, ServiceGoalsError
from ._redact import redact_url
from .calendar import AccountSettings, Cadence, Period, date_range
from .goalfiles import load_goals
from .goals import ContributorKind, Directory, Goal, Team, User
from .kpis import SERVICE_TEMPLATES, Measurement, Unit
from .manage import GoalFilter, MilestoneType, select_goals
from .measure import CellKey, measure
from .notifiers import LoggingNotifier
from .sources import CsvSource, SqliteSource
from .status import GoalReport, Progress, Status, evaluate
from .stores import SqliteStore, open_read_only
from .tracker import RefreshSummary, Tracker

__all__ = ["EXIT_ERROR", "EXIT_INTERNAL", "JSON_VERSION", "main"]

EXIT_ERROR = 2  # bad input: a missing or broken file, a bad option
EXIT_INTERNAL = 1  # a bug in servicegoals (reported without a traceback)
JSON_VERSION = 1  # the "version" of the JSON output documented in docs/cli.md
PROG = "servicegoals"
DEMO_DB = "servicegoals-demo.sqlite"
#: Reading more tickets than this shows a progress bar (on a terminal).
PROGRESS_AFTER = 5_000

T = TypeVar("T")


class UsageError(ServiceGoalsError):
    """A command-line option is missing or wrong (argparse's complaints)."""


# == small parsers ================================================================


def _as_of(text: str) -> datetime:
    """An ``--as-of`` instant: ISO-8601 with a UTC offset; naive ones are refused."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            "--as-of", text, "expected an ISO-8601 date-time such as 2026-05-01T12:00:00+02:00"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput("--as-of", text, "naive date-time: add a UTC offset such as Z or +02:00")
    return value


def _day(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(option, text, "expected a date such as 2026-05-01") from None


def _percent(option: str, text: str) -> Fraction:
    try:
        return Fraction(text.strip().removesuffix("%"))
    except (ValueError, ZeroDivisionError):
        raise InvalidInput(option, text, "expected a number such as 80 or 99.5") from None


def _now() -> datetime:
    return datetime.now(UTC)


def _default(value: T | None, fallback: Callable[[], T]) -> T:
    return fallback() if value is None else value


# == progress on stderr ===========================================================


class _Progress:
    """Counts items streaming by; past ``PROGRESS_AFTER`` it shows a bar on stderr.

    Shown only when stderr is a terminal and ``--quiet`` was not given; drawn
    with rich when it is installed, else as a plain counter line.
    """

    def __init__(self, label: str, *, enabled: bool, total: int | None = None) -> None:
        self.label = label
        self.enabled = enabled and sys.stderr.isatty()
        self.total = total
        self.count = 0
        self._bar: Any = None
        self._task: Any = None
        self._plain = False

    def wrap(self, items: Iterable[T]) -> Iterator[T]:
        """Yield ``items`` unchanged, counting them."""
        if not self.enabled:
            yield from items
            return
        for self.count, item in enumerate(items, 1):
            if self.count % 1000 == 0:
                self._show()
            yield item

    def _show(self) -> None:
        if self.count < PROGRESS_AFTER:
            return
        if self._bar is None and not self._plain:
            self._start()
        if self._bar is not None:
            self._bar.update(self._task, completed=self.count)
        else:
            of = f" of about {self.total:,}" if self.total else ""
            sys.stderr.write(f"\r{self.label}: {self.count:,}{of}")
            sys.stderr.flush()

    def _start(self) -> None:
        if importlib.util.find_spec("rich") is None:
            self._plain = True
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        total = max(self.total, self.count) if self.total else None
        # Without a total (a CSV file) the bar pulses and the count is shown.
        done = MofNCompleteColumn() if total else TextColumn("{task.completed:,.0f}")
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            done,
            TimeElapsedColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(self.label, total=total, completed=self.count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self._plain:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# == output rows ==================================================================

_STATUS_TEXT = {
    Status.PENDING: "Pending",
    Status.IN_PROGRESS: "In progress",
    Status.ACHIEVED: "Achieved",
    Status.EXCEEDED: "Exceeded",
    Status.MISSED: "Missed",
}
_STATUS_STYLE = {
    Status.PENDING: "dim",
    Status.IN_PROGRESS: "yellow",
    Status.ACHIEVED: "green",
    Status.EXCEEDED: "bold green",
    Status.MISSED: "red",
}
#: A cell (one contributor, one milestone), a contributor's whole goal, a milestone's total.
RowKind = Literal["cell", "goal", "total"]


@frozen
class _Line:
    """One output row: a cell, a contributor's whole goal, or a milestone's total."""

    goal: Goal
    kind: RowKind
    progress: Progress
    period: Period
    label: str | None  # the milestone's label (None for a whole-goal row)
    previous: Progress | None = None  # the row of the milestone before (listings only)
    previous_label: str | None = None


def _exact(value: int | Fraction | None) -> str | None:
    """An exact number as a string: ``"12"`` or ``"1234567/8"``."""
    return None if value is None else str(Fraction(value))


def _rounded_percent(row: Progress) -> int | None:
    """The percent rounded down, as tables show it: 100 only once the target is met."""
    percent = row.percent
    return None if percent is None else math.floor(percent)


def _report_lines(
    goal: Goal, report: GoalReport, keep: Callable[[Progress], bool] | None = None
) -> list[_Line]:
    """A report's rows in display order: each contributor's cells and whole goal, then totals.

    ``keep`` selects cell rows (and the whole-goal and total rows that go with them).
    """
    lines: list[_Line] = []
    milestones = report.milestones
    used: set[int] = set()
    for contributor in goal.contributors:
        cells = [r for r in report.rows_of(contributor.id) if keep is None or keep(r)]
        for row in cells:
            assert row.milestone_index is not None
            m = milestones[row.milestone_index]
            used.add(m.index)
            lines.append(_Line(goal, "cell", row, m.period, m.label))
        if cells:  # the whole goal spans every targeted milestone, kept or not
            own = [r.milestone_index for r in report.rows_of(contributor.id)]
            first, last = milestones[own[0] or 0], milestones[own[-1] or 0]
            span = Period(first.period.start, last.period.end)
            lines.append(_Line(goal, "goal", report.whole_goal(contributor.id), span, None))
    for row in report.milestone_rows:
        assert row.milestone_index is not None
        if row.milestone_index in used:
            m = milestones[row.milestone_index]
            lines.append(_Line(goal, "total", row, m.period, m.label))
    return lines


def _line_dict(line: _Line, directory: Directory | None) -> dict[str, Any]:
    """One row of the JSON output (``docs/cli.md`` documents every field)."""
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
        "contributor_name": _name(p.contributor_id, kind, directory),
        "milestone_index": p.milestone_index,
        "milestone": line.label,
        "start": line.period.start.isoformat(),
        "end": line.period.end.isoformat(),
        "target": _exact(p.target),
        "value": _exact(p.value),
        "tickets": p.measurement.count,
        "total_us": p.measurement.total,
        "attainment": _exact(p.attainment),
        "percent": _rounded_percent(p),
        "infinite": p.infinite,
        "status": p.status.value,
        "frozen": None if p.frozen is None else p.frozen.value,
        "calculated_at": p.calculated_at.isoformat(),
    }


def _goal_dict(goal: Goal) -> dict[str, Any]:
    return {
        "id": goal.id,
        "name": goal.name,
        "template": goal.kpi.key,
        "unit": goal.kpi.unit.value,
        "direction": goal.kpi.direction.value,
        "cadence": goal.cadence.value,
        "align_to_fiscal_year": goal.align_to_fiscal_year,
        "pipelines": sorted(goal.pipelines),
        "start": goal.span.start.isoformat(),
        "end": goal.span.end.isoformat(),
    }


def _name(contributor_id: str | None, kind: str | None, directory: Directory | None) -> str | None:
    if contributor_id is None or directory is None:
        return None
    who: User | Team | None
    who = directory.team(contributor_id) if kind == "team" else directory.user(contributor_id)
    return None if who is None else who.name


CSV_HEADER = (
    "goal_id",
    "goal_name",
    "template",
    "cadence",
    "kind",
    "contributor_id",
    "contributor_kind",
    "contributor_name",
    "milestone_index",
    "milestone",
    "start",
    "end",
    "target",
    "value",
    "tickets",
    "total_us",
    "attainment",
    "percent",
    "infinite",
    "status",
    "frozen",
    "calculated_at",
)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _duration_text(us: int | Fraction) -> str:
    """A duration in microseconds for people: ``2d 4h 05m``, ``1h 47m``, ``12m 30s``."""
    seconds = round(Fraction(us) / 1_000_000)
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


def _amount_text(goal: Goal, value: int | Fraction | None) -> str:
    if value is None:
        return "–"
    if goal.kpi.unit is Unit.DURATION:
        return _duration_text(value)
    return str(round(value)) if Fraction(value).denominator != 1 else str(int(value))


def _status_text(row: Progress) -> str:
    text = _STATUS_TEXT[row.status]
    if row.frozen is not None and row.frozen.value == "contributor_inactive":
        text += " (inactive)"
    return text


# == writers ======================================================================


@frozen
class _Output:
    """Everything a command prints: goals with their lines, at one time."""

    at: datetime
    sections: tuple[tuple[Goal, tuple[_Line, ...]], ...]
    directory: Directory | None


def _write_json(out: _Output, stream: IO[str]) -> None:
    data = {
        "version": JSON_VERSION,
        "calculated_at": out.at.isoformat(),
        "goals": [
            {**_goal_dict(goal), "rows": [_line_dict(line, out.directory) for line in lines]}
            for goal, lines in out.sections
        ],
    }
    json.dump(data, stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def _write_csv(out: _Output, stream: IO[str]) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for goal, lines in out.sections:
        head = (goal.id, goal.name, goal.kpi.key, goal.cadence.value)
        for line in lines:
            row = _line_dict(line, out.directory)
            writer.writerow((*head, *(_csv_cell(row[k]) for k in CSV_HEADER[len(head) :])))


_TABLE_COLUMNS = ("Contributor", "Milestone", "Target", "Value", "Progress", "Status")
_PREVIOUS = "Previous milestone"
_RIGHT = frozenset({"Target", "Value", "Progress"})


def _columns(lines: Sequence[_Line]) -> tuple[str, ...]:
    """The table's columns: a listing with earlier milestones also shows their results."""
    if any(line.previous_label is not None for line in lines):
        return (*_TABLE_COLUMNS, _PREVIOUS)
    return _TABLE_COLUMNS


def _previous_text(line: _Line) -> str:
    p = line.previous
    if line.previous_label is None:
        return ""
    if p is None:
        return f"{line.previous_label}: no target"
    return f"{line.previous_label}: {_status_text(p)} {p.percent_text}"


def _table_cells(line: _Line, directory: Directory | None) -> tuple[str, ...]:
    p = line.progress
    if line.kind == "total":
        who = "All contributors"
    else:
        assert p.contributor_id is not None
        kind = line.goal.contributor(p.contributor_id).kind
        name = _name(p.contributor_id, kind.value, directory)
        who = name or p.contributor_id
        if kind is ContributorKind.TEAM:
            who += " (team)"
    label = "Whole goal" if line.kind == "goal" else line.label or ""
    return (
        who,
        label,
        _amount_text(line.goal, p.target),
        _amount_text(line.goal, p.value),
        p.percent_text,
        _status_text(p),
        _previous_text(line),
    )


def _title(goal: Goal) -> str:
    pipelines = f", pipelines {', '.join(sorted(goal.pipelines))}" if goal.pipelines else ""
    return f"{goal.name} [{goal.id}] · {goal.kpi.label} · {goal.cadence.value}{pipelines}"


def _write_table(out: _Output, stream: IO[str]) -> None:
    if not out.sections:
        stream.write("No goals match.\n")
        return
    if importlib.util.find_spec("rich") is not None:
        _rich_table(out, stream)
    else:
        _plain_table(out, stream)


def _rich_table(out: _Output, stream: IO[str]) -> None:
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    terminal = stream.isatty()
    width = None if terminal or "COLUMNS" in os.environ else 120
    console = Console(file=stream, width=width, highlight=False)
    for goal, lines in out.sections:
        columns = _columns(lines)
        table = Table(title=escape(_title(goal)), title_justify="left", box=box.SIMPLE_HEAD)
        for column in columns:
            table.add_column(column, justify="right" if column in _RIGHT else "left")
        status = _TABLE_COLUMNS.index("Status")
        for line in lines:
            cells = [escape(c) for c in _table_cells(line, out.directory)[: len(columns)]]
            cells[status] = f"[{_STATUS_STYLE[line.progress.status]}]{cells[status]}[/]"
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


def _plain_table(out: _Output, stream: IO[str]) -> None:
    for goal, lines in out.sections:
        columns = _columns(lines)
        rows = [columns, *(_table_cells(line, out.directory)[: len(columns)] for line in lines)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(columns))]
        stream.write(_title(goal) + "\n")
        for n, row in enumerate(rows):
            cells = [
                c.rjust(w) if columns[i] in _RIGHT else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            stream.write("  ".join(cells).rstrip() + "\n")
            if n == 0:
                stream.write("  ".join("-" * w for w in widths) + "\n")
        stream.write("\n")


_WRITERS = {"table": _write_table, "json": _write_json, "csv": _write_csv}


# == goal filters =================================================================


def _add_filters(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters (a goal is listed when one of its rows matches)")
    add = group.add_argument
    add("--from", dest="from_day", metavar="DATE", help="milestones ending after DATE")
    add("--to", dest="to_day", metavar="DATE", help="milestones starting on or before DATE")
    add("--template", action="append", choices=sorted(SERVICE_TEMPLATES), help="goal template")
    add("--name", help="a part of the goal's name (case-insensitive)")
    add(
        "--duration",
        action="append",
        choices=[c.value for c in Cadence],
        help="the goal's duration (cadence)",
    )
    add(
        "--milestone-type",
        action="append",
        choices=[t.value for t in MilestoneType],
        help="the kind of milestones (fiscal_quarter, ...)",
    )
    add("--user", action="append", metavar="ID", help="rows of this user contributor")
    add("--team", action="append", metavar="ID", help="rows of this team (and its members)")
    add("--pipeline", action="append", metavar="NAME", help="rows counting this pipeline")
    add("--status", action="append", choices=[s.value for s in Status], help="row status")
    add("--min-progress", metavar="PERCENT", help="progress at least PERCENT")
    add("--max-progress", metavar="PERCENT", help="progress at most PERCENT")
    add(
        "--timezone",
        metavar="ZONE",
        help="IANA time zone of --from/--to dates (default: the goal file's or workspace's)",
    )


def _goal_filter(args: argparse.Namespace, settings: AccountSettings | None) -> GoalFilter:
    """The :class:`GoalFilter` that the filter options describe."""
    if args.timezone is not None:
        try:
            settings = AccountSettings(timezone=args.timezone)
        except InvalidInput as exc:
            raise InvalidInput("--timezone", args.timezone, exc.reason) from None
    settings = settings or AccountSettings()
    period = None
    if args.from_day is not None or args.to_day is not None:
        first = _day("--from", args.from_day) if args.from_day else date(1900, 1, 1)
        last = _day("--to", args.to_day) if args.to_day else date(9998, 12, 31)
        if last < first:
            raise InvalidInput("--to", args.to_day, f"is before --from {args.from_day}")
        period = date_range(first, last, settings)
    low = None if args.min_progress is None else _percent("--min-progress", args.min_progress)
    high = None if args.max_progress is None else _percent("--max-progress", args.max_progress)
    if low is not None and high is not None and high < low:
        raise InvalidInput("--max-progress", args.max_progress, f"is below --min-progress {low}")
    return GoalFilter(
        period=period,
        templates=args.template or (),
        name=args.name,
        cadences=args.duration or (),
        milestone_types=args.milestone_type or (),
        users=args.user or (),
        teams=args.team or (),
        pipelines=args.pipeline or (),
        statuses=args.status or (),
        min_percent=low,
        max_percent=high,
    )


# == ticket sources ================================================================

_SQLITE_MAGIC = b"SQLite format 3\x00"


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return False


def _sqlite_path(url: str) -> Path | None:
    """The file of an ``sqlite:///path`` URL (None for other URLs)."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in ("sqlite", "sqlite3"):
        return None
    if not rest.startswith("/") or rest == "/":
        raise InvalidInput(
            "--tickets", redact_url(url), "expected sqlite:///relative/path or sqlite:////abs"
        )
    return Path(rest[1:])


def _measure_tickets(
    spec: str, goals: Sequence[Goal], args: argparse.Namespace, at: datetime
) -> dict[CellKey, Measurement]:
    """Measure ``goals`` as of ``at`` from a CSV file, an SQLite file or a database URL."""
    if "://" in spec:
        path = _sqlite_path(spec)
        if path is None:
            return _measure_url(spec, goals, at)
        _must_exist("--tickets", path)
        return SqliteSource(path).measure(goals, at=at)
    path = Path(spec)
    _must_exist("--tickets", path)
    if _is_sqlite(path):
        return SqliteSource(path).measure(goals, at=at)
    source = CsvSource(path, on_error="skip" if args.skip_bad_rows else "raise")
    with _Progress("reading tickets", enabled=not args.quiet) as progress:
        measured = measure(goals, progress.wrap(source.tickets()), at=at)
    if source.skipped:
        _, message = source.skipped[0]
        _warn(f"skipped {source.skipped_count} bad row(s); the first: {message}")
    return measured


def _measure_url(url: str, goals: Sequence[Goal], at: datetime) -> dict[CellKey, Measurement]:
    if importlib.util.find_spec("sqlalchemy") is None:
        raise InvalidInput(
            "--tickets",
            redact_url(url),
            "a database URL needs the extra: pip install 'servicegoals[sql]'",
        )
    from .sql import SqlAlchemySource

    with SqlAlchemySource(url) as source:
        return source.measure(goals, at=at)


def _must_exist(option: str, path: Path) -> None:
    if not path.exists():
        raise InvalidInput(option, str(path), "no such file")
    if path.is_dir():
        raise InvalidInput(option, str(path), "is a directory, not a file")


# == workspaces ===================================================================

_WORKSPACE_SCHEMA = """
CREATE TABLE IF NOT EXISTS workspace (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL
)
"""


@frozen
class Workspace:
    """A workspace file's calendar and people, and its kind (``"demo"`` or ``"custom"``)."""

    path: Path
    settings: AccountSettings
    directory: Directory
    kind: str


def _directory_dict(directory: Directory) -> dict[str, Any]:
    return {
        "users": [
            {
                "id": u.id,
                "name": u.name,
                "email": u.email,
                "active": u.active,
                "team_ids": sorted(u.team_ids),
            }
            for u in directory.users
        ],
        "teams": [{"id": t.id, "name": t.name, "parent_id": t.parent_id} for t in directory.teams],
    }


def _directory_from(where: str, data: Any) -> Directory:
    try:
        users = [User(**u) for u in data["users"]]
        teams = [Team(**t) for t in data["teams"]]
    except (KeyError, TypeError) as exc:
        raise InvalidInput(where, data, f"not a directory: {exc}") from None
    return Directory(users, teams)


def write_workspace(path: Path, settings: AccountSettings, directory: Directory, kind: str) -> None:
    """Record the account's calendar and people in the workspace file at ``path``."""
    rows = {
        "kind": kind,
        "account": {
            "timezone": settings.timezone,
            "fiscal_year_start_month": settings.fiscal_year_start_month,
            "week_start": settings.week_start.name.lower(),
        },
        "directory": _directory_dict(directory),
    }
    with sqlite3.connect(path) as db:
        db.execute(_WORKSPACE_SCHEMA)
        db.executemany(
            "INSERT OR REPLACE INTO workspace (key, data) VALUES (?, ?)",
            [(key, json.dumps(value, sort_keys=True)) for key, value in rows.items()],
        )
    db.close()


def read_workspace(path: Path) -> Workspace:
    """The calendar and people of the workspace file at ``path``."""
    _must_exist("--db", path)
    not_one = f"not a servicegoals workspace (create one with '{PROG} demo --db PATH')"
    if not _is_sqlite(path):
        raise InvalidInput("--db", str(path), not_one)
    try:
        db = open_read_only(path)  # also reads a WAL file in a folder we cannot write
        try:
            found = dict(db.execute("SELECT key, data FROM workspace").fetchall())
        finally:
            db.close()
    except sqlite3.Error:
        raise InvalidInput("--db", str(path), not_one) from None
    try:
        account = json.loads(found["account"])
        settings = AccountSettings(**account)
        directory = _directory_from(f"{path}: workspace.directory", json.loads(found["directory"]))
        kind = json.loads(found["kind"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("--db", str(path), f"a damaged workspace table: {exc}") from None
    return Workspace(path, settings, directory, kind)


def _tracker(stack: ExitStack, workspace: Workspace) -> Tracker:
    store = stack.enter_context(SqliteStore(workspace.path))
    store.require_writable()  # a refresh writes: say so before the source fails to open
    notifier = LoggingNotifier(channel="log")
    return Tracker(store, SqliteSource(workspace.path), [notifier], workspace.directory)


# == commands ======================================================================


def _current_index(goal: Goal, at: datetime) -> int:
    """The milestone that contains ``at``, or the nearest one when ``at`` is outside."""
    for m in goal.milestones:
        if at < m.period.end:
            return m.index
    return len(goal.milestones) - 1


def _current_lines(
    goal: Goal, report: GoalReport, index: int, rows: Iterable[Progress] | None
) -> list[_Line]:
    """The lines of milestone ``index``: a row per contributor and the total.

    With ``rows`` (a filter's matching rows) only their contributors are shown.
    """
    who = None if rows is None else {r.contributor_id for r in rows}

    def keep(row: Progress) -> bool:
        return row.milestone_index == index and (who is None or row.contributor_id in who)

    lines = [line for line in _report_lines(goal, report, keep) if line.kind != "goal"]
    if index == 0:
        return lines
    before = report.milestones[index - 1]
    return [
        attrs.evolve(line, previous=_previous(report, line, index - 1), previous_label=before.label)
        for line in lines
    ]


def _previous(report: GoalReport, line: _Line, index: int) -> Progress | None:
    """The row of milestone ``index`` that matches ``line``'s contributor (or total)."""
    cid = line.progress.contributor_id
    if cid is not None:
        return report.find(cid, index)
    return next((r for r in report.milestone_rows if r.milestone_index == index), None)


def _listing(
    store: SqliteStore,
    workspace: Workspace,
    at: datetime,
    goal_filter: GoalFilter,
) -> _Output:
    goals = store.goals()
    reports = [r for g in goals if (r := store.report(g.id, as_of=at)) is not None]
    matches = select_goals(goals, reports, goal_filter, directory=workspace.directory)
    sections = []
    for match in matches:
        if match.report is None:
            continue  # not calculated yet: nothing to show
        index = _current_index(match.goal, at)
        rows = None
        if goal_filter.has_row_criteria:  # the filter picks among the current rows
            rows = [r for r in match.rows if r.milestone_index == index]
            if not rows:
                continue
        lines = _current_lines(match.goal, match.report, index, rows)
        if lines:
            sections.append((match.goal, tuple(lines)))
    return _Output(at, tuple(sections), workspace.directory)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import DEFAULT_SEED, build_account

    at = _default(args.as_of, _now)
    target = Path(args.db)
    if target.exists() and read_kind(target) != "demo":
        raise InvalidInput(
            "--db", str(target), "exists and is not a demo workspace; choose another path"
        )
    account = build_account(at, seed=DEFAULT_SEED if args.seed is None else args.seed)
    # Build beside the target and rename it into place: a failure never leaves a
    # half-built workspace, and re-running replaces the previous demo whole.
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        source = SqliteSource.create(temp)
        with _Progress(
            "generating tickets", enabled=not args.quiet, total=account.estimated_tickets
        ) as progress:
            count = source.add_tickets(progress.wrap(account.tickets()))
        write_workspace(temp, account.settings, account.directory, "demo")
        workspace = read_workspace(temp)
        with ExitStack() as stack:
            tracker = _tracker(stack, workspace)
            for goal in account.goals:
                tracker.store.save_goal(goal)
            summary = tracker.refresh(at, force=True)
        _remove_sqlite(target)
        os.replace(temp, target)
    finally:
        _remove_sqlite(temp)
    if not args.quiet:
        _note(f"demo workspace {target}: {count:,} tickets, {len(account.goals)} goals")
        _note(_summary_text(summary))
    with ExitStack() as stack:
        store = stack.enter_context(SqliteStore(target))
        output = _listing(store, read_workspace(target), at, GoalFilter())
    _write_table(output, sys.stdout)
    return 0


def read_kind(path: Path) -> str | None:
    """A workspace file's kind, or None when ``path`` is not a workspace."""
    try:
        return read_workspace(path).kind
    except InvalidInput:
        return None


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _summary_text(summary: RefreshSummary) -> str:
    if summary.skipped:
        head = f"refresh at {summary.at.isoformat()} skipped: the interval has not passed"
    else:
        head = f"refreshed {len(summary.reports)} goal(s) at {summary.at.isoformat()}"
    d = summary.delivery
    return (
        f"{head}; {summary.enqueued} notification(s) queued, {d.delivered} delivered, "
        f"{d.failed} to retry, {d.dead} undeliverable"
    )


def _file_settings(path: Path) -> AccountSettings | None:
    """The ``[account]`` table of a goal file that :func:`load_goals` has accepted."""
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    account = data.get("account")
    return None if account is None else settings_from_dict(account)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    at = _default(args.as_of, _now)
    goals = load_goals(args.goals)
    goal_filter = _goal_filter(args, _file_settings(Path(args.goals)))
    measured = _measure_tickets(args.tickets, goals, args, at)
    reports = [evaluate(goal, measured, at=at) for goal in goals]
    sections = []
    for match in select_goals(goals, reports, goal_filter):
        assert match.report is not None
        keep = _one_of(match.rows) if goal_filter.has_row_criteria else None
        lines = _report_lines(match.goal, match.report, keep)
        sections.append((match.goal, tuple(lines)))
    _WRITERS[args.format](_Output(at, tuple(sections), None), sys.stdout)
    return 0


def _one_of(rows: Iterable[Progress]) -> Callable[[Progress], bool]:
    """A test for the cells of ``rows`` (a filter's matching rows)."""
    wanted = {(r.contributor_id, r.milestone_index) for r in rows}
    return lambda row: (row.contributor_id, row.milestone_index) in wanted


def _cmd_refresh(args: argparse.Namespace) -> int:
    workspace = read_workspace(Path(args.db))
    at = _default(args.as_of, _now)
    with ExitStack() as stack:
        tracker = _tracker(stack, workspace)
        summary = tracker.refresh(at, force=args.force)
    print(_summary_text(summary))
    return 0


def _cmd_goals_list(args: argparse.Namespace) -> int:
    workspace = read_workspace(Path(args.db))
    goal_filter = _goal_filter(args, workspace.settings)
    with ExitStack() as stack:
        store = stack.enter_context(SqliteStore(workspace.path))
        at = args.as_of or store.last_refresh() or _now()
        output = _listing(store, workspace, at, goal_filter)
    _WRITERS[args.format](output, sys.stdout)
    return 0


# == the parser ====================================================================


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (raised, printed by :func:`main`)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _as_of_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--as-of",
        type=_checked(_as_of),
        metavar="ISO",
        help=f"{what}: an ISO-8601 date-time with an offset (default: now)",
    )


def _checked(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type whose InvalidInput is reported by main() as is."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except InvalidInput as exc:
            raise _OptionError(exc) from None

    convert.__name__ = parse.__name__.lstrip("_")
    return convert


class _OptionError(Exception):
    def __init__(self, error: InvalidInput) -> None:
        super().__init__(str(error))
        self.error = error


def _quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar or notes")


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=sorted(_WRITERS), default="table", help="output format (table)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``servicegoals`` command."""
    parser = _Parser(
        prog=PROG,
        description="Service goals for helpdesk tools: evaluate goals against tickets.",
        epilog="Documentation: https://servicegoals.readthedocs.io/en/latest/cli/",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="log notifications and details to stderr"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="build a sample workspace, refresh it and print the status table",
        description="Build an embedded SQLite workspace with a sample account, refresh it "
        "and print the status of every goal's current milestone.",
    )
    demo.add_argument(
        "--db",
        default=DEMO_DB,
        metavar="PATH",
        help=f"the workspace file (default ./{DEMO_DB}; an earlier demo there is replaced)",
    )
    _as_of_option(demo, "the demo's 'now'")
    demo.add_argument("--seed", type=int, help="seed of the generated tickets")
    _quiet(demo)
    demo.set_defaults(run=_cmd_demo)

    ev = commands.add_parser(
        "evaluate",
        help="evaluate a goal file against tickets",
        description="Evaluate the goals of a TOML or JSON goal file against tickets in a CSV "
        "file, an SQLite file or a database URL; print one row per contributor and "
        "milestone, each contributor's whole goal and each milestone's total.",
    )
    ev.add_argument("--goals", required=True, metavar="FILE", help="goal file (.toml or .json)")
    ev.add_argument(
        "--tickets",
        required=True,
        metavar="SOURCE",
        help="tickets: a CSV file, an SQLite file, or a database URL (sqlite:///..., "
        "postgresql+psycopg://...)",
    )
    _as_of_option(ev, "the calculation time")
    _format_option(ev)
    ev.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="skip unreadable CSV rows (reported on stderr) instead of failing",
    )
    _quiet(ev)
    _add_filters(ev)
    ev.set_defaults(run=_cmd_evaluate)

    refresh = commands.add_parser(
        "refresh",
        help="run the tracker on a workspace",
        description="Refresh every goal of a workspace (when the 24-hour refresh interval has "
        "passed, or with --force), store the snapshots and deliver notifications.",
    )
    refresh.add_argument("--db", required=True, metavar="PATH", help="the workspace file")
    _as_of_option(refresh, "the refresh time")
    refresh.add_argument(
        "--force", action="store_true", help="refresh even if the interval has not passed"
    )
    refresh.set_defaults(run=_cmd_refresh)

    goals = commands.add_parser("goals", help="list a workspace's goals")
    goals_commands = goals.add_subparsers(dest="goals_command", metavar="COMMAND", required=True)
    listing = goals_commands.add_parser(
        "list",
        help="list goals with the current milestone's status",
        description="List a workspace's goals with the status of the milestone that contains "
        "--as-of (default: the last refresh), as stored by the last refresh at or before it.",
    )
    listing.add_argument("--db", required=True, metavar="PATH", help="the workspace file")
    _as_of_option(listing, "show the status as of this time")
    _format_option(listing)
    _add_filters(listing)
    listing.set_defaults(run=_cmd_goals_list)
    return parser


# == main ==========================================================================


def _note(message: str) -> None:
    print(message, file=sys.stderr)


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _os_error(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, or 2 for any bad input)."""
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except _OptionError as exc:
            raise exc.error from None
        except SystemExit as exc:  # --help and --version
            return exc.code if isinstance(exc.code, int) else 0
        if args.verbose:
            logging.basicConfig(level=logging.INFO, format=f"{PROG}: %(message)s")
        code: int = args.run(args)
        sys.stdout.flush()
        return code
    except (ServiceGoalsError, OSError) as exc:
        if isinstance(exc, BrokenPipeError):  # `servicegoals ... | head`
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the interpreter closes it
            return 0
        message = _os_error(exc) if isinstance(exc, OSError) else str(exc)
        print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, with a way to get the traceback
        if os.environ.get("SERVICEGOALS_DEBUG"):
            raise
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
            "(set SERVICEGOALS_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
