"""Ticket sources: where tickets come from, and aggregation where they live.

A [`TicketSource`][] yields tickets for a [`TicketQuery`][].  A source that
can aggregate where its data lives is an [`AggregatingSource`][]: it computes
the same measurements as [`measure`][servicegoals.measure.measure] without sending every
ticket to Python (aggregate push-down).  Provided here, with only the standard
library: [`InMemorySource`][], [`CsvSource`][] and [`SqliteSource`][].
``servicegoals.sql.SqlAlchemySource`` (extra ``servicegoals[sql]``) adds any
database SQLAlchemy speaks, PostgreSQL included.

[`PushDownPlan`][] turns goals into a few aggregate queries and their rows
back into measurements, so that every SQL adapter shares one definition of what
push-down computes.
"""

from __future__ import annotations

import abc
import csv
import itertools
import json
import os
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO, TypeAlias, TypeVar, runtime_checkable

import attrs
from attrs import field, frozen

from ._validate import by_id, from_us, integer, text, to_us
from .calendar import Period
from .errors import SHOWN, BadRow, DataSourceError, InvalidInput
from .goals import ContributorKind, Directory, Goal
from .kpis import Measurement, PropertyValue, Reopen, StatusInterval, Ticket, TicketEvent
from .measure import CellKey, measure, plan_cells
from .pushdown import (
    INT64_MAX,
    INT64_MIN,
    AggregateQuery,
    KpiQuery,
    PushDownPlan,
    WhereCheck,
    allowed_values,
    unstorable,
)

__all__ = [
    "CSV_COLUMNS",
    "HISTORY_COLUMNS",
    "MAX_LINE_LENGTH",
    "AggregatingSource",
    "CsvSource",
    "InMemorySource",
    "PushDownSource",
    "SqliteSource",
    "TicketQuery",
    "TicketSource",
    "ticket_from_row",
    "ticket_row",
]

#: The columns of a ticket CSV file and of the ``tickets`` table, in order.
CSV_COLUMNS = (
    "id",
    "created_at",
    "pipeline",
    "owner_id",
    "team_id",
    "first_response_at",
    "closed_at",
)
_INSTANT_COLUMNS = frozenset({"created_at", "first_response_at", "closed_at"})
#: The longest line of a ticket CSV file, in characters.  A longer line is a bad
#: row, read in pieces and never whole, so a hostile file cannot exhaust memory.
MAX_LINE_LENGTH = 1_000_000
#: The columns of a ticket history CSV file: one status interval
#: (``kind`` "status") or one reopened close (``kind`` "reopen": ``start`` is the
#: close, ``end`` the reopen) per row.
HISTORY_COLUMNS = ("ticket_id", "kind", "status", "start", "end")


_T = TypeVar("_T")

# -- queries and protocols -------------------------------------------------------


