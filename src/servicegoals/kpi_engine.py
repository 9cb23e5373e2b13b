"""The general measuring path: custom KPIs, one ticket at a time.

`measure` sends the goals whose KPI is not one of the templates' fast shapes
here, feeding the same single pass over the tickets.  Counts, sums, shares,
minimums and maximums keep a few ints per cell; a PERCENTILE cell keeps one
int per ticket it counts (exact order statistics cannot be merged otherwise).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ._validate import duration_us, to_us
from .clock import Resolution, close_as_of, working_us
from .errors import InvalidInput
from .goals import ContributorKind, Goal
from .kpis import Aggregation, Contribution, Kpi, Measurement, Ticket, TicketEvent

if TYPE_CHECKING:  # measure imports this module when it meets a custom KPI
    from .measure import CellPlan

__all__ = ["KpiEngine"]


class _Cells:
    """The accumulators of one (goal, contributor): one slot per milestone."""

    __slots__ = (
        "contributor_id",
        "counts",
        "end",
        "goal_id",
        "highs",
        "inner",
        "kpi",
        "lows",
        "pipelines",
        "plan",
        "start",
        "threshold",
        "totals",
        "values",
        "withins",
    )

    def __init__(self, goal: Goal, plan: CellPlan, limit: int | None) -> None:
        n = len(plan.bounds) - 1
        self.plan = plan
        self.kpi = goal.kpi
        self.goal_id = plan.goal_id
        self.contributor_id = plan.contributor_id
        self.inner = plan.bounds[1:-1]
        self.start = plan.bounds[0]
        self.end = plan.bounds[-1] if limit is None else min(plan.bounds[-1], limit)
        self.pipelines = plan.pipelines
        threshold = self.kpi.threshold
        self.threshold = duration_us(threshold) if isinstance(threshold, timedelta) else threshold
        self.counts = [0] * n
        self.totals = [0] * n
        self.withins = [0] * n
        self.lows: list[int | None] = [None] * n
        self.highs: list[int | None] = [None] * n
        self.values: list[list[int]] = [[] for _ in range(n)]

    def add(self, j: int, value: int) -> None:
        self.counts[j] += 1
        self.totals[j] += value
        agg = self.kpi.aggregation
        if agg is Aggregation.SHARE:
            assert self.threshold is not None
            self.withins[j] += value <= self.threshold
        elif agg is Aggregation.MINIMUM:
            low = self.lows[j]
            self.lows[j] = value if low is None else min(low, value)
        elif agg is Aggregation.MAXIMUM:
            high = self.highs[j]
            self.highs[j] = value if high is None else max(high, value)
        elif agg is Aggregation.PERCENTILE:
            self.values[j].append(value)

    def measurement(self, j: int) -> Measurement:
        values = tuple(sorted(self.values[j])) or None
        return Measurement(
            self.counts[j], self.totals[j], self.withins[j], self.lows[j], self.highs[j], values
        )


def _instant(
    ticket: Ticket, event: TicketEvent, kpi: Kpi, cells: _Cells, limit: int | None
) -> int | None:
    """When ``event`` happened to ``ticket`` (epoch µs), None if it has not by ``limit``."""
    when: int | None
    if event is TicketEvent.CLOSED:
        return close_as_of(ticket, cells.plan.policy.resolution, limit)
    if event is TicketEvent.FIRST_CLOSE:
        return close_as_of(ticket, Resolution.FIRST_CLOSE, limit)
    if event is TicketEvent.FIRST_RESPONSE:
        when = ticket.first_response_us
    elif event is TicketEvent.CREATED:
        when = ticket.created_us
    else:  # PROPERTY (REOPENED is placed by the caller)
        name = kpi.event_property
        assert name is not None
        found = ticket.properties.get(name)
        if found is None:
            return None  # like an unanswered ticket: the event has not happened
        if not isinstance(found, datetime):
            raise InvalidInput(
                f"ticket {ticket.id!r}.properties[{name!r}]",
                found,
                f"KPI {kpi.key!r} places tickets by it: expected an aware datetime",
            )
        when = to_us(found)
    return None if when is None or (limit is not None and when >= limit) else when


class KpiEngine:
    """Measures custom-KPI goals from the tickets `tap` sees, then `result`."""

    def __init__(self, goals: Sequence[Goal], plans: Iterable[CellPlan], limit: int | None) -> None:
        by_id = {g.id: g for g in goals}
        self.limit = limit
        self.cells = [_Cells(by_id[p.goal_id], p, limit) for p in plans]
        self.by_owner: dict[str | None, list[_Cells]] = {}
        self.by_team: dict[str | None, list[_Cells]] = {}
        for cell in self.cells:
            user = cell.plan.kind is ContributorKind.USER
            index = self.by_owner if user else self.by_team
            for match in cell.plan.match_ids:
                index.setdefault(match, []).append(cell)

    def tap(self, tickets: Iterable[Ticket]) -> Iterator[Ticket]:
        """Yield ``tickets`` unchanged, measuring each on the way."""
        for position, ticket in enumerate(tickets):
            if not isinstance(ticket, Ticket):
                raise InvalidInput(f"tickets[{position}]", ticket, "expected a Ticket")
            self.feed(ticket)
            yield ticket

    def feed(self, ticket: Ticket) -> None:
        """Add one ticket to every cell it counts in."""
        hits = self.by_owner.get(ticket.owner_id, []) + self.by_team.get(ticket.team_id, [])
        for cell in hits:
            kpi = cell.kpi
            if not _wanted(ticket, kpi):
                continue
            if kpi.event is TicketEvent.REOPENED:
                # A ticket counts once per milestone, however often it reopened there.
                found = {
                    j
                    for _, again in ticket.reopens_us
                    if (j := _slot(cell, ticket, again)) is not None
                }
                for j in found:
                    cell.add(j, 0)
                continue
            when = _instant(ticket, kpi.event, kpi, cell, self.limit)
            j = None if when is None else _slot(cell, ticket, when)
            if j is None:
                continue
            assert when is not None
            value = _contribution(ticket, kpi, cell, when, self.limit)
            if value is not None:
                cell.add(j, value)

    def result(self) -> dict[tuple[str, str, int], Measurement]:
        """Every cell's measurement, keyed like `measure`'s."""
        return {
            (cell.goal_id, cell.contributor_id, j): cell.measurement(j)
            for cell in self.cells
            for j in range(len(cell.counts))
        }


def _wanted(ticket: Ticket, kpi: Kpi) -> bool:
    """Whether ``ticket`` passes the KPI's ``where`` filter."""
    for name, allowed in kpi.where:
        if name not in ticket.properties:
            raise InvalidInput(
                f"ticket {ticket.id!r}.properties",
                name,
                f"KPI {kpi.key!r} filters on this property, which the ticket lacks",
            )
        if ticket.properties[name] not in allowed:
            return False
    return True


