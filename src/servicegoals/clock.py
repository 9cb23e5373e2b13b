"""Clock policies: which clock times a ticket, what pauses it, which close counts.

A goal's [ClockPolicy][servicegoals.ClockPolicy] decides how its response and
resolution times are measured.  The default policy is wall-clock time from
creation to the first response or the final close, with nothing paused.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from attrs import field, frozen

from ._validate import aware, checked, from_us, text, to_us
from .errors import InvalidInput
from .kpis import Ticket
from .worktime import CALENDAR, CalendarClock, WorkingClock

__all__ = [
    "DEFAULT_POLICY",
    "ClockPolicy",
    "Resolution",
    "TicketTimes",
    "as_of_limit",
    "close_as_of",
    "ticket_times",
    "working_us",
]


class Resolution(enum.Enum):
    """Which close resolves a ticket that was reopened."""

    #: The current close: a reopened ticket moves to the milestone of its final close.
    FINAL_CLOSE = "final_close"
    #: The first close, whatever happened after it.
    FIRST_CLOSE = "first_close"


def _clock(name: str, value: Any) -> WorkingClock:
    if not isinstance(value, WorkingClock):
        raise InvalidInput(name, value, "expected a WorkingClock (a working_us(start, end) method)")
    return value


def _statuses(value: Any) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInput("paused_statuses", value, "expected a collection of status names")
    return frozenset(text("paused_statuses", v) for v in value)


def _team_clocks(value: Any) -> tuple[tuple[str, WorkingClock], ...]:
    if not isinstance(value, Mapping):
        value = dict(value) if isinstance(value, (tuple, list)) else value
    if not isinstance(value, Mapping):
        raise InvalidInput("team_clocks", value, "expected a mapping of team id to clock")
    return tuple(
        sorted((text("team_clocks", k), _clock(f"team_clocks.{k}", v)) for k, v in value.items())
    )


def _resolution(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, Resolution):
        raise InvalidInput("resolution", value, "expected a Resolution")


@frozen
class ClockPolicy:
    """How a goal times its tickets.

    Args:
        clock: the working clock (`CALENDAR`, wall-clock time, by default; a
            schedule for business hours).
        paused_statuses: statuses that stop the clock: the working time a
            ticket spends in them is not counted.
        resolution: whether the first or the final close resolves a ticket.
        team_clocks: clocks by team id, used instead of ``clock`` for the
            tickets of that team (its own schedule).
    """

    clock: WorkingClock = field(default=CALENDAR, validator=checked(_clock, "clock"), eq=False)
    paused_statuses: frozenset[str] = field(default=frozenset(), converter=_statuses)
    resolution: Resolution = field(default=Resolution.FINAL_CLOSE, validator=_resolution)
    team_clocks: tuple[tuple[str, WorkingClock], ...] = field(
        default=(), converter=_team_clocks, eq=False
    )
    # Compared by identity-free keys: clocks need not be hashable.
    _key: tuple[Any, ...] = field(init=False, repr=False, eq=True)
    _by_team: dict[str, WorkingClock] = field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        key = (_clock_key(self.clock), tuple((t, _clock_key(c)) for t, c in self.team_clocks))
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_by_team", dict(self.team_clocks))

    def clock_for(self, team_id: str | None) -> WorkingClock:
        """The clock of a ticket of ``team_id``: its team's clock, else ``clock``."""
        by_team = self._by_team
        return self.clock if not by_team or team_id is None else by_team.get(team_id, self.clock)

    @property
    def calendar(self) -> bool:
        """True when every clock of the policy is wall-clock time."""
        return all(isinstance(c, CalendarClock) for c in (self.clock, *self._by_team.values()))

    @property
    def wall_clock(self) -> bool:
        """True when durations are plain wall-clock time: calendar clocks, nothing paused."""
        return not self.paused_statuses and self.calendar


