"""Measuring: one pass over tickets fills every (goal, contributor, milestone) cell.

The loop works on plain integers (epoch microseconds) and `bisect`; its
memory grows with the number of cells, never with the number of tickets, so the
tickets may come from a generator of millions.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TypeAlias

import attrs
from attrs import frozen

from ._validate import by_id
from .clock import DEFAULT_POLICY, ClockPolicy, Resolution, as_of_limit, close_as_of, working_us
from .errors import InvalidInput
from .goals import ContributorKind, Directory, Goal
from .kpis import Measurement, Ticket, TicketEvent, Unit

__all__ = ["CellKey", "CellPlan", "Measurements", "measure", "plan_cells"]

FINAL = Resolution.FINAL_CLOSE

#: ``(goal_id, contributor_id, milestone_index)``
CellKey: TypeAlias = tuple[str, str, int]
Measurements: TypeAlias = Mapping[CellKey, Measurement]


@frozen
class CellPlan:
    """What to measure for one contributor of one goal.

    Sources that aggregate where the data lives (SQL push-down) read these:
    tickets whose ``owner_id`` (users) or ``team_id`` (teams, descendants
    included) is in ``match_ids``, placed by ``event`` into the milestones whose
    starts are ``bounds[:-1]`` (``bounds[-1]`` is the end), counted when their
    pipeline is in ``pipelines[j]`` (None means every pipeline), timed under
    ``policy`` (the goal's clock policy).
    """

    goal_id: str
    contributor_id: str
    kind: ContributorKind
    match_ids: frozenset[str]
    event: TicketEvent
    duration: bool
    bounds: tuple[int, ...]
    pipelines: tuple[frozenset[str] | None, ...]
    policy: ClockPolicy = DEFAULT_POLICY

    def key(self, milestone_index: int) -> CellKey:
        """The `CellKey` of one of this plan's milestones."""
        return (self.goal_id, self.contributor_id, milestone_index)


def plan_cells(goals: Iterable[Goal], directory: Directory | None = None) -> tuple[CellPlan, ...]:
    """The cell plans of ``goals``; team contributors include descendant teams.

    Without ``directory`` the team tree is unknown and a team contributor matches
    only its own team id.
    """
    plans = []
    for goal in by_id("goals", goals, Goal).values():
        bounds = (*(m.period.start_us for m in goal.milestones), goal.span.end_us)
        all_pipelines = goal.pipelines or None
        for contributor, targets in zip(goal.contributors, goal.targets, strict=True):
            if contributor.kind is ContributorKind.TEAM and directory is not None:
                match = directory.descendants(contributor.id)
            else:
                match = frozenset({contributor.id})
            # Goal.effective_pipelines, read from the row: a cell's own pipeline,
            # else the goal's (None: every pipeline).
            pipelines = tuple(
                frozenset({t.pipeline})
                if t is not None and t.pipeline is not None
                else all_pipelines
                for t in targets
            )
            plans.append(
                CellPlan(
                    goal.id,
                    contributor.id,
                    contributor.kind,
                    match,
                    goal.kpi.event,
                    goal.kpi.unit is Unit.DURATION,
                    bounds,
                    pipelines,
                    goal.clock_policy,
                )
            )
    return tuple(plans)


class _Cells:
    """Mutable accumulators of one plan, laid out for the hot loop.

    ``inner`` holds the milestone boundaries strictly inside the span, so that
    ``bisect_right(inner, at)`` is the milestone index directly.  When every
    milestone counts the same pipelines (the common case) ``allowed`` is that
    set and is checked before the bisect; otherwise ``by_milestone`` holds one
    set per milestone.  None means every pipeline.
    """

    __slots__ = (
        "allowed",
        "by_milestone",
        "closed",
        "counts",
        "duration",
        "end",
        "first_close",
        "inner",
        "key_base",
        "policy",
        "start",
        "totals",
        "wall",
    )

    def __init__(self, plan: CellPlan, limit: int | None) -> None:
        n = len(plan.bounds) - 1
        self.inner = plan.bounds[1:-1]
        self.start = plan.bounds[0]
        # As of an instant, later events have not happened: the same test as
        # the span's end, so the loop pays nothing for it.
        self.end = plan.bounds[-1] if limit is None else min(plan.bounds[-1], limit)
        self.closed = plan.event is TicketEvent.CLOSED
        self.duration = plan.duration
        self.policy = plan.policy
        self.first_close = plan.policy.resolution is Resolution.FIRST_CLOSE
        # Wall-clock durations are a subtraction; other policies call the clock.
        self.wall = plan.policy.wall_clock
        uniform = len(set(plan.pipelines)) == 1
        self.allowed = plan.pipelines[0] if uniform else None
        self.by_milestone = None if uniform else plan.pipelines
        self.counts = [0] * n
        self.totals = [0] * n
        #: The number of this plan's first milestone among all the cells of its
        #: `_Index`: ``key_base + j`` names milestone ``j`` of this plan, as an int.
        self.key_base = 0


class _Index:
    """The cells of a goal set and the indexes that route a ticket to them.

    Built once; both `measure` and the incremental measurer run tickets through
    `accumulate`, so a ticket counts the same way in both.
    """

    __slots__ = ("bases", "by_owner", "by_team", "cells", "limit", "plans")

    def __init__(
        self,
        goals: Iterable[Goal],
        directory: Directory | None,
        at: datetime | None,
        plans: tuple[CellPlan, ...] | None = None,
    ) -> None:
        self.limit = as_of_limit(at)
        self.plans = plan_cells(goals, directory) if plans is None else plans
        self.cells = [_Cells(p, self.limit) for p in self.plans]
        #: Each plan's `_Cells.key_base`, ascending (`cell_of` finds a cell's plan by it).
        self.bases: list[int] = []
        numbered = 0
        for cell in self.cells:
            cell.key_base = numbered
            self.bases.append(numbered)
            numbered += len(cell.counts)
        self.by_owner: dict[str | None, list[_Cells]] = {}
        self.by_team: dict[str | None, list[_Cells]] = {}
        for plan, cell in zip(self.plans, self.cells, strict=True):
            index = self.by_owner if plan.kind is ContributorKind.USER else self.by_team
            for match in plan.match_ids:
                index.setdefault(match, []).append(cell)

    def move_limit(self, limit: int | None) -> None:
        """Measure as of another limit from now on (`as_of_limit`; None: every event).

        Only the cells' ends move: the caller re-applies the tickets the move affects.
        """
        self.limit = limit
        for plan, cell in zip(self.plans, self.cells, strict=True):
            cell.end = plan.bounds[-1] if limit is None else min(plan.bounds[-1], limit)

    def accumulate(
        self,
        tickets: Iterable[Ticket],
        sign: int = 1,
        touched: list[int] | None = None,
    ) -> None:
        """Add (``sign=1``) or subtract (``-1``) ``tickets`` to their cells.

        With ``touched``, the number of every cell changed is appended to it
        (`_Cells.key_base` + milestone index: an int, which the garbage collector
        does not track, where a tuple per cell visit made it run).
        """
        owner_get = self.by_owner.get
        team_get = self.by_team.get
        limit = self.limit
        position = -1
        ticket: Ticket | None = None
        try:
            for position, ticket in enumerate(tickets):  # noqa: B007 - named in the error
                # No tuple is built for the usual ticket that only an owner's or only
                # a team's cells want, and none at all for a ticket nobody measures.
                hits = owner_get(ticket.owner_id)
                team_hits = team_get(ticket.team_id)
                if hits is None:
                    if team_hits is None:
                        continue
                    hits = team_hits
                elif team_hits is not None:
                    hits = hits + team_hits
                closed = ticket.closed_us
                responded = ticket.first_response_us
                pipeline = ticket.pipeline
                reopened = ticket.reopens_us  # empty for almost every ticket
                # A ticket's working time to one instant under one policy is the
                # same for every cell that asks: time it once (policies by identity).
                timed: dict[tuple[int, int], int] | None = None
                for cell in hits:
                    if not cell.closed:
                        when = responded
                    elif reopened:
                        resolution = Resolution.FIRST_CLOSE if cell.first_close else FINAL
                        when = close_as_of(ticket, resolution, limit)
                    else:
                        when = closed
                    if when is None or when < cell.start or when >= cell.end:
                        continue
                    allowed = cell.allowed
                    if allowed is not None and pipeline not in allowed:
                        continue
                    j = bisect_right(cell.inner, when)
                    if cell.by_milestone is not None:
                        allowed = cell.by_milestone[j]
                        if allowed is not None and pipeline not in allowed:
                            continue
                    cell.counts[j] += sign
                    if cell.duration:
                        if cell.wall:
                            cell.totals[j] += sign * (when - ticket.created_us)
                        else:
                            if timed is None:
                                timed = {}
                            key = (id(cell.policy), when)
                            spent = timed.get(key)
                            if spent is None:
                                spent = timed[key] = working_us(ticket, cell.policy, when)
                            cell.totals[j] += sign * spent
                    if touched is not None:
                        touched.append(cell.key_base + j)
        except AttributeError:
            # Duck typing keeps the loop fast; report a non-ticket clearly, but let an
            # AttributeError raised inside the caller's own generator pass through.
            if ticket is None or isinstance(ticket, Ticket):
                raise
            raise InvalidInput(f"tickets[{position}]", ticket, "expected a Ticket") from None

    def cell_of(self, number: int) -> tuple[int, int]:
        """The plan's position and the milestone index of the cell numbered ``number``."""
        i = bisect_right(self.bases, number) - 1
        return i, number - self.bases[i]

    def result(self) -> dict[CellKey, Measurement]:
        """Every cell's measurement; cells without tickets share one zero."""
        result: dict[CellKey, Measurement] = {}
        for plan, cell in zip(self.plans, self.cells, strict=True):
            gid, cid = plan.goal_id, plan.contributor_id
            for j, (count, total) in enumerate(zip(cell.counts, cell.totals, strict=True)):
                result[(gid, cid, j)] = _ZERO if count == 0 else trusted_measurement(count, total)
        return result


_ZERO = Measurement()
# The slots' own setters: counts and totals the loop made are valid by construction
# (the attrs validators were 17% of measure's profile).
_SET_COUNT, _SET_TOTAL, _SET_WITHIN, _SET_LOW, _SET_HIGH, _SET_VALUES = (
    Measurement.__dict__[a.name].__set__ for a in attrs.fields(Measurement)
)
_new = object.__new__


def trusted_measurement(count: int, total: int) -> Measurement:
    """A `Measurement` of non-negative ints, built without re-validating them."""
    made: Measurement = _new(Measurement)
    _SET_COUNT(made, count)
    _SET_TOTAL(made, total)
    # The fields of custom KPIs at their defaults, written out (a loop over
    # (setter, default) pairs measured about a fifth slower).
    _SET_WITHIN(made, 0)
    _SET_LOW(made, None)
    _SET_HIGH(made, None)
    _SET_VALUES(made, None)
    return made


def measure(
    goals: Iterable[Goal],
    tickets: Iterable[Ticket],
    *,
    directory: Directory | None = None,
    at: datetime | None = None,
) -> dict[CellKey, Measurement]:
    """The measurement of every (goal, contributor, milestone) cell of ``goals``.

    Reads ``tickets`` once, in any order.  Every cell has an entry, with or
    without a target; cells without tickets measure ``Measurement(0, 0)``.
    ``directory`` supplies the team tree; without it a team contributor gets
    only tickets of that exact team.  With ``at``, only events at or before
    ``at`` count: a ticket closed after it is open, a response after it has
    not happened (None: every event known).
    """
    goals = tuple(goals) if isinstance(goals, Iterable) else goals
    plans = plan_cells(goals, directory)  # checks the goals first
    custom = {g.id: g for g in goals if not g.kpi.fast}
    if not custom:
        index = _Index(goals, directory, at, plans)
        index.accumulate(tickets)
        return index.result()
    # Custom KPIs take the general path, fed by this same pass over the tickets.
    from .kpi_engine import KpiEngine

    engine = KpiEngine(
        list(custom.values()), [p for p in plans if p.goal_id in custom], as_of_limit(at)
    )
    index = _Index(goals, directory, at, tuple(p for p in plans if p.goal_id not in custom))
    index.accumulate(engine.tap(tickets))
    result = index.result()
    result.update(engine.result())
    return result