def _id_set(name: str, value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInput(name, value, "expected a collection of strings, or None for any")
    return frozenset(text(name, v) for v in value)


def _pipeline_set(value: Any) -> frozenset[str] | None:
    return _id_set("pipelines", value)


def _owner_set(value: Any) -> frozenset[str] | None:
    return _id_set("owner_ids", value)


def _team_set(value: Any) -> frozenset[str] | None:
    return _id_set("team_ids", value)


def _window(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and not isinstance(value, Period):
        raise InvalidInput("window", value, "expected a Period or None")


#: The events `TicketQuery.window` selects tickets by.
_WINDOW_EVENTS = frozenset(
    {TicketEvent.CLOSED, TicketEvent.FIRST_RESPONSE, TicketEvent.FIRST_CLOSE}
)


@frozen
class TicketQuery:
    """Which tickets a source should yield; every filter is optional.

    - ``window``: tickets whose first response or closing happens in the period,
      i.e. those that can count in a milestone inside it;
    - ``pipelines``: tickets in one of these pipelines;
    - ``owner_ids`` / ``team_ids``: tickets owned by one of the users **or**
      assigned to one of the teams (a contributor filter; when only one of the
      two is given, only that one applies).

    None means "no filter"; an empty collection matches nothing.
    """

    window: Period | None = field(default=None, validator=_window)
    pipelines: frozenset[str] | None = field(default=None, converter=_pipeline_set)
    owner_ids: frozenset[str] | None = field(default=None, converter=_owner_set)
    team_ids: frozenset[str] | None = field(default=None, converter=_team_set)
    # Kept as integers: matches() runs once per ticket.
    _window_us: tuple[int, int] | None = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        window = None if self.window is None else (self.window.start_us, self.window.end_us)
        object.__setattr__(self, "_window_us", window)

    @classmethod
    def for_goals(cls, goals: Iterable[Goal], directory: Directory | None = None) -> TicketQuery:
        """The narrowest query that still yields every ticket ``goals`` can count, or
        that `measure` raises an error for."""
        goals = tuple(goals) if isinstance(goals, Iterable) else goals
        plans = plan_cells(goals, directory)
        if not plans:
            return cls(owner_ids=(), team_ids=())
        # measure checks a KPI's filter, and reads a property event, on every ticket
        # of its contributors, whatever its pipeline and times: it needs them all.
        everything = any(g.kpi.where or g.kpi.event is TicketEvent.PROPERTY for g in goals)
        pipelines: set[str] | None = None if everything else set()
        for plan in plans:
            for allowed in plan.pipelines:
                if allowed is None:
                    pipelines = None
                elif pipelines is not None:
                    pipelines |= allowed
        # The window filters on responses and closes: a KPI placing tickets by another
        # event (creation, a reopen, a property) needs every ticket of its contributors.
        windowed = not everything and all(p.event in _WINDOW_EVENTS for p in plans)
        return cls(
            window=Period(
                from_us(min(p.bounds[0] for p in plans)), from_us(max(p.bounds[-1] for p in plans))
            )
            if windowed
            else None,
            pipelines=pipelines,
            owner_ids=(i for p in plans if p.kind is ContributorKind.USER for i in p.match_ids),
            team_ids=(i for p in plans if p.kind is ContributorKind.TEAM for i in p.match_ids),
        )

    @property
    def window_us(self) -> tuple[int, int] | None:
        """The window as epoch microseconds ``(start, end)``."""
        return self._window_us

    def matches(self, ticket: Ticket) -> bool:
        """True when ``ticket`` passes every filter."""
        if self.pipelines is not None and ticket.pipeline not in self.pipelines:
            return False
        if self.owner_ids is not None or self.team_ids is not None:
            owned = self.owner_ids is not None and ticket.owner_id in self.owner_ids
            if not owned and not (self.team_ids is not None and ticket.team_id in self.team_ids):
                return False
        window = self._window_us
        if window is None:
            return True
        start, end = window
        first, closed = ticket.first_response_us, ticket.closed_us
        if (first is not None and start <= first < end) or (
            closed is not None and start <= closed < end
        ):
            return True
        # An earlier close counts under the first-close rule or as of an instant.
        return any(start <= close < end for close, _ in ticket.reopens_us)


@runtime_checkable
class TicketSource(Protocol):
    """Anything that yields tickets for a query (all tickets without one)."""

    def tickets(self, query: TicketQuery | None = None) -> Iterator[Ticket]:
        """The tickets that may match ``query`` (every ticket without one).

        A source may yield more tickets than the query asks for (the measuring
        loop checks each ticket itself) but never fewer; it may be called more
        than once, and should stream rather than load everything at once.
        Raise `DataSourceError` (or `BadRow`) for data it cannot read.
        """
        ...


@runtime_checkable
class AggregatingSource(TicketSource, Protocol):
    """A source that measures where its data lives (aggregate push-down).

    ``measure(goals, directory=d, at=a)`` must equal
    ``servicegoals.measure(goals, source.tickets(), directory=d, at=a)``: every
    cell, zeros included, counting only events at or before ``a`` (every event
    when ``a`` is None).
    """

    def measure(
        self,
        goals: Iterable[Goal],
        *,
        directory: Directory | None = None,
        at: datetime | None = None,
    ) -> dict[CellKey, Measurement]:
        """Every cell of ``goals``, measured where the tickets live.

        Args:
            goals: the goals whose cells to measure.
            directory: the team tree (descendant teams count for a team).
            at: count only events at or before this instant (None: every event).

        Returns:
            Exactly what `servicegoals.measure` returns over `tickets()`:
            every cell, zeros included.  A source that cannot compute a goal in
            its database (a working-time clock, ticket histories) measures it by
            streaming its own tickets instead.

        Raises:
            DataSourceError: the data cannot be read.
        """
        ...


class PushDownSource(abc.ABC):
    """The `measure` of every source that aggregates in its database.

    It plans the goals (`PushDownPlan`) and runs the plan's queries through
    `_aggregate_plan`; when its database cannot compute the goals exactly (a working-time
    clock, a custom KPI, stored ticket histories: `_must_stream`), it measures
    its own tickets by streaming them instead, so the answer is always what
    `servicegoals.measure` gives.
    """

    @abc.abstractmethod
    def tickets(self, query: TicketQuery | None = None) -> Iterator[Ticket]:
        """The source's tickets that may match ``query``."""

    @abc.abstractmethod
    def _aggregate_plan(self, plan: PushDownPlan) -> None:
        """Run every query of ``plan`` in the database and collect its rows."""

    def _must_stream(self) -> bool:
        """True when stored data that SQL cannot read (ticket histories) exists."""
        return False

    def _pushes_kpis(self) -> bool:
        """True when custom KPIs push down here (`PushDownPlan.kpi_queries`)."""
        return False

    def _pushes_percentiles(self) -> bool:
        """True when the database returns a cell's values sorted (PERCENTILE push-down)."""
        return False

    def _property_value(self, ticket_id: str, name: str) -> PropertyValue | None:
        """The stored property ``name`` of ticket ``ticket_id`` (None: it has none)."""
        return None

    def measure(
        self,
        goals: Iterable[Goal],
        *,
        directory: Directory | None = None,
        at: datetime | None = None,
    ) -> dict[CellKey, Measurement]:
        """What [`measure`][servicegoals.measure.measure] returns, aggregated in the database.

        The goals SQL cannot measure (`PushDownPlan.streamed`) are measured by
        streaming this source's tickets; the others push down.
        """
        goals = tuple(goals)
        custom = any(isinstance(g, Goal) and not g.kpi.fast for g in goals)
        kpis = custom and self._pushes_kpis()
        plan = PushDownPlan(
            goals, directory, at=at, custom=kpis, percentiles=kpis and self._pushes_percentiles()
        )
        if self._must_stream():  # place or time the tickets in Python
            wanted = self.tickets(TicketQuery.for_goals(goals, directory))
            return measure(goals, wanted, directory=directory, at=at)
        result: dict[CellKey, Measurement] = {}
        if plan.streamed:
            wanted = self.tickets(TicketQuery.for_goals(plan.streamed, directory))
            result = measure(plan.streamed, wanted, directory=directory, at=at)
        if plan.queries or plan.kpi_queries or plan.checks:
            self._aggregate_plan(plan)
            if plan.bad is not None:
                raise plan.bad_value(self._property_value(*plan.bad[:2]))
        result.update(plan.result())
        return result


# -- shared row helpers for the documented schema ----------------------------------


def unstored_properties(ticket: Ticket) -> InvalidInput:
    """The refusal of a source that cannot store ``ticket``'s properties."""
    names = ", ".join(sorted(ticket.properties))
    return InvalidInput(
        f"ticket {ticket.id!r}.properties",
        names,
        "this source does not store ticket properties; refused rather than dropped",
    )


def ticket_row(
    ticket: Ticket,
) -> tuple[str, int, str, str | None, str | None, int | None, int | None]:
    """A ticket as a row of the documented schema (instants in epoch microseconds).

    Its `Ticket.properties` go to rows of their own (`property_rows`).
    """
    return (
        ticket.id,
        ticket.created_us,
        ticket.pipeline,
        ticket.owner_id,
        ticket.team_id,
        ticket.first_response_us,
        ticket.closed_us,
    )


def _stored_instant(column: str, value: Any) -> datetime:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(column, value, "expected INTEGER epoch microseconds")
    try:
        return from_us(value)
    except OverflowError:
        raise InvalidInput(column, value, "outside the supported calendar") from None


def ticket_from_row(source: str, row: Sequence[Any]) -> Ticket:
    """The ticket of a stored row (``CSV_COLUMNS`` order, instants in epoch µs).

    A row that is not a valid ticket raises [`BadRow`][] naming ``source``,
    the ticket id, the column and the value.
    """
    try:
        id_, created, pipeline, owner, team, first, closed = row
        return Ticket(
            id_,
            _stored_instant("created_at", created),
            pipeline,
            owner,
            team,
            None if first is None else _stored_instant("first_response_at", first),
            None if closed is None else _stored_instant("closed_at", closed),
        )
    except InvalidInput as exc:
        raise BadRow(source, f"ticket {row[0]!r}", exc.field, exc.value, exc.reason) from None


#: A stored history row: ``(ticket_id, kind, position, status, start_us, end_us)``;
#: ``kind`` is "status" or "reopen" (``start`` the close, ``end`` the reopen).
HistoryRow: TypeAlias = tuple[str, str, int, str | None, int, int | None]


def history_rows(ticket: Ticket) -> Iterator[HistoryRow]:
    """The stored history rows of ``ticket`` (none without history)."""
    for i, s in enumerate(ticket.statuses):
        end = None if s.end is None else to_us(s.end)
        yield (ticket.id, "status", i, s.status, to_us(s.start), end)
    for i, (close, reopen) in enumerate(ticket.reopens_us):
        yield (ticket.id, "reopen", i, None, close, reopen)


Histories: TypeAlias = dict[str, tuple[list[StatusInterval], list[Reopen]]]


def read_histories(source: str, rows: Iterable[Sequence[Any]]) -> Histories:
    """Stored history rows (ordered by ticket, kind and position) by ticket id."""
    found: Histories = {}
    for ticket_id, kind, _, status, start, end in rows:
        statuses, reopens = found.setdefault(ticket_id, ([], []))
        try:
            begin = _stored_instant("start", start)
            until = None if end is None else _stored_instant("end", end)
            if kind == "status":
                statuses.append(StatusInterval(status, begin, until))
            elif kind == "reopen" and until is not None:
                reopens.append(Reopen(begin, until))
            else:
                raise InvalidInput("kind", kind, "expected a status or a reopen with its end")
        except InvalidInput as exc:
            raise BadRow(
                source, f"history of ticket {ticket_id!r}", exc.field, exc.value, exc.reason
            ) from None
    return found


def with_history(source: str, ticket: Ticket, histories: Histories) -> Ticket:
    """``ticket`` with its stored history, if it has one."""
    found = histories.get(ticket.id)
    if found is None:
        return ticket
    try:
        return attrs.evolve(ticket, statuses=found[0], reopens=found[1])
    except InvalidInput as exc:
        raise BadRow(source, f"ticket {ticket.id!r}", exc.field, exc.value, exc.reason) from None


#: A stored property row: ``(ticket_id, name, text_value, int_value, instant_value)``,
#: exactly one value set (an instant in epoch microseconds).
PropertyRow: TypeAlias = tuple[str, str, str | None, int | None, int | None]
#: The columns of a property row, in order.
PROPERTY_COLUMNS = ("ticket_id", "name", "text_value", "int_value", "instant_value")
#: How many tickets' properties `attach_properties` reads with one query.
PROPERTY_BATCH = 1_000


def storable_text(field: str, value: str) -> str:
    """``value`` if every store can keep it as text: no NUL, valid Unicode."""
    reason = unstorable(value)
    if reason is not None:
        raise InvalidInput(field, value, reason)
    return value


def property_rows(ticket: Ticket) -> Iterator[PropertyRow]:
    """The stored property rows of ``ticket``: one per property, typed by its column.

    An int outside 64 bits, or text a database cannot hold, is refused
    (`InvalidInput` naming the ticket and the property) rather than changed.
    """
    for name, value in ticket.properties.items():
        if isinstance(value, datetime):
            yield (ticket.id, name, None, None, to_us(value))
        elif isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                raise InvalidInput(
                    f"ticket {ticket.id!r}.properties[{name!r}]",
                    value,
                    "an int property is stored in 64 bits: expected -2**63 <= value < 2**63",
                )
            yield (ticket.id, name, None, value, None)
        else:
            yield (
                ticket.id,
                name,
                storable_text(f"ticket {ticket.id!r}.properties[{name!r}]", value),
                None,
                None,
            )


def read_properties(
    source: str, rows: Iterable[Sequence[Any]]
) -> dict[str, dict[str, PropertyValue]]:
    """Stored property rows (`PropertyRow`) by ticket id, then by name."""
    found: dict[str, dict[str, PropertyValue]] = {}
    for ticket_id, name, text_value, int_value, instant_value in rows:
        set_ = [v for v in (text_value, int_value, instant_value) if v is not None]
        try:
            if len(set_) != 1:
                raise InvalidInput(
                    "value",
                    (text_value, int_value, instant_value),
                    "expected exactly one of text_value, int_value and instant_value",
                )
            value: PropertyValue
            if instant_value is not None:
                value = _stored_instant("instant_value", instant_value)
            elif int_value is not None:
                value = int(int_value)
            else:
                value = text_value
        except InvalidInput as exc:
            raise BadRow(
                source,
                f"property {name!r} of ticket {ticket_id!r}",
                exc.field,
                exc.value,
                exc.reason,
            ) from None
        found.setdefault(ticket_id, {})[name] = value
    return found


def attach_properties(
    source: str,
    tickets: Iterable[Ticket],
    fetch: Callable[[list[str]], Iterable[Sequence[Any]]],
) -> Iterator[Ticket]:
    """``tickets`` with their stored properties; ``fetch(ids)`` returns the property
    rows of those ticket ids, asked for `PROPERTY_BATCH` tickets at a time."""
    batch: list[Ticket] = []
    for ticket in itertools.chain(tickets, [None]):
        if ticket is not None:
            batch.append(ticket)
            if len(batch) < PROPERTY_BATCH:
                continue
        if not batch:
            break
        found = read_properties(source, fetch([t.id for t in batch]))
        for item in batch:
            properties = found.get(item.id)
            if properties is None:
                yield item
                continue
            try:
                yield attrs.evolve(item, properties=properties)
            except InvalidInput as exc:
                place = f"ticket {item.id!r}"
                raise BadRow(source, place, exc.field, exc.value, exc.reason) from None
        batch = []


# -- in memory -----------------------------------------------------------------------


class InMemorySource:
    """Tickets held in memory; for tests, examples and small accounts."""

    __slots__ = ("_tickets",)

    def __init__(self, tickets: Iterable[Ticket] = ()) -> None:
        self._tickets = tuple(by_id("tickets", tickets, Ticket).values())

    def __len__(self) -> int:
        return len(self._tickets)

    def tickets(self, query: TicketQuery | None = None) -> Iterator[Ticket]:
        """The held tickets that match ``query``, in the order given."""
        if query is None:
            return iter(self._tickets)
        return (t for t in self._tickets if query.matches(t))

    def measure(
        self,
        goals: Iterable[Goal],
        *,
        directory: Directory | None = None,
        at: datetime | None = None,
    ) -> dict[CellKey, Measurement]:
        """What `servicegoals.measure` returns for the held tickets."""
        return measure(goals, self._tickets, directory=directory, at=at)


# -- CSV -------------------------------------------------------------------------------

OnError: TypeAlias = Literal["raise", "skip"]
_SURROGATES = re.compile("[\udc80-\udcff]")
_ISO_HINT = "not an ISO-8601 timestamp with a UTC offset (like 2026-03-01T09:30:00+01:00)"


def _path(value: Any) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise InvalidInput("path", value, "expected a file path")
    return Path(value)


class CsvSource:
    """Tickets read from a CSV file, streamed row by row.

    The header names the columns of `CSV_COLUMNS` in any order; other
    columns are ignored, or with ``properties=True`` become `Ticket.properties` (a
    canonical int cell as an int, an ISO-8601 instant with an offset as a datetime,
    other text as text, an empty cell absent).  Instants are ISO-8601 with a UTC
    offset; an empty cell is None.  A bad row raises [`BadRow`][] naming the
    file, line, column and value; with ``on_error="skip"`` it is skipped instead and recorded in
    `skipped` as ``(line, message)``, never dropped silently.

    ``history`` is an optional second CSV file of ticket histories
    (`HISTORY_COLUMNS`); it is read whole at the start of each read, and a
    history row of a ticket the file does not hold is a bad row.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        on_error: OnError = "raise",
        history: str | os.PathLike[str] | None = None,
        properties: bool = False,
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise InvalidInput("on_error", on_error, "expected 'raise' or 'skip'")
        self.path = _path(path)
        self.history = None if history is None else _path(history)
        self.on_error: OnError = on_error
        self.properties = properties
        #: ``(line, message)`` of every row the latest read skipped.
        self.skipped: list[tuple[int, str]] = []
        with self._open() as handle:  # fail early on a missing file or a bad header
            self._columns(handle)
        if self.history is not None:
            with _open_csv(self.history) as handle:
                _header(self.history, csv.reader(handle), HISTORY_COLUMNS)

    @property
    def skipped_count(self) -> int:
        """How many rows the latest read skipped."""
        return len(self.skipped)

    @classmethod
    def write(
        cls,
        path: str | os.PathLike[str],
        tickets: Iterable[Ticket],
        *,
        on_error: OnError = "raise",
        history: str | os.PathLike[str] | None = None,
    ) -> CsvSource:
        """Write ``tickets`` to a CSV file at ``path`` and open it.

        With ``history``, the tickets' histories go to that second file
        (`HISTORY_COLUMNS`).  `Ticket.properties` become columns after the known
        ones, sorted by name, and the source returned reads them back
        (``properties=True``) when there are any; text that would read back as
        another type (see `CsvSource`) is refused.  Each file is written beside its
        path and renamed over it at the end, so a failure leaves any old file as it was.
        """
        target = _path(path)
        paths = [target] if history is None else [target, _path(history)]
        temporaries = [p.with_name(f".{p.name}.{uuid.uuid4().hex}.tmp") for p in paths]
        # The property columns are known only at the end: the rows wait in a spool.
        spool = target.with_name(f".{target.name}.{uuid.uuid4().hex}.spool")
        names: set[str] = set()
        try:
            with ExitStack() as stack:
                rows = stack.enter_context(open(spool, "x+", encoding="utf-8"))
                handles = [
                    stack.enter_context(open(t, "x", encoding="utf-8", newline=""))
                    for t in temporaries
                ]
                writers = [csv.writer(h) for h in handles]
                if history is not None:
                    writers[1].writerow(HISTORY_COLUMNS)
                for i, t in enumerate(tickets):
                    if not isinstance(t, Ticket):
                        raise InvalidInput(f"tickets[{i}]", t, "expected a Ticket")
                    if history is None and t.has_history:
                        raise InvalidInput(
                            f"tickets[{i}]", t.id, "has a history: give a history file to write it"
                        )
                    cells = {n: _property_cell(t, n, v) for n, v in t.properties.items()}
                    names.update(cells)
                    row = [_text(getattr(t, c)) for c in CSV_COLUMNS]
                    rows.write(json.dumps([row, cells]) + "\n")
                    if history is not None:
                        writers[1].writerows(_history_rows(t))
                columns = sorted(names)
                writers[0].writerow((*CSV_COLUMNS, *columns))
                rows.seek(0)
                for line in rows:
                    row, cells = json.loads(line)
                    writers[0].writerow((*row, *(cells.get(n, "") for n in columns)))
            for temporary, final in zip(temporaries, paths, strict=True):
                os.replace(temporary, final)
        except OSError as exc:
            for temporary in temporaries:
                temporary.unlink(missing_ok=True)
            raise DataSourceError(f"{target}: cannot write the file: {exc.strerror}") from None
        except BaseException:
            for temporary in temporaries:
                temporary.unlink(missing_ok=True)
            raise
        finally:
            spool.unlink(missing_ok=True)
        return cls(target, on_error=on_error, history=history, properties=bool(names))

    def _open(self) -> TextIO:
        return _open_csv(self.path)

    def _histories(self) -> dict[str, tuple[list[StatusInterval], list[Reopen], int]]:
        """Each ticket's status intervals, reopens and first history line."""
        found: dict[str, tuple[list[StatusInterval], list[Reopen], int]] = {}
        if self.history is None:
            return found
        source = str(self.history)
        with _open_csv(self.history) as handle:
            reader = csv.reader(handle)
            width, where = _header(self.history, reader, HISTORY_COLUMNS)
            for record in reader:
                line = reader.line_num
                if not record:
                    continue
                try:
                    if len(record) != width:
                        raise BadRow(
                            source, f"line {line}", None, record, f"expected {width} fields"
                        )
                    ticket_id, item = _history_item(source, line, [record[i] for i in where])
                except BadRow as error:
                    if self.on_error == "raise":
                        raise
                    self.skipped.append((line, str(error)))
                    continue
                statuses, reopens, _ = found.setdefault(ticket_id, ([], [], line))
                if isinstance(item, StatusInterval):
                    statuses.append(item)
                else:
                    reopens.append(item)
        return found

    def _with_history(
        self, ticket: Ticket, found: dict[str, tuple[list[StatusInterval], list[Reopen], int]]
    ) -> Ticket:
        statuses, reopens, line = found.pop(ticket.id)
        try:
            return Ticket(
                ticket.id,
                ticket.created_at,
                ticket.pipeline,
                ticket.owner_id,
                ticket.team_id,
                ticket.first_response_at,
                ticket.closed_at,
                statuses,
                reopens,
            )
        except InvalidInput as exc:
            place = f"ticket {ticket.id!r} (line {line})"
            raise BadRow(str(self.history), place, exc.field, exc.value, exc.reason) from None

    def _columns(
        self, handle: TextIO
    ) -> tuple[Any, list[tuple[int, str]], int, list[int], list[tuple[int, str]]]:
        """A reader past the header, its list of too-long lines, the header's width,
        where each of `CSV_COLUMNS` is and the other columns (ticket properties)."""
        too_long: list[tuple[int, str]] = []
        reader = csv.reader(_capped_lines(handle, too_long))
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise BadRow(str(self.path), "line 1", None, "header", str(exc)) from None
        if too_long:
            raise _line_too_long(str(self.path), too_long.pop())
        if not header:
            raise DataSourceError(
                f"{self.path}: empty file; expected a header with the columns "
                + ", ".join(CSV_COLUMNS)
            )
        names = [h.strip() for h in header]
        for name in CSV_COLUMNS:
            if names.count(name) > 1:
                raise BadRow(str(self.path), "line 1", name, header, "the header repeats a column")
        missing = [c for c in CSV_COLUMNS if c not in names]
        if missing:
            raise BadRow(
                str(self.path),
                "line 1",
                missing[0],
                header,
                f"the header lacks the column(s) {', '.join(missing)}",
            )
        where = [names.index(c) for c in CSV_COLUMNS]
        extras = [
            (i, name)
            for i, name in enumerate(names)
            if self.properties and name and name not in CSV_COLUMNS
        ]
        return reader, too_long, len(header), where, extras

    def tickets(self, query: TicketQuery | None = None) -> Iterator[Ticket]:
        """Read the file once, yielding the tickets that match ``query``.

        Every row is checked, matching or not; `skipped` starts afresh.
        """
        self.skipped = []
        skipped = self.skipped
        source = str(self.path)
        histories = self._histories()
        with self._open() as handle:
            reader, too_long, width, where, extras = self._columns(handle)
            line = reader.line_num
            while True:
                start = line + 1
                try:
                    record = next(reader, None)
                    line = reader.line_num
                    if too_long:
                        raise _line_too_long(source, too_long.pop())
                    if record is None:
                        break
                    if not record:  # a blank line holds no row
                        continue
                    if len(record) != width:
                        raise BadRow(
                            source,
                            f"line {start}",
                            None,
                            record,
                            f"expected {width} fields like the header, found {len(record)}",
                        )
                    ticket = _csv_ticket(
                        source,
                        start,
                        [record[i] for i in where],
                        [(name, record[i]) for i, name in extras],
                    )
                    if ticket.id in histories:
                        ticket = self._with_history(ticket, histories)
                except csv.Error as exc:
                    line = reader.line_num
                    error = BadRow(source, f"line {start}", None, "row", f"malformed CSV: {exc}")
                    if self.on_error == "raise":
                        raise error from None
                    skipped.append((start, str(error)))
                    continue
                except BadRow as error:
                    if self.on_error == "raise":
                        raise
                    skipped.append((start, str(error)))
                    continue
                if query is None or query.matches(ticket):
                    yield ticket
        for ticket_id, (_, _, line) in histories.items():
            unknown = BadRow(
                str(self.history), f"line {line}", "ticket_id", ticket_id, "no such ticket"
            )
            if self.on_error == "raise":
                raise unknown
            skipped.append((line, str(unknown)))


def _text(value: Any) -> Any:
    return "" if value is None else value.isoformat() if isinstance(value, datetime) else value


def _property_cell(ticket: Ticket, name: str, value: PropertyValue) -> str:
    """A property as a CSV cell that `_csv_property` reads back equal, else refused."""
    field = f"ticket {ticket.id!r}.properties[{name!r}]"
    if name in CSV_COLUMNS or name != name.strip():
        raise InvalidInput(
            f"ticket {ticket.id!r}.properties", name, "cannot be a CSV column after the known ones"
        )
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # beyond the interpreter's digit limit
            raise InvalidInput(field, value, "too many digits to write") from None
    if value == "" or not isinstance(_csv_property(storable_text(field, value)), str):
        raise InvalidInput(
            field,
            value,
            "text that reads back as an int, an instant or nothing cannot be written to CSV "
            "(a cell has no type)",
        )
    return value


def _history_rows(ticket: Ticket) -> Iterator[tuple[Any, ...]]:
    for s in ticket.statuses:
        yield (ticket.id, "status", s.status, _text(s.start), _text(s.end))
    for r in ticket.reopens:
        yield (ticket.id, "reopen", "", _text(r.closed_at), _text(r.reopened_at))


def _open_csv(path: Path) -> TextIO:
    # surrogateescape keeps undecodable bytes so the row that holds them is
    # reported with its line; utf-8-sig accepts the BOM spreadsheets write.
    try:
        return open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")
    except FileNotFoundError:
        raise DataSourceError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataSourceError(f"{path}: cannot read the file: {exc.strerror}") from None


def _header(path: Path, reader: Any, columns: Sequence[str]) -> tuple[int, list[int]]:
    """The width of a history file's header and where each of ``columns`` is."""
    header = next(reader, None)
    names = [h.strip() for h in header or ()]
    missing = [c for c in columns if c not in names]
    if missing:
        raise BadRow(
            str(path), "line 1", missing[0], header, f"the header lacks {', '.join(missing)}"
        )
    return len(names), [names.index(c) for c in columns]


def _history_item(source: str, line: int, values: list[str]) -> tuple[str, StatusInterval | Reopen]:
    place = f"line {line}"
    ticket_id, kind, status, start, end = values
    if not ticket_id:
        raise BadRow(source, place, "ticket_id", ticket_id, "expected a ticket id")
    begin = _csv_instant(source, place, "start", start)
    until = _csv_instant(source, place, "end", end)
    try:
        if kind == "status":
            return ticket_id, StatusInterval(status, begin, until)  # type: ignore[arg-type]
        if kind == "reopen":
            if until is None:
                raise InvalidInput("end", end, "a reopen row needs the reopen instant")
            return ticket_id, Reopen(begin, until)  # type: ignore[arg-type]
    except InvalidInput as exc:
        column = {"closed_at": "start", "reopened_at": "end"}.get(exc.field, exc.field)
        raise BadRow(source, place, column, exc.value, exc.reason) from None
    raise BadRow(source, place, "kind", kind, "expected 'status' or 'reopen'")


def _capped_lines(handle: TextIO, too_long: list[tuple[int, str]]) -> Iterator[str]:
    """The lines of ``handle``, each at most `MAX_LINE_LENGTH` characters.

    A longer line is read in pieces and dropped: its number and start go to
    ``too_long`` and an empty line takes its place, so line numbers still hold.
    """
    number = 0
    while line := handle.readline(MAX_LINE_LENGTH + 1):
        number += 1
        if len(line) <= MAX_LINE_LENGTH:
            yield line
            continue
        too_long.append((number, line[:SHOWN]))
        while line and not line.endswith(("\n", "\r")):
            line = handle.readline(MAX_LINE_LENGTH)
        yield "\n"


def _line_too_long(source: str, found: tuple[int, str]) -> BadRow:
    number, start = found
    reason = f"the line is longer than {MAX_LINE_LENGTH} characters; it starts"
    return BadRow(source, f"line {number}", None, start, reason)


def _csv_instant(source: str, place: str, column: str, raw: str) -> datetime | None:
    if raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRow(source, place, column, raw, _ISO_HINT) from None
    if value.utcoffset() is None:
        raise BadRow(
            source,
            place,
            column,
            raw,
            "naive timestamp: add a UTC offset such as +00:00 or Z "
            "(times are never assumed to be UTC)",
        )
    return value


_CSV_INT = re.compile(r"-?(0|[1-9][0-9]*)")


def _csv_property(raw: str) -> str | int | datetime:
    """A property cell: a canonical int, an ISO-8601 instant with an offset, else text."""
    if _CSV_INT.fullmatch(raw):
        return int(raw)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    return value if value.utcoffset() is not None else raw


def _csv_ticket(
    source: str, line: int, values: list[str], extra: Sequence[tuple[str, str]] = ()
) -> Ticket:
    place = f"line {line}"
    converted: list[Any] = []
    for column, raw in zip(CSV_COLUMNS, values, strict=True):
        if column in _INSTANT_COLUMNS:
            converted.append(_csv_instant(source, place, column, raw))
            continue
        if not raw.isascii() and _SURROGATES.search(raw):
            raise BadRow(
                source,
                place,
                column,
                raw.encode("utf-8", "surrogateescape"),
                "not valid UTF-8; save the file as UTF-8",
            )
        converted.append(raw or None)
    try:
        properties = {name: _csv_property(raw) for name, raw in extra if raw}
        if not properties:
            return Ticket(*converted)
        return Ticket(**dict(zip(CSV_COLUMNS, converted, strict=True)), properties=properties)
    except InvalidInput as exc:
        raw = values[CSV_COLUMNS.index(exc.field)] if exc.field in CSV_COLUMNS else exc.value
        raise BadRow(source, place, exc.field, raw, exc.reason) from None


# -- SQLite ---------------------------------------------------------------------------

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT NOT NULL PRIMARY KEY CHECK (typeof(id) = 'text' AND id <> ''),
    created_at INTEGER NOT NULL CHECK (typeof(created_at) = 'integer'),
    pipeline TEXT NOT NULL CHECK (typeof(pipeline) = 'text' AND pipeline <> ''),
    owner_id TEXT CHECK (owner_id IS NULL OR (typeof(owner_id) = 'text' AND owner_id <> '')),
    team_id TEXT CHECK (team_id IS NULL OR (typeof(team_id) = 'text' AND team_id <> '')),
    first_response_at INTEGER CHECK (first_response_at IS NULL OR
        (typeof(first_response_at) = 'integer' AND first_response_at >= created_at)),
    closed_at INTEGER CHECK (closed_at IS NULL OR
        (typeof(closed_at) = 'integer' AND closed_at >= created_at))
);
CREATE INDEX IF NOT EXISTS tickets_owner_closed
    ON tickets (owner_id, closed_at, pipeline, created_at);
CREATE INDEX IF NOT EXISTS tickets_team_closed
    ON tickets (team_id, closed_at, pipeline, created_at);
CREATE INDEX IF NOT EXISTS tickets_owner_response
    ON tickets (owner_id, first_response_at, pipeline, created_at);
CREATE INDEX IF NOT EXISTS tickets_team_response
    ON tickets (team_id, first_response_at, pipeline, created_at);
"""
_COLUMN_LIST = ", ".join(CSV_COLUMNS)
# Ticket histories (status intervals and reopened closes), in a table of their
# own: databases made before it existed read as "no history".
_SQLITE_HISTORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS ticket_history (
    ticket_id TEXT NOT NULL CHECK (typeof(ticket_id) = 'text'),
    kind TEXT NOT NULL CHECK (kind IN ('status', 'reopen')),
    position INTEGER NOT NULL CHECK (typeof(position) = 'integer'),
    status TEXT CHECK (status IS NULL OR typeof(status) = 'text'),
    start INTEGER NOT NULL CHECK (typeof(start) = 'integer'),
    "end" INTEGER CHECK ("end" IS NULL OR typeof("end") = 'integer'),
    PRIMARY KEY (ticket_id, kind, position)
)
"""
# Ticket properties, one row per property in the column of its type, so ints
# compare and sum as ints in SQL; a database made before it reads as "no properties".
_SQLITE_PROPERTY_SCHEMA = """
CREATE TABLE IF NOT EXISTS ticket_property (
    ticket_id TEXT NOT NULL CHECK (typeof(ticket_id) = 'text'),
    name TEXT NOT NULL CHECK (typeof(name) = 'text' AND name <> ''),
    text_value TEXT CHECK (text_value IS NULL OR typeof(text_value) = 'text'),
    int_value INTEGER CHECK (int_value IS NULL OR typeof(int_value) = 'integer'),
    instant_value INTEGER CHECK (instant_value IS NULL OR typeof(instant_value) = 'integer'),
    CHECK ((text_value IS NOT NULL) + (int_value IS NOT NULL) + (instant_value IS NOT NULL) = 1),
    PRIMARY KEY (ticket_id, name)
)
"""
_PROPERTY_SELECT = (
    "SELECT ticket_id, name, text_value, int_value, instant_value FROM ticket_property "
    "WHERE ticket_id IN (SELECT value FROM json_each(:ids))"
)
_HISTORY_SELECT = (
    'SELECT ticket_id, kind, position, status, start, "end" FROM ticket_history '
    "ORDER BY ticket_id, kind, position"
)
_IN_JSON = "IN (SELECT value FROM json_each(:{}))"


def bucket_sql(event: str, first: int, last: int, bound: str = ":b") -> str:
    """A CASE tree giving the milestone index of ``event`` in ``log2(n)`` steps.

    Bound ``j`` is the parameter ``<bound>j`` (``:b3`` in SQLite, ``$q0_b3`` in DuckDB).
    """
    if last - first == 1:
        return str(first)
    mid = (first + last) // 2
    return (
        f"CASE WHEN {event} < {bound}{mid} THEN {bucket_sql(event, first, mid, bound)} "
        f"ELSE {bucket_sql(event, mid, last, bound)} END"
    )


#: See ``SqliteSource(milestone_queries_up_to=...)``.
MILESTONE_QUERIES_UP_TO = 50_000


def _aggregate_sql(
    query: AggregateQuery, *, by_milestone: bool, split: bool
) -> tuple[str, dict[str, Any]]:
    """The SQLite statement of one aggregate query and its parameters.

    Column names come from `CSV_COLUMNS` only; every value is a bound
    parameter (ids and pipelines as one JSON array each).  ``by_milestone``
    makes a statement for the milestone ``:j`` from ``:start`` to ``:end`` (the
    caller binds them); otherwise a CASE tree buckets the rows of every
    milestone at once.  ``split`` sums the high and low 32 bits of the
    durations apart, for sums beyond 64 bits.
    """
    key, event, n = query.column, query.event, query.milestones
    duration = f"{event} - created_at"
    sums = (
        f"sum(({duration}) >> 32), sum(({duration}) & 4294967295)" if split else f"sum({duration})"
    )
    params: dict[str, Any] = {"ids": json.dumps(query.match_ids)}
    where = [f"{key} {_IN_JSON.format('ids')}"]
    if by_milestone:
        bucket = ":j"
        where += [f"{event} >= :start", f"{event} < :end"]
    else:
        bucket = bucket_sql(event, 0, n)
        where += [f"{event} >= :b0", f"{event} < :end"]
        params.update((f"b{j}", b) for j, b in enumerate(query.bounds[:-1]))
        params["end"] = query.end
    if query.pipelines is not None:
        where.append(f"pipeline {_IN_JSON.format('pipelines')}")
        params["pipelines"] = json.dumps(query.pipelines)
    pipeline, group = ("pipeline", "1, 2, 3") if query.by_pipeline else ("NULL", "1, 2")
    sql = (
        f"SELECT {key}, {bucket}, {pipeline}, count(*), {sums} "
        f"FROM tickets WHERE {' AND '.join(where)} GROUP BY {group}"
    )
    return sql, params


def _run_aggregate(
    connection: sqlite3.Connection, query: AggregateQuery, *, by_milestone: bool, split: bool
) -> list[Any]:
    sql, params = _aggregate_sql(query, by_milestone=by_milestone, split=split)
    if not by_milestone:
        return connection.execute(sql, params).fetchall()
    rows: list[Any] = []
    bounds, end = query.bounds, query.end
    for j in range(query.milestones):
        if bounds[j] >= end:  # this milestone starts after the as-of instant
            break
        params.update(j=j, start=bounds[j], end=min(bounds[j + 1], end))
        rows += connection.execute(sql, params).fetchall()
    return rows


def _filter_sql(
    where: tuple[tuple[str, frozenset[str | int]], ...], params: dict[str, Any]
) -> list[tuple[str, str]]:
    """Per ``where`` entry: the SQL of "the ticket ``t`` has the property" and of
    "... with an allowed value"; their parameters go to ``params``."""
    found = []
    for n, (name, allowed) in enumerate(where):
        texts, ints = allowed_values(allowed)
        params.update({f"w{n}": name, f"wt{n}": json.dumps(texts), f"wi{n}": json.dumps(ints)})
        has = f"SELECT 1 FROM ticket_property w WHERE w.ticket_id = t.id AND w.name = :w{n}"
        passes = (
            f"{has} AND (w.text_value {_IN_JSON.format(f'wt{n}')} "
            f"OR w.int_value {_IN_JSON.format(f'wi{n}')})"
        )
        found.append((f"EXISTS ({has})", f"EXISTS ({passes})"))
    return found


def _check_sql(check: WhereCheck) -> tuple[str, dict[str, Any]]:
    """The first ticket of a `WhereCheck` that lacks a property it filters on."""
    params: dict[str, Any] = {"ids": json.dumps(check.match_ids)}
    steps = " ".join(
        f"WHEN NOT {has} THEN :w{n} WHEN NOT {passes} THEN NULL"
        for n, (has, passes) in enumerate(_filter_sql(check.where, params))
    )
    column = check.column
    sql = (
        f"SELECT {column}, id, missing FROM (SELECT t.{column}, t.id, CASE {steps} END AS missing "
        f"FROM tickets t WHERE t.{column} {_IN_JSON.format('ids')}) "
        "WHERE missing IS NOT NULL LIMIT 1"
    )
    return sql, params


def _kpi_sql(query: KpiQuery) -> tuple[str, dict[str, Any]]:
    """The SQLite statement of a custom-KPI query (its rows are `KpiRow`s).

    Every value is a bound parameter; the sum is summed as two 32-bit halves, so
    it never overflows.
    """
    key, event = f"t.{query.column}", f"t.{query.event}"
    params: dict[str, Any] = {"ids": json.dumps(query.match_ids), "end": query.end}
    params.update((f"b{j}", b) for j, b in enumerate(query.bounds[:-1]))
    where = [f"{key} {_IN_JSON.format('ids')}", f"{event} >= :b0", f"{event} < :end"]
    join, bad, value = "", "0", "0"
    if query.start is not None:  # counted when the start has happened by the event
        start = f"t.{query.start}"
        where += [f"{start} IS NOT NULL", f"{start} <= {event}"]
        value = f"{event} - {start}"
    elif query.value_property is not None:
        join = "LEFT JOIN ticket_property v ON v.ticket_id = t.id AND v.name = :vp"
        params["vp"] = query.value_property
        bad, value = "(v.int_value IS NULL OR v.int_value < 0)", "v.int_value"
    if query.pipelines is not None:
        where.append(f"t.pipeline {_IN_JSON.format('pipelines')}")
        params["pipelines"] = json.dumps(query.pipelines)
    where += [passes for _, passes in _filter_sql(query.where, params)]
    within = "0"
    if query.threshold is not None:
        within, params["threshold"] = "sum(v <= :threshold)", query.threshold
    pipeline = "t.pipeline" if query.by_pipeline else "NULL"
    inner = (
        f"SELECT {key} AS k, {bucket_sql(event, 0, query.milestones)} AS b, {pipeline} AS p, "
        f"t.id AS id, {bad} AS bad, CASE WHEN {bad} THEN NULL ELSE {value} END AS v "
        f"FROM tickets t {join} WHERE {' AND '.join(where)}"
    )
    sql = (
        f"SELECT k, b, p, count(*), sum(v >> 32), sum(v & 4294967295), {within}, min(v), "
        f"max(v), sum(bad), min(CASE WHEN bad THEN id END), NULL FROM ({inner}) GROUP BY k, b, p"
    )
    return sql, params


def select_sql(
    query: TicketQuery | None,
    *,
    in_list: str = _IN_JSON,
    pack: Callable[[list[str]], Any] = json.dumps,
    mark: str = ":",
) -> tuple[str, dict[str, Any]]:
    """The tickets-table SELECT for ``query``, with named parameters only.

    ``in_list`` is the SQL of "in this list" with a ``{}`` for the parameter's
    name, ``pack`` makes the list parameter, ``mark`` starts a parameter name
    (``:name`` in SQLite, ``$name`` in DuckDB).
    """
    where: list[str] = []
    params: dict[str, Any] = {}
    if query is not None:
        if query.pipelines is not None:
            where.append(f"pipeline {in_list.format('pipelines')}")
            params["pipelines"] = pack(sorted(query.pipelines))
        people = []
        for column, ids in (("owner_id", query.owner_ids), ("team_id", query.team_ids)):
            if ids is not None:
                people.append(f"{column} {in_list.format(column)}")
                params[column] = pack(sorted(ids))
        if people:
            where.append(f"({' OR '.join(people)})")
        window = query.window_us
        if window is not None:
            params["start"], params["end"] = window
            start, end = f"{mark}start", f"{mark}end"
            where.append(
                f"((first_response_at >= {start} AND first_response_at < {end}) OR "
                f"(closed_at >= {start} AND closed_at < {end}))"
            )
    sql = f"SELECT {_COLUMN_LIST} FROM tickets"
    return (f"{sql} WHERE {' AND '.join(where)}" if where else sql), params


def _has_table(connection: sqlite3.Connection, name: str) -> bool:
    found = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    )
    return found.fetchone() is not None


