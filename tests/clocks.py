"""Test-local working clocks, clock policies and ticket histories for hypothesis.

``OfficeHours`` implements the `WorkingClock` protocol simply (09:00-17:00 UTC
every day, one day at a time); it stands in for the real schedules, which
another module provides.
"""

from __future__ import annotations

import attrs
from attrs import frozen
from hypothesis import strategies as st

from servicegoals import ClockPolicy, Goal, Reopen, Resolution, StatusInterval, Ticket
from servicegoals._validate import from_us
from servicegoals.worktime import CALENDAR, WorkingClock

HOUR_US = 3600 * 10**6
DAY_US = 24 * HOUR_US
STATUSES = ("waiting on customer", "on hold", "open")


@frozen
class OfficeHours:
    """09:00 to 17:00 UTC on every day."""

    def working_us(self, start_us: int, end_us: int) -> int:
        total = 0
        day = start_us // DAY_US
        while day * DAY_US < end_us:
            opens, closes = day * DAY_US + 9 * HOUR_US, day * DAY_US + 17 * HOUR_US
            total += max(0, min(end_us, closes) - max(start_us, opens))
            day += 1
        return total


OFFICE = OfficeHours()


@st.composite
def policies(draw: st.DrawFn, teams: tuple[str, ...] = ()) -> ClockPolicy:
    """Any policy: calendar or office hours, some paused statuses, either close rule."""
    clocks: list[WorkingClock] = [CALENDAR, OFFICE]
    clock = draw(st.sampled_from(clocks))
    choices: list[tuple[str, ...]] = [(), STATUSES[:1], STATUSES[:2]]
    paused = draw(st.sampled_from(choices))
    resolution = draw(st.sampled_from(Resolution))
    team_clocks: dict[str, WorkingClock] = {}
    if draw(st.booleans()) and teams:
        team_clocks = {draw(st.sampled_from(teams)): draw(st.sampled_from(clocks))}
    return ClockPolicy(clock, paused, resolution, team_clocks)


def with_policies(goal: Goal) -> st.SearchStrategy[Goal]:
    teams = tuple(c.id for c in goal.contributors)
    return policies(teams).map(lambda p: attrs.evolve(goal, clock_policy=p))


def _instants(draw: st.DrawFn, start: int, end: int, count: int) -> list[int]:
    # Steps of a thousandth: hypothesis draws big ranges' edges too often.
    steps = draw(st.lists(st.integers(0, 1000), min_size=count, max_size=count))
    return sorted(start + (end - start) * k // 1000 for k in steps)


@st.composite
def with_history(draw: st.DrawFn, ticket: Ticket) -> Ticket:
    """``ticket`` with status intervals and reopened closes that fit it (or none).

    The intervals fall between creation and a little after its latest event.
    """
    created = ticket.created_us
    events = [e for e in (ticket.first_response_us, ticket.closed_us) if e is not None]
    latest = max(events, default=created) - created
    wide = latest + latest // 4 if latest else DAY_US
    statuses = []
    points = _instants(draw, created, created + wide, 2 * draw(st.integers(0, 3)))
    for n, (start, end) in enumerate(zip(points[::2], points[1::2], strict=True)):
        still = n == len(points) // 2 - 1 and draw(st.booleans())
        status = draw(st.sampled_from(STATUSES))
        statuses.append(StatusInterval(status, from_us(start), None if still else from_us(end)))
    last = ticket.closed_us if ticket.closed_us is not None else created + wide
    points = _instants(draw, created, last, 2 * draw(st.integers(0, 2)))
    reopens = [
        Reopen(from_us(close), from_us(again))
        for close, again in zip(points[::2], points[1::2], strict=True)
    ]
    return attrs.evolve(ticket, statuses=statuses, reopens=reopens)
