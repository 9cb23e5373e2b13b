"""The ``servicegoals`` command line.

Commands: ``demo`` (a sample workspace), ``init`` (a workspace of your own
goals and tickets), ``evaluate`` (a goal file against a ticket CSV or
database), ``refresh`` (run the tracker on a workspace), ``goals list`` and
``report`` (every row, as a table, JSON, CSV or an HTML page).  Workspaces live
in `servicegoals.workspace`, the renderers in `servicegoals.export` and
`servicegoals.htmlreport`.

Every error is one line on stderr and exit code 2; ``docs/cli.md`` documents
the commands and the JSON output.  ``rich`` (extra ``servicegoals[cli]``) draws
tables and progress bars when installed; plain text is the fallback.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import attrs

from . import __version__
from ._text import printable
from .calendar import AccountSettings, Cadence, date_range
from .errors import InvalidInput, ServiceGoalsError
from .export import (
    JSON_VERSION,
    RECORD_FIELDS,
    WRITERS,
    Line,
    Output,
    report_lines,
    sections,
    write_table,
)
from .goalfiles import GoalFile, load_goal_file
from .goals import Directory, Goal
from .kpis import KPI_TEMPLATES, Measurement, Ticket
from .manage import GoalFilter, MilestoneType, select_goals
from .measure import CellKey, measure
from .notifiers import LoggingNotifier
from .sources import AggregatingSource, CsvSource, SqliteSource
from .status import GoalReport, Progress, Status, evaluate
from .stores import SqliteStore
from .tracker import RefreshSummary, Tracker
from .workspace import (
    Workspace,
    create_workspace,
    open_tickets,
    read_kind,
    read_workspace,
    remove_sqlite,
    temp_beside,
    writable_target,
    write_workspace,
)

__all__ = ["CSV_HEADER", "EXIT_ERROR", "EXIT_INTERNAL", "JSON_VERSION", "main"]

EXIT_ERROR = 2  # bad input: a missing or broken file, a bad option
EXIT_INTERNAL = 1  # a bug in servicegoals (reported without a traceback)
CSV_HEADER = RECORD_FIELDS  # the header of the CSV output documented in docs/cli.md
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
    """Counts items streaming by; past ``after`` of them it shows a bar on stderr.

    Shown only when stderr is a terminal and ``--quiet`` was not given; drawn
    with rich when it is installed, else as a plain counter line.  `wrap`
    counts an iterable (redrawn every thousand items); `update` is for work
    that reports its own progress, such as the tracker's ``on_goal``.
    """

    def __init__(
        self, label: str, *, enabled: bool, total: int | None = None, after: int = PROGRESS_AFTER
    ) -> None:
        self.label = label
        self.enabled = enabled and sys.stderr.isatty()
        self.total = total
        self.after = after
        self.exact = False  # a total given by `update` is exact; a constructor's, an estimate
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

    def update(self, done: int, total: int) -> None:
        """``done`` of ``total`` items are done."""
        if self.enabled:
            self.count, self.total, self.exact = done, total, True
            self._show()

    def _show(self) -> None:
        if self.count < self.after:
            return
        if self._bar is None and not self._plain:
            self._start()
        if self._bar is not None:
            self._bar.update(self._task, completed=self.count)
        else:
            about = "" if self.exact else "about "
            of = f" of {about}{self.total:,}" if self.total else ""
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


# == goal filters =================================================================


def _add_filters(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters (a goal is listed when one of its rows matches)")
    add = group.add_argument
    add("--from", dest="from_day", metavar="DATE", help="milestones ending after DATE")
    add("--to", dest="to_day", metavar="DATE", help="milestones starting on or before DATE")
    add("--kpi", action="append", choices=sorted(KPI_TEMPLATES), help="the goal's KPI")
    add("--name", help="a part of the goal's name (case-insensitive)")
    add(
        "--cadence",
        action="append",
        choices=[c.value for c in Cadence],
        help="the goal's cadence (the product's 'duration')",
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
    """The `GoalFilter` that the filter options describe."""
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
        kpis=args.kpi or (),
        name=args.name,
        cadences=args.cadence or (),
        milestone_types=args.milestone_type or (),
        users=args.user or (),
        teams=args.team or (),
        pipelines=args.pipeline or (),
        statuses=args.status or (),
        min_percent=low,
        max_percent=high,
    )


# == commands ======================================================================


def _tracker(
    stack: ExitStack, workspace: Workspace, on_goal: Callable[[int, int], None] | None = None
) -> Tracker:
    store = stack.enter_context(SqliteStore(workspace.path))
    store.require_writable()  # a refresh writes: say so before the source fails to open
    notifier = LoggingNotifier(channel="log")
    source = SqliteSource(workspace.path)
    return Tracker(store, source, [notifier], workspace.directory, on_goal=on_goal)


def _people(directory: Directory) -> Directory | None:
    """None for an account without people: then everyone counts as active."""
    return directory if directory.users or directory.teams else None


def _current_index(goal: Goal, at: datetime) -> int:
    """The milestone that contains ``at``, or the nearest one when ``at`` is outside."""
    for m in goal.milestones:
        if at < m.period.end:
            return m.index
    return len(goal.milestones) - 1


def _current_lines(
    goal: Goal, report: GoalReport, index: int, rows: Iterable[Progress] | None
) -> list[Line]:
    """The lines of milestone ``index``: a row per contributor and the total.

    With ``rows`` (a filter's matching rows) only their contributors are shown.
    """
    who = None if rows is None else {r.contributor_id for r in rows}

    def keep(row: Progress) -> bool:
        return row.milestone_index == index and (who is None or row.contributor_id in who)

    lines = [line for line in report_lines(goal, report, keep) if line.kind != "goal"]
    if index == 0:
        return lines
    before = report.milestones[index - 1]
    return [
        attrs.evolve(line, previous=_previous(report, line, index - 1), previous_label=before.label)
        for line in lines
    ]


def _previous(report: GoalReport, line: Line, index: int) -> Progress | None:
    """The row of milestone ``index`` that matches ``line``'s contributor (or total)."""
    cid = line.progress.contributor_id
    if cid is not None:
        return report.find_row(cid, index)
    return next((r for r in report.milestone_rows if r.milestone_index == index), None)


def _listing(
    store: SqliteStore,
    workspace: Workspace,
    at: datetime,
    goal_filter: GoalFilter,
) -> Output:
    goals = store.goals()
    reports = [r for g in goals if (r := store.find_report(g.id, as_of=at)) is not None]
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
    return Output(at, tuple(sections), workspace.directory)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import DEFAULT_SEED, build_account

    at = _default(args.as_of, _now)
    target = Path(args.db)
    writable_target("--db", target)
    if target.exists() and read_kind(target) != "demo":
        raise InvalidInput(
            "--db", str(target), "exists and is not a demo workspace; choose another path"
        )
    account = build_account(at, seed=DEFAULT_SEED if args.seed is None else args.seed)
    # Build beside the target and rename it into place: a failure never leaves a
    # half-built workspace, and re-running replaces the previous demo whole.
    temp = temp_beside(target)
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
        remove_sqlite(target)
        os.replace(temp, target)
    finally:
        remove_sqlite(temp)
    if not args.quiet:
        _note(f"demo workspace {target}: {count:,} tickets, {len(account.goals)} goals")
        _note(_summary_text(summary))
    with ExitStack() as stack:
        store = stack.enter_context(SqliteStore(target))
        output = _listing(store, read_workspace(target), at, GoalFilter())
    write_table(output, sys.stdout)
    return 0


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


def _read_tickets(source: CsvSource, args: argparse.Namespace) -> Iterator[Ticket]:
    """A CSV file's tickets, with a progress bar on a terminal and skipped rows reported."""
    with _Progress("reading tickets", enabled=not args.quiet) as progress:
        yield from progress.wrap(source.tickets())
    if source.skipped:
        _, message = source.skipped[0]
        _warn(f"skipped {source.skipped_count} bad row(s); the first: {message}")


def _measure_tickets(
    spec: str,
    goals: Sequence[Goal],
    args: argparse.Namespace,
    directory: Directory | None,
    at: datetime,
) -> dict[CellKey, Measurement]:
    """Measure ``goals`` as of ``at`` from a CSV file, an SQLite file or a database URL."""
    with open_tickets(
        spec, skip_bad_rows=args.skip_bad_rows, properties=_reads_properties(goals)
    ) as source:
        if isinstance(source, CsvSource):
            return measure(goals, _read_tickets(source, args), directory=directory, at=at)
        assert isinstance(source, AggregatingSource)
        return source.measure(goals, directory=directory, at=at)


def _reads_properties(goals: Iterable[Goal]) -> bool:
    """True when a goal's KPI reads ticket properties: a CSV's extra columns are then
    read as properties (else they are ignored, so columns of any name may be there)."""
    return any(goal.kpi.property_names for goal in goals)


def _evaluated(args: argparse.Namespace, at: datetime) -> tuple[GoalFile, list[GoalReport]]:
    """The goal file ``--goals`` and its reports at ``at`` on the tickets of ``--tickets``."""
    found = load_goal_file(args.goals)
    directory = _people(found.directory)
    measured = _measure_tickets(args.tickets, found.goals, args, directory, at)
    reports = [evaluate(g, measured, at=at, directory=directory) for g in found.goals]
    return found, reports


def _cmd_evaluate(args: argparse.Namespace) -> int:
    at = _default(args.as_of, _now)
    found, reports = _evaluated(args, at)
    goal_filter = _goal_filter(args, found.settings)
    sections = []
    for match in select_goals(found.goals, reports, goal_filter, directory=found.directory):
        assert match.report is not None
        keep = _one_of(match.rows) if goal_filter.has_row_criteria else None
        lines = report_lines(match.goal, match.report, keep)
        sections.append((match.goal, tuple(lines)))
    WRITERS[args.format](Output(at, tuple(sections), found.directory), sys.stdout)
    return 0


def _one_of(rows: Iterable[Progress]) -> Callable[[Progress], bool]:
    """A test for the cells of ``rows`` (a filter's matching rows)."""
    wanted = {(r.contributor_id, r.milestone_index) for r in rows}
    return lambda row: (row.contributor_id, row.milestone_index) in wanted


def _cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.db)
    writable_target("--db", target)
    found = None if args.goals is None else load_goal_file(args.goals)
    with ExitStack() as stack:
        tickets: Iterable[Ticket] | None = None
        if args.tickets is not None:
            source = stack.enter_context(
                open_tickets(
                    args.tickets,
                    skip_bad_rows=args.skip_bad_rows,
                    properties=found is not None and _reads_properties(found.goals),
                )
            )
            if isinstance(source, CsvSource):
                tickets = _read_tickets(source, args)
            else:
                tickets = source.tickets()
        workspace, count = create_workspace(
            target,
            goals=() if found is None else found.goals,
            tickets=tickets,
            settings=None if found is None else found.settings,
            directory=None if found is None else found.directory,
        )
    goals = 0 if found is None else len(found.goals)
    people = len(workspace.directory.users)
    teams = len(workspace.directory.teams)
    print(
        printable(
            f"workspace {target}: {count:,} tickets, {goals} goal(s), {people} people, "
            f"{teams} team(s); next: {PROG} refresh --db {target}"
        )
    )
    return 0