def _has_rows(connection: sqlite3.Connection, name: str) -> bool:
    """True when the side table ``name`` (a fixed name) exists and holds a row."""
    if not _has_table(connection, name):
        return False
    return connection.execute(f"SELECT 1 FROM {name} LIMIT 1").fetchone() is not None


def _store_side(
    connection: sqlite3.Connection,
    table: str,
    schema: str,
    rows: list[Any],
    replaced: list[str],
) -> None:
    """Store the rows of a side table (histories, properties) of the tickets just stored,
    creating the table when its first rows come; a replaced ticket's rows are replaced."""
    if rows:
        connection.execute(schema)
    elif not _has_table(connection, table):
        return
    if replaced:
        connection.execute(
            f"DELETE FROM {table} WHERE ticket_id {_IN_JSON.format('ids')}",
            {"ids": json.dumps(replaced)},
        )
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        connection.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


class SqliteSource(PushDownSource):
    """Tickets in an SQLite file (stdlib ``sqlite3``), with aggregate push-down.

    The ``tickets`` table stores instants as INTEGER epoch microseconds (UTC),
    ``ticket_property`` the tickets' properties (one typed row each).
    [`measure`][] runs the GROUP BY in the database, one query per
    [`AggregateQuery`][] of the [`PushDownPlan`][] (and per custom-KPI query),
    with bound parameters only.
    Each operation opens its own connection, so one source serves many threads.

    ``milestone_queries_up_to`` tunes the push-down: a query whose milestones
    times contributor ids (index seeks) stay within it runs once per milestone,
    which lets SQLite group rows straight from the index; a larger one runs once,
    bucketing rows with a CASE tree and grouping them in a sorter.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        milestone_queries_up_to: int = MILESTONE_QUERIES_UP_TO,
    ) -> None:
        self.path = _path(path)
        self.milestone_queries_up_to = integer(
            "milestone_queries_up_to", milestone_queries_up_to, low=0
        )
        connection = self._connect()
        try:
            found = {row[1] for row in connection.execute("PRAGMA table_info(tickets)")}
        except sqlite3.DatabaseError as exc:
            raise DataSourceError(f"{self.path}: not an SQLite database: {exc}") from None
        finally:
            connection.close()
        if not found:
            raise DataSourceError(
                f"{self.path}: no 'tickets' table; create one with SqliteSource.create()"
            )
        missing = [c for c in CSV_COLUMNS if c not in found]
        if missing:
            raise DataSourceError(
                f"{self.path}: the 'tickets' table lacks the column(s) {', '.join(missing)}"
            )

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> SqliteSource:
        """Create the file (if needed), the ``tickets`` table and its indexes."""
        target = _path(path)
        try:
            connection = sqlite3.connect(target, isolation_level=None)
        except sqlite3.Error as exc:
            raise DataSourceError(f"{target}: cannot create the database: {exc}") from None
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.executescript(
                f"BEGIN;\n{_SQLITE_SCHEMA}\n{_SQLITE_HISTORY_SCHEMA};\n"
                f"{_SQLITE_PROPERTY_SCHEMA};\nCOMMIT;"
            )
        except sqlite3.Error as exc:
            raise DataSourceError(f"{target}: cannot create the tickets table: {exc}") from None
        finally:
            connection.close()
        return cls(target)

    def _connect(self) -> sqlite3.Connection:
        # mode=rw: a missing file is an error, never a new empty database.
        uri = f"{self.path.resolve().as_uri()}?mode=rw"
        try:
            return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            reason = "no such file" if not self.path.exists() else str(exc)
            raise DataSourceError(f"{self.path}: cannot open the database: {reason}") from None

    def add_tickets(self, tickets: Iterable[Ticket], *, replace: bool = False) -> int:
        """Store ``tickets`` in one transaction; all or nothing.  Returns how many.

        A ticket id that is already stored is an error, unless ``replace`` is
        true: then the stored ticket is updated (a ticket that was answered or
        closed since the last import).
        """
        conflict = (
            " ON CONFLICT (id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in CSV_COLUMNS[1:])
            if replace
            else ""
        )
        sql = f"INSERT INTO tickets ({_COLUMN_LIST}) VALUES ({', '.join('?' * 7)}){conflict}"
        current: list[Any] = [-1, None]
        history: list[HistoryRow] = []
        properties: list[PropertyRow] = []
        replaced: list[str] = []

        def rows() -> Iterator[tuple[Any, ...]]:
            for i, ticket in enumerate(tickets):
                if not isinstance(ticket, Ticket):
                    raise InvalidInput(f"tickets[{i}]", ticket, "expected a Ticket")
                current[:] = [i, ticket]
                if ticket.has_history:
                    history.extend(history_rows(ticket))
                if ticket.properties:
                    properties.extend(property_rows(ticket))
                if replace:
                    replaced.append(ticket.id)
                yield ticket_row(ticket)

        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(sql, rows())
                _store_side(connection, "ticket_history", _SQLITE_HISTORY_SCHEMA, history, replaced)
                _store_side(
                    connection, "ticket_property", _SQLITE_PROPERTY_SCHEMA, properties, replaced
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        except sqlite3.IntegrityError as exc:
            i, ticket = current
            raise DataSourceError(
                f"{self.path}: tickets[{i}]: cannot store ticket {ticket.id!r}: {exc} "
                "(an id that is already stored needs replace=True); nothing was stored"
            ) from None
        except sqlite3.Error as exc:
            raise DataSourceError(f"{self.path}: cannot store tickets: {exc}") from None
        finally:
            connection.close()
        return int(current[0]) + 1

    def _histories(self, connection: sqlite3.Connection) -> Histories:
        if not _has_table(connection, "ticket_history"):
            return {}
        return read_histories(str(self.path), connection.execute(_HISTORY_SELECT))

    def tickets(self, query: TicketQuery | None = None) -> Iterator[Ticket]:
        """Stream the stored tickets that match ``query`` (in no particular order).

        Ticket histories are read whole first (they are usually few); properties
        are read for a thousand tickets at a time.
        """
        yield from self.read_tickets(self._connect(), query)

    def read_tickets(
        self, connection: sqlite3.Connection, query: TicketQuery | None = None
    ) -> Iterator[Ticket]:
        """`tickets` read on ``connection`` (within its transaction), which it closes."""
        source = str(self.path)
        try:
            histories = self._histories(connection)
            # An earlier close may place a ticket: with histories, filter the
            # window in Python, where TicketQuery.matches sees every close.
            selected = query
            if histories and query is not None and query.window is not None:
                selected = attrs.evolve(query, window=None)
            sql, params = select_sql(selected)
            found: Iterable[Ticket] = (
                with_history(source, ticket_from_row(source, row), histories)
                for row in connection.execute(sql, params)
            )
            if _has_rows(connection, "ticket_property"):
                found = attach_properties(
                    source,
                    found,
                    lambda ids: connection.execute(_PROPERTY_SELECT, {"ids": json.dumps(ids)}),
                )
            for ticket in found:
                if selected is query or query is None or query.matches(ticket):
                    yield ticket
        except sqlite3.Error as exc:
            raise DataSourceError(f"{self.path}: cannot read tickets: {exc}") from None
        finally:
            connection.close()

    def _aggregate_plan(self, plan: PushDownPlan) -> None:
        connection = self._connect()
        try:
            for index, check in enumerate(plan.checks):
                plan.check(index, connection.execute(*_check_sql(check)))
            for index, query in enumerate(plan.queries):
                plan.collect(index, self._aggregate(connection, query))
            for index, kpi_query in enumerate(plan.kpi_queries):
                plan.collect_kpi(index, connection.execute(*_kpi_sql(kpi_query)))
        except sqlite3.Error as exc:
            raise DataSourceError(f"{self.path}: cannot measure: {exc}") from None
        finally:
            connection.close()

    def _read(self, what: str, read: Callable[[sqlite3.Connection], _T]) -> _T:
        """``read`` on a connection of its own; an SQLite error names ``what``."""
        connection = self._connect()
        try:
            return read(connection)
        except sqlite3.Error as exc:
            raise DataSourceError(f"{self.path}: cannot read {what}: {exc}") from None
        finally:
            connection.close()

    def _pushes_kpis(self) -> bool:
        """True when the property table exists (older files stream custom KPIs)."""
        return self._read("the tables", lambda c: _has_table(c, "ticket_property"))

    def _property_value(self, ticket_id: str, name: str) -> PropertyValue | None:
        def read(connection: sqlite3.Connection) -> PropertyValue | None:
            rows = connection.execute(_PROPERTY_SELECT, {"ids": json.dumps([ticket_id])})
            return read_properties(str(self.path), rows).get(ticket_id, {}).get(name)

        return self._read("properties", read)

    def _must_stream(self) -> bool:
        """True when some ticket has a history: push-down cannot place or time it."""
        return self._read("ticket histories", lambda c: _has_rows(c, "ticket_history"))

    def _aggregate(self, connection: sqlite3.Connection, query: AggregateQuery) -> list[Any]:
        by_milestone = query.milestones * len(query.match_ids) <= self.milestone_queries_up_to
        try:
            return _run_aggregate(connection, query, by_milestone=by_milestone, split=False)
        except sqlite3.OperationalError as exc:
            if "overflow" not in str(exc):
                raise
        # A sum beyond 64 bits: add the two halves in Python, exactly.
        rows = _run_aggregate(connection, query, by_milestone=by_milestone, split=True)
        return [(k, b, p, n, (high << 32) + low) for k, b, p, n, high, low in rows]