def _clock_key(clock: WorkingClock) -> Any:
    try:
        hash(clock)
    except TypeError:
        return id(clock)
    return clock


#: Today's behaviour: wall-clock time, nothing paused, the final close resolves.
DEFAULT_POLICY = ClockPolicy()


def as_of_limit(at: datetime | None) -> int | None:
    """The first epoch microsecond after ``at``: events from it on have not happened.

    None (every event known) for ``at=None``; a naive or non-datetime ``at``
    raises `InvalidInput`.
    """
    return None if at is None else to_us(aware("at", at)) + 1


def close_as_of(ticket: Ticket, resolution: Resolution, limit: int | None) -> int | None:
    """The close (epoch µs) that resolves ``ticket`` before ``limit``, or None if open.

    ``limit`` is the first microsecond after the as-of instant (None: every
    event).  Under the final-close rule a ticket reopened before the instant
    and not closed again by it is open.
    """
    closed = ticket.closed_us
    reopens = ticket.reopens_us
    if resolution is Resolution.FIRST_CLOSE:
        first = reopens[0][0] if reopens else closed
        return first if first is None or limit is None or first < limit else None
    if limit is None:
        return closed
    if closed is not None and closed < limit:
        return closed
    found = None
    for close, reopen in reopens:
        if close >= limit:
            break
        found = close if reopen >= limit else None
    return found


def working_us(ticket: Ticket, policy: ClockPolicy, end_us: int) -> int:
    """The working time from ``ticket``'s creation to ``end_us`` under ``policy``.

    The working time of the paused statuses' intervals inside that span is
    subtracted.
    """
    clock = policy.clock_for(ticket.team_id)
    start_us = ticket.created_us
    total = clock.working_us(start_us, end_us)
    paused = policy.paused_statuses
    if paused:
        for status, start, stop in ticket.statuses_us:
            if start >= end_us:
                break  # sorted by start
            if status in paused:
                stop = end_us if stop is None or stop > end_us else stop
                total -= clock.working_us(start, stop)
    return total


@frozen
class TicketTimes:
    """A ticket's response and resolution, timed under a policy.

    ``responded_at`` and ``resolved_at`` are the first response and the close
    that counts (None when they have not happened as of the instant asked).
    ``response`` and ``resolution`` are timed by the policy (its clock, pauses
    subtracted); the ``*_calendar`` values are wall-clock time from creation,
    nothing paused.
    """

    responded_at: datetime | None
    resolved_at: datetime | None
    response: timedelta | None
    response_calendar: timedelta | None
    resolution: timedelta | None
    resolution_calendar: timedelta | None


def ticket_times(
    ticket: Ticket, policy: ClockPolicy = DEFAULT_POLICY, *, at: datetime | None = None
) -> TicketTimes:
    """``ticket``'s response and resolution times under ``policy``, as of ``at``.

    Raises:
        InvalidInput: ``ticket`` is not a Ticket, ``policy`` not a ClockPolicy
            or ``at`` is not an aware datetime.
    """
    if not isinstance(ticket, Ticket):
        raise InvalidInput("ticket", ticket, "expected a Ticket")
    if not isinstance(policy, ClockPolicy):
        raise InvalidInput("policy", policy, "expected a ClockPolicy")
    limit = as_of_limit(at)
    responded = ticket.first_response_us
    if responded is not None and limit is not None and responded >= limit:
        responded = None
    resolved = close_as_of(ticket, policy.resolution, limit)

    def timed(end: int | None) -> tuple[datetime | None, timedelta | None, timedelta | None]:
        if end is None:
            return None, None, None
        working = timedelta(microseconds=working_us(ticket, policy, end))
        return from_us(end), working, timedelta(microseconds=end - ticket.created_us)

    responded_at, response, response_calendar = timed(responded)
    resolved_at, resolution, resolution_calendar = timed(resolved)
    return TicketTimes(
        responded_at, resolved_at, response, response_calendar, resolution, resolution_calendar
    )