def _cmd_refresh(args: argparse.Namespace) -> int:
    workspace = read_workspace(Path(args.db))
    at = _default(args.as_of, _now)
    with ExitStack() as stack:
        # Every refresh shows its goals' progress on a terminal, however few there are.
        progress = stack.enter_context(
            _Progress("refreshing goals", enabled=not args.quiet, after=1)
        )
        tracker = _tracker(stack, workspace, on_goal=progress.update)
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
    WRITERS[args.format](output, sys.stdout)
    return 0


def _cmd_kpis(args: argparse.Namespace) -> int:
    for kpi in KPI_TEMPLATES.values():
        what = f"{kpi.aggregation.value} of {kpi.contribution.value} by {kpi.event.value}"
        print(f"{kpi.key:<26} {kpi.unit.value:<9} {kpi.label} ({what})")
    return 0


def _stored_reports(
    workspace: Workspace, as_of: datetime | None
) -> tuple[datetime, list[tuple[Goal, GoalReport]]]:
    """Each goal of a workspace with its latest report at or before ``as_of``."""
    with SqliteStore(workspace.path) as store:
        at = as_of or store.last_refresh()
        if at is None:
            raise InvalidInput(
                "--db",
                str(workspace.path),
                f"no report yet: run '{PROG} refresh --db {workspace.path}' first",
            )
        pairs = [(g, r) for g in store.goals() if (r := store.find_report(g.id, as_of=at))]
    return at, pairs