def _slot(cell: _Cells, ticket: Ticket, when: int) -> int | None:
    """The milestone ``when`` falls in, None outside the span or the pipelines."""
    if when < cell.start or when >= cell.end:
        return None
    j = bisect_right(cell.inner, when)
    allowed = cell.pipelines[j]
    return None if allowed is not None and ticket.pipeline not in allowed else j


def _contribution(
    ticket: Ticket, kpi: Kpi, cell: _Cells, when: int, limit: int | None
) -> int | None:
    """What ``ticket`` adds to the total: 0 when counted, a duration in µs or an int
    property (None: it does not count)."""
    if kpi.contribution is Contribution.ONE:
        return 0
    if kpi.contribution is Contribution.PROPERTY:
        name = kpi.value_property
        assert name is not None
        value = ticket.properties.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInput(
                f"ticket {ticket.id!r}.properties[{name!r}]",
                value,
                f"KPI {kpi.key!r} sums it: expected an int >= 0",
            )
        return value
    begin = _instant(ticket, kpi.start, kpi, cell, limit)
    if begin is None or begin > when:
        return None  # the duration's start has not happened before its end
    policy = cell.plan.policy
    if policy.wall_clock:
        return when - begin
    return working_us(ticket, policy, when) - working_us(ticket, policy, begin)
