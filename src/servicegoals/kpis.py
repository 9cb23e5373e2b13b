"""Service KPIs, tickets and the measurements a milestone accumulates."""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from attrs import field, frozen

from ._errors import InvalidInput
from ._validate import identifier, instant, integer, text, to_us

__all__ = [
    "AVG_RESOLUTION_TIME",
    "AVG_RESPONSE_TIME",
    "CLOSED_TICKETS",
    "SERVICE_TEMPLATES",
    "Direction",
    "Kpi",
    "Measurement",
    "Reopen",
    "StatusInterval",
    "Ticket",
    "TicketEvent",
    "Unit",
    "kpi_by_key",
]


class Unit(enum.Enum):
    """What a KPI's value is: a number of tickets or a duration."""

    COUNT = "count"
    DURATION = "duration"


class Direction(enum.Enum):
    """Whether a bigger value is better (counts) or worse (waiting times)."""

    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class TicketEvent(enum.Enum):
    """The ticket timestamp that places a ticket in a milestone."""

    CLOSED = "closed_at"
    FIRST_RESPONSE = "first_response_at"


def _member(name: str, kind: type[enum.Enum], value: Any) -> None:
    if not isinstance(value, kind):
        raise InvalidInput(name, value, f"expected a {kind.__name__}")


@frozen
class Kpi:
    """A measurable quantity a goal sets targets on.

    ``event`` says which timestamp puts a ticket into a milestone; a DURATION
    KPI's value for one ticket is that timestamp minus ``created_at``.
    """

    key: str = field(validator=lambda _, __, v: text("kpi.key", v))
    label: str = field(validator=lambda _, __, v: text("kpi.label", v))
    unit: Unit = field(validator=lambda _, __, v: _member("kpi.unit", Unit, v))
    direction: Direction = field(validator=lambda _, __, v: _member("kpi.direction", Direction, v))
    event: TicketEvent = field(
        default=TicketEvent.CLOSED, validator=lambda _, __, v: _member("kpi.event", TicketEvent, v)
    )


CLOSED_TICKETS = Kpi(
    "closed_tickets", "Closed tickets", Unit.COUNT, Direction.HIGHER_IS_BETTER, TicketEvent.CLOSED
)
AVG_RESPONSE_TIME = Kpi(
    "avg_response_time",
    "Average ticket response time",
    Unit.DURATION,
    Direction.LOWER_IS_BETTER,
    TicketEvent.FIRST_RESPONSE,
)
AVG_RESOLUTION_TIME = Kpi(
    "avg_resolution_time",
    "Average ticket resolution time",
    Unit.DURATION,
    Direction.LOWER_IS_BETTER,
    TicketEvent.CLOSED,
)

#: The service goal templates by key.
SERVICE_TEMPLATES: dict[str, Kpi] = {
    k.key: k for k in (CLOSED_TICKETS, AVG_RESPONSE_TIME, AVG_RESOLUTION_TIME)
}


def kpi_by_key(key: str) -> Kpi:
    """The service template called ``key``."""
    try:
        return SERVICE_TEMPLATES[key]
    except (KeyError, TypeError):
        raise InvalidInput(
            "kpi", key, f"unknown goal template; known: {', '.join(SERVICE_TEMPLATES)}"
        ) from None


def _id(name: str, *, optional: bool = False) -> Any:
    def check(instance: Any, attribute: Any, value: Any) -> None:
        identifier(name, value, optional=optional)

    return check


def _instant(name: str, *, optional: bool = False) -> Any:
    def check(instance: Any, attribute: Any, value: Any) -> None:
        if value is None and optional:
            return
        instant(name, value)

    return check


@frozen
class StatusInterval:
    """A time a ticket spent in one status, such as "waiting on customer".

    ``end`` is None while the ticket is still in that status.
    """

    status: str = field(validator=_id("status"))
    start: datetime = field(validator=_instant("start"))
    end: datetime | None = field(default=None, validator=_instant("end", optional=True))


@frozen
class Reopen:
    """An earlier close of a ticket that was reopened: the close and the reopen instants."""

    closed_at: datetime = field(validator=_instant("closed_at"))
    reopened_at: datetime = field(validator=_instant("reopened_at"))