def _cmd_report(args: argparse.Namespace) -> int:
    if args.html is not None:
        writable_target("--html", Path(args.html))
    if (args.db is None) == (args.goals is None):
        raise UsageError("report needs either --db PATH or --goals FILE --tickets SOURCE")
    if args.db is not None:
        workspace = read_workspace(Path(args.db))
        at, pairs = _stored_reports(workspace, args.as_of)
        directory, title = workspace.directory, f"Service goals: {workspace.path.name}"
    else:
        if args.tickets is None:
            raise UsageError("report --goals needs --tickets SOURCE")
        at = _default(args.as_of, _now)
        found, reports = _evaluated(args, at)
        pairs = list(zip(found.goals, reports, strict=True))
        directory, title = found.directory, f"Service goals: {Path(args.goals).name}"
    if args.html is not None:
        from .htmlreport import write_html

        write_html(Path(args.html), pairs, directory=directory, at=at, title=title)
        if not args.quiet:
            _note(printable(f"wrote {args.html}: {len(pairs)} goal(s)"))
        return 0
    WRITERS[args.format](Output(at, sections(pairs), directory), sys.stdout)
    return 0


# == the parser ====================================================================


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (raised, printed by `main`)."""

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
        "--format", choices=sorted(WRITERS), default="table", help="output format (table)"
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

    init = commands.add_parser(
        "init",
        help="create a workspace from a goal file and tickets",
        description="Create a workspace file from a goal file (goals, [account], [[people]], "
        "[[teams]]) and tickets (a CSV file, an SQLite file or a database URL), or turn an "
        "existing SqliteStore file into one. The file is built beside --db and renamed into "
        "place; an existing workspace or other file is never replaced.",
    )
    init.add_argument("--db", required=True, metavar="PATH", help="the workspace file to create")
    init.add_argument("--goals", metavar="FILE", help="goal file (.toml or .json)")
    _tickets_option(init, required=False)
    _quiet(init)
    init.set_defaults(run=_cmd_init)

    ev = commands.add_parser(
        "evaluate",
        help="evaluate a goal file against tickets",
        description="Evaluate the goals of a TOML or JSON goal file against tickets in a CSV "
        "file, an SQLite file or a database URL; print one row per contributor and "
        "milestone, each contributor's whole goal and each milestone's total.",
    )
    ev.add_argument("--goals", required=True, metavar="FILE", help="goal file (.toml or .json)")
    _tickets_option(ev, required=True)
    _as_of_option(ev, "the calculation time")
    _format_option(ev)
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
    _quiet(refresh)
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

    kpis = commands.add_parser(
        "kpis", help="list the KPI templates", description="List the KPI templates (docs/kpis.md)."
    )
    kpis.set_defaults(run=_cmd_kpis)

    report = commands.add_parser(
        "report",
        help="every row of every goal, as a table, JSON, CSV or an HTML page",
        description="Report every goal of a workspace (its latest snapshot at --as-of, "
        "default the last refresh) or of a goal file evaluated against tickets: each "
        "contributor's milestones and whole goal, and each milestone's total.",
    )
    report.add_argument("--db", metavar="PATH", help="a workspace file")
    report.add_argument("--goals", metavar="FILE", help="or a goal file (.toml or .json) ...")
    _tickets_option(report, required=False)
    _as_of_option(report, "the report's time")
    _format_option(report)
    report.add_argument(
        "--html", metavar="OUT", help="write one self-contained HTML page to OUT instead"
    )
    _quiet(report)
    report.set_defaults(run=_cmd_report)
    return parser


def _tickets_option(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--tickets",
        required=required,
        metavar="SOURCE",
        help="tickets: a CSV file, an SQLite file, or a database URL (sqlite:///..., "
        "postgresql+psycopg://...)",
    )
    parser.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="skip unreadable CSV rows (reported on stderr) instead of failing",
    )


# == main ==========================================================================


def _note(message: str) -> None:
    print(printable(message), file=sys.stderr)


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr)


def _one_line(message: str) -> str:
    """One line, safe for a terminal: whitespace runs become a space, controls escapes."""
    return printable(" ".join(message.split()))


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