def _history(name: str, kind: type[Any], value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidInput(name, value, f"expected a sequence of {kind.__name__}")
    items = tuple(value)
    for i, item in enumerate(items):
        if not isinstance(item, kind):
            raise InvalidInput(f"{name}[{i}]", item, f"expected a {kind.__name__}")
    return items


def _statuses(value: Any) -> tuple[StatusInterval, ...]:
    return _history("statuses", StatusInterval, value)


def _reopens(value: Any) -> tuple[Reopen, ...]:
    return _history("reopens", Reopen, value)


#: ``(status, start_us, end_us or None)`` of one status interval.
StatusSpan = tuple[str, int, int | None]


@frozen
class Ticket:
    """A helpdesk ticket, as much of it as the service KPIs need.

    ``first_response_at`` and ``closed_at`` may not be before ``created_at``.
    ``closed_at`` is the current (final) close; ``reopens`` lists the earlier
    closes that were reopened, in order, and ``statuses`` the status intervals
    (which of them pause the clock is a goal's `ClockPolicy`).  The ``*_us``
    attributes hold the instants as epoch microseconds for the measuring loop,
    which works on plain integers; ``has_history`` is false for the usual
    ticket without reopens or statuses, which then costs nothing extra.
    """

    id: str = field(validator=_id("id"))
    created_at: datetime = field(validator=_instant("created_at"))
    pipeline: str = field(validator=_id("pipeline"))
    owner_id: str | None = field(default=None, validator=_id("owner_id", optional=True))
    team_id: str | None = field(default=None, validator=_id("team_id", optional=True))
    first_response_at: datetime | None = field(
        default=None, validator=_instant("first_response_at", optional=True)
    )
    closed_at: datetime | None = field(default=None, validator=_instant("closed_at", optional=True))
    statuses: tuple[StatusInterval, ...] = field(default=(), converter=_statuses)
    reopens: tuple[Reopen, ...] = field(default=(), converter=_reopens)
    created_us: int = field(init=False, eq=False, repr=False)
    first_response_us: int | None = field(init=False, eq=False, repr=False)
    closed_us: int | None = field(init=False, eq=False, repr=False)
    has_history: bool = field(init=False, eq=False, repr=False)
    #: The earliest close (``closed_us`` without reopens).
    first_closed_us: int | None = field(init=False, eq=False, repr=False)
    #: ``(close_us, reopen_us)`` of each reopened close, in order.
    reopens_us: tuple[tuple[int, int], ...] = field(init=False, eq=False, repr=False)
    #: ``(status, start_us, end_us or None)`` of each status interval, by start.
    statuses_us: tuple[StatusSpan, ...] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        created = to_us(self.created_at)
        first = None if self.first_response_at is None else to_us(self.first_response_at)
        closed = None if self.closed_at is None else to_us(self.closed_at)
        if first is not None and first < created:
            raise InvalidInput(
                "first_response_at",
                self.first_response_at,
                f"ticket {self.id!r} was answered before it was created ({self.created_at})",
            )
        if closed is not None and closed < created:
            raise InvalidInput(
                "closed_at",
                self.closed_at,
                f"ticket {self.id!r} was closed before it was created ({self.created_at})",
            )
        object.__setattr__(self, "created_us", created)
        object.__setattr__(self, "first_response_us", first)
        object.__setattr__(self, "closed_us", closed)
        object.__setattr__(self, "has_history", bool(self.statuses or self.reopens))
        reopens = self._check_reopens(created, closed)
        object.__setattr__(self, "reopens_us", reopens)
        object.__setattr__(self, "first_closed_us", reopens[0][0] if reopens else closed)
        object.__setattr__(self, "statuses_us", self._check_statuses(created))

    def _check_reopens(self, created: int, closed: int | None) -> tuple[tuple[int, int], ...]:
        found: list[tuple[int, int]] = []
        since = created  # each close comes at or after the previous reopen
        for i, reopen in enumerate(self.reopens):
            close, again = to_us(reopen.closed_at), to_us(reopen.reopened_at)
            if close < since:
                what = "created" if i == 0 else f"reopened ({self.reopens[i - 1].reopened_at})"
                raise InvalidInput(
                    f"reopens[{i}].closed_at",
                    reopen.closed_at,
                    f"ticket {self.id!r}: closes out of order: before the ticket was {what}",
                )
            if again < close:
                raise InvalidInput(
                    f"reopens[{i}].reopened_at",
                    reopen.reopened_at,
                    f"ticket {self.id!r} was reopened before it was closed ({reopen.closed_at})",
                )
            found.append((close, again))
            since = again
        if found and closed is not None and closed < since:
            raise InvalidInput(
                "closed_at",
                self.closed_at,
                f"ticket {self.id!r}: the final close is before the last reopen "
                f"({self.reopens[-1].reopened_at})",
            )
        return tuple(found)

    def _check_statuses(self, created: int) -> tuple[StatusSpan, ...]:
        spans: list[tuple[int, int | None, int]] = []
        for i, interval in enumerate(self.statuses):
            start = to_us(interval.start)
            end = None if interval.end is None else to_us(interval.end)
            if start < created:
                raise InvalidInput(
                    f"statuses[{i}].start",
                    interval.start,
                    f"ticket {self.id!r} entered {interval.status!r} before it was created",
                )
            if end is not None and end < start:
                raise InvalidInput(
                    f"statuses[{i}].end",
                    interval.end,
                    f"ticket {self.id!r} left {interval.status!r} before it entered it "
                    f"({interval.start})",
                )
            spans.append((start, end, i))
        spans.sort(key=lambda s: (s[0], s[2]))
        for (_, end, i), (later, _, j) in itertools.pairwise(spans):
            if end is None or end > later:
                before, after = self.statuses[i], self.statuses[j]
                raise InvalidInput(
                    f"statuses[{j}].start",
                    after.start,
                    f"ticket {self.id!r}: {after.status!r} overlaps {before.status!r} "
                    f"({before.start} to {before.end or 'now'})",
                )
        return tuple((self.statuses[i].status, start, end) for start, end, i in spans)


def _count(name: str) -> Any:
    def check(instance: Any, attribute: Any, value: Any) -> None:
        integer(name, value, low=0)

    return check


@frozen
class Measurement:
    """What one milestone of one contributor accumulated.

    ``count`` is the number of tickets that counted; ``total`` is the sum of their
    durations in integer microseconds (0 for COUNT KPIs).  Measurements add up.
    """

    count: int = field(default=0, validator=_count("count"))
    total: int = field(default=0, validator=_count("total"))

    def __add__(self, other: Measurement) -> Measurement:
        if not isinstance(other, Measurement):
            return NotImplemented
        return Measurement(self.count + other.count, self.total + other.total)

    @property
    def average(self) -> Fraction | None:
        """The mean duration in microseconds, exactly; None without tickets."""
        if self.count == 0:
            return None
        return Fraction(self.total, self.count)

    @property
    def average_duration(self) -> timedelta | None:
        """The mean duration rounded to the microsecond, for display."""
        mean = self.average
        return None if mean is None else timedelta(microseconds=round(mean))
