"""The pure status calculator: measurements and targets in, progress rows out.

All arithmetic that decides a status is exact (ints and :class:`Fraction`).
A row first calculated at or after its milestone's end is fixed: later
calculations that are given the previous report copy it and mark it frozen
("changes after expiry do not count").
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime
from fractions import Fraction

from attrs import field, frozen

from ._errors import InvalidInput, NotFound
from ._validate import aware, to_us
from .calendar import Milestone, Period
from .goals import Contributor, Directory, Goal
from .kpis import Direction, Kpi, Measurement, Unit
from .measure import Measurements

__all__ = [
    "Amount",
    "FrozenReason",
    "GoalReport",
    "Progress",
    "Score",
    "Status",
    "evaluate",
    "score",
]


class Status(enum.Enum):
    """Where a contributor stands on a milestone (or on the whole goal)."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    ACHIEVED = "achieved"
    EXCEEDED = "exceeded"
    MISSED = "missed"

    @property
    def is_final(self) -> bool:
        """True once the milestone has ended."""
        return self in (Status.ACHIEVED, Status.EXCEEDED, Status.MISSED)


class FrozenReason(enum.Enum):
    """Why a row was copied from an earlier calculation instead of recalculated."""

    EXPIRED = "expired"
    CONTRIBUTOR_INACTIVE = "contributor_inactive"


Amount = int | Fraction


@frozen
class Progress:
    """One row of a report.

    A cell row has both ``contributor_id`` and ``milestone_index``; a contributor's
    whole-goal row has ``milestone_index=None``; a milestone's total row over all
    contributors has ``contributor_id=None``.

    ``target`` and ``value`` are counts for COUNT KPIs and microseconds for
    DURATION KPIs (``value`` is the mean; None without tickets).  ``attainment``
    is exact; it is None without tickets and also when ``infinite`` is true: an
    average of exactly zero is infinitely good.
    """

    contributor_id: str | None
    milestone_index: int | None
    target: Amount
    measurement: Measurement
    value: Fraction | None
    attainment: Fraction | None
    status: Status
    calculated_at: datetime
    frozen: FrozenReason | None = None
    infinite: bool = False

    @property
    def percent(self) -> Fraction | None:
        """Attainment × 100, exactly; None when there is no finite attainment."""
        return None if self.attainment is None else self.attainment * 100

    @property
    def percent_text(self) -> str:
        """The progress percent rounded for display: ``"87%"``, ``"∞"`` or ``"–"``."""
        if self.infinite:
            return "∞"
        percent = self.percent
        return "–" if percent is None else f"{round(percent)}%"


@frozen
class Score:
    """Target, value and attainment of one or more cells, by the pooling rules."""

    target: Amount
    measurement: Measurement
    value: Fraction | None
    attainment: Fraction | None
    infinite: bool


def _amount(value: Fraction) -> Amount:
    return value.numerator if value.denominator == 1 else value


def score(kpi: Kpi, cells: Sequence[tuple[int, Measurement]]) -> Score:
    """Pool ``(target, measurement)`` cells into one score.

    Counts add up: attainment is Σ actual / Σ target.  Averages compare time
    allowed with time used over cells with tickets: Σ(target·n) / Σ(total); the
    pooled target shown is Σ(target·n) / Σ n (the plain mean of targets when no
    cell has tickets).  One cell gives the cell's own score.
    """
    if not cells:
        raise InvalidInput("cells", cells, "a score needs at least one cell")
    measured = Measurement(sum(m.count for _, m in cells), sum(m.total for _, m in cells))
    if kpi.unit is Unit.COUNT:
        target = sum(t for t, _ in cells)
        value = Fraction(measured.count)
        actual_over_target = Fraction(measured.count, target)
        if kpi.direction is Direction.HIGHER_IS_BETTER:
            return Score(target, measured, value, actual_over_target, False)
        if measured.count == 0:
            return Score(target, measured, value, None, True)
        return Score(target, measured, value, 1 / actual_over_target, False)

    with_tickets = [(t, m) for t, m in cells if m.count]
    if not with_tickets:
        mean_target = _amount(Fraction(sum(t for t, _ in cells), len(cells)))
        return Score(mean_target, measured, None, None, False)
    allowed = sum(t * m.count for t, m in with_tickets)
    used = sum(m.total for _, m in with_tickets)
    count = sum(m.count for _, m in with_tickets)
    target_mean = _amount(Fraction(allowed, count))
    value = Fraction(used, count)
    if kpi.direction is Direction.HIGHER_IS_BETTER:
        return Score(target_mean, measured, value, Fraction(used, allowed), False)
    if used == 0:
        return Score(target_mean, measured, value, None, True)
    return Score(target_mean, measured, value, Fraction(allowed, used), False)


def _status(at: int, start: int, end: int, s: Score) -> Status:
    if at < start:
        return Status.PENDING
    if at < end:
        return Status.IN_PROGRESS
    if s.infinite:
        return Status.EXCEEDED
    if s.attainment is None or s.attainment < 1:
        return Status.MISSED
    return Status.ACHIEVED if s.attainment == 1 else Status.EXCEEDED


def _row(
    contributor_id: str | None,
    milestone_index: int | None,
    s: Score,
    status: Status,
    at: datetime,
    frozen: FrozenReason | None = None,
) -> Progress:
    return Progress(
        contributor_id,
        milestone_index,
        s.target,
        s.measurement,
        s.value,
        s.attainment,
        status,
        at,
        frozen,
        s.infinite,
    )


def _rows(value: Iterable[Progress]) -> tuple[Progress, ...]:
    return tuple(value)


def _milestones(value: Iterable[Milestone]) -> tuple[Milestone, ...]:
    return tuple(value)


@frozen
class GoalReport:
    """A snapshot of one goal's progress at ``calculated_at``.

    ``rows`` holds one row per contributor and milestone that has a target;
    ``contributor_rows`` each contributor's whole goal; ``milestone_rows`` each
    milestone's total over the goal's current contributors.
    """

    goal_id: str
    calculated_at: datetime
    milestones: tuple[Milestone, ...] = field(converter=_milestones)
    rows: tuple[Progress, ...] = field(converter=_rows)
    contributor_rows: tuple[Progress, ...] = field(converter=_rows)
    milestone_rows: tuple[Progress, ...] = field(converter=_rows)
    _cells: dict[tuple[str | None, int | None], Progress] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        cells = {(r.contributor_id, r.milestone_index): r for r in self.rows}
        for r in self.contributor_rows:
            cells[(r.contributor_id, None)] = r
        for r in self.milestone_rows:
            cells[(None, r.milestone_index)] = r
        object.__setattr__(self, "_cells", cells)

    def _get(self, contributor_id: str | None, milestone_index: int | None) -> Progress:
        try:
            return self._cells[(contributor_id, milestone_index)]
        except KeyError:
            raise NotFound("row", (contributor_id, milestone_index)) from None

    def row(self, contributor_id: str, milestone_index: int) -> Progress:
        """The row of one contributor and milestone."""
        return self._get(contributor_id, milestone_index)

    def find(self, contributor_id: str, milestone_index: int) -> Progress | None:
        """The row of one contributor and milestone, or None when it has none."""
        return self._cells.get((contributor_id, milestone_index))

    def whole_goal(self, contributor_id: str) -> Progress:
        """A contributor's roll-up across its milestones."""
        return self._get(contributor_id, None)

    def total(self, milestone_index: int) -> Progress:
        """A milestone's total row over all contributors (the "all reps" row)."""
        return self._get(None, milestone_index)

    def milestone_at(self, instant: datetime) -> Milestone:
        """The milestone that contains ``instant``."""
        us = to_us(aware("instant", instant))
        for m in self.milestones:
            if m.period.start_us <= us < m.period.end_us:
                return m
        raise NotFound("instant", instant)

    def row_at(self, contributor_id: str, instant: datetime) -> Progress:
        """The row of the milestone that contains ``instant``."""
        return self.row(contributor_id, self.milestone_at(instant).index)

    def rows_of(self, contributor_id: str) -> tuple[Progress, ...]:
        """One contributor's cell rows in milestone order."""
        return tuple(r for r in self.rows if r.contributor_id == contributor_id)


def _recheck(
    kpi: Kpi, old: Progress, target: int, at_us: int, period: Period, at: datetime
) -> Progress:
    """A fixed row under a possibly edited target.

    Unchanged target: an exact copy.  Edited target: the status is recomputed
    from the fixed measurement, at ``at``.
    """
    if old.target == target:
        return old
    s = score(kpi, [(target, old.measurement)])
    status = _status(at_us, period.start_us, period.end_us, s)
    return _row(old.contributor_id, old.milestone_index, s, status, at, old.frozen)


def evaluate(
    goal: Goal,
    measurements: Measurements,
    *,
    at: datetime,
    previous: GoalReport | None = None,
    directory: Directory | None = None,
) -> GoalReport:
    """Calculate a goal's report at ``at``.

    ``measurements`` comes from :func:`~servicegoals.measure` or a push-down
    source; a missing cell counts as no tickets.  With ``previous``, rows fixed by
    an earlier calculation at or after their milestone's end are copied (frozen:
    expired), and rows of deactivated or deleted contributors are carried forward
    (frozen: contributor inactive).  ``directory`` tells who is deactivated.
    """
    if not isinstance(goal, Goal):
        raise InvalidInput("goal", goal, "expected a Goal")
    at_us = to_us(aware("at", at))
    if previous is not None:
        if not isinstance(previous, GoalReport):
            raise InvalidInput("previous", previous, "expected a GoalReport")
        if previous.goal_id != goal.id:
            raise InvalidInput("previous.goal_id", previous.goal_id, f"not goal {goal.id!r}")
        if at_us < to_us(previous.calculated_at):
            raise InvalidInput(
                "at", at, f"before the previous calculation at {previous.calculated_at}"
            )
    kpi = goal.kpi
    rows: list[Progress] = []
    contributor_rows: list[Progress] = []
    by_milestone: dict[int, list[tuple[int, Progress]]] = {}
    for contributor, targets in zip(goal.contributors, goal.targets, strict=True):
        inactive = directory is not None and not directory.is_active(contributor)
        own: list[tuple[int, Progress]] = []
        for m, target in zip(goal.milestones, targets, strict=True):
            if target is None:
                continue
            row = _cell(goal, contributor, m, target.value, measurements, at, at_us, previous)
            if inactive and row.frozen is None:
                old = previous.find(contributor.id, m.index) if previous else None
                row = _carry(old, row, kpi, target.value, at_us, m.period, at)
            own.append((target.value, row))
            by_milestone.setdefault(m.index, []).append((target.value, row))
        rows.extend(r for _, r in own)
        if own:
            contributor_rows.append(_whole_goal(goal, contributor.id, own, at, at_us))
    if previous is not None:
        # Deleted contributors: carry their last rows forward.
        current = set(goal.contributor_ids)
        gone = {r.contributor_id for r in previous.rows} - current
        rows.extend(_frozen(r) for r in previous.rows if r.contributor_id in gone)
        contributor_rows.extend(
            _frozen(r) for r in previous.contributor_rows if r.contributor_id in gone
        )
    milestone_rows = [
        _pooled_row(goal, None, by_milestone[j], goal.milestones[j].period, at, at_us)
        for j in sorted(by_milestone)
    ]
    return GoalReport(goal.id, at, goal.milestones, rows, contributor_rows, milestone_rows)


def _frozen(row: Progress, reason: FrozenReason = FrozenReason.CONTRIBUTOR_INACTIVE) -> Progress:
    if row.frozen is reason:
        return row
    return Progress(
        row.contributor_id,
        row.milestone_index,
        row.target,
        row.measurement,
        row.value,
        row.attainment,
        row.status,
        row.calculated_at,
        reason,
        row.infinite,
    )


def _carry(
    old: Progress | None,
    fresh: Progress,
    kpi: Kpi,
    target: int,
    at_us: int,
    period: Period,
    at: datetime,
) -> Progress:
    """An inactive contributor's row: the last calculated one, else this one, frozen."""
    if old is None:
        return _frozen(fresh)
    return _frozen(_recheck(kpi, old, target, at_us, period, at))


def _cell(
    goal: Goal,
    contributor: Contributor,
    milestone: Milestone,
    target: int,
    measurements: Measurements,
    at: datetime,
    at_us: int,
    previous: GoalReport | None,
) -> Progress:
    period = milestone.period
    old = previous.find(contributor.id, milestone.index) if previous else None
    if old is not None and to_us(old.calculated_at) >= period.end_us:
        fixed = _recheck(goal.kpi, old, target, at_us, period, at)
        return _frozen(fixed, FrozenReason.EXPIRED)
    key = (goal.id, contributor.id, milestone.index)
    measured = measurements.get(key, Measurement())
    s = score(goal.kpi, [(target, measured)])
    status = _status(at_us, period.start_us, period.end_us, s)
    return _row(contributor.id, milestone.index, s, status, at)


def _pooled_row(
    goal: Goal,
    contributor_id: str | None,
    cells: Sequence[tuple[int, Progress]],
    period: Period,
    at: datetime,
    at_us: int,
) -> Progress:
    s = score(goal.kpi, [(t, r.measurement) for t, r in cells])
    status = _status(at_us, period.start_us, period.end_us, s)
    index = None if contributor_id is not None else cells[0][1].milestone_index
    return _row(contributor_id, index, s, status, at)


def _whole_goal(
    goal: Goal, contributor_id: str, cells: list[tuple[int, Progress]], at: datetime, at_us: int
) -> Progress:
    """Pending before the first targeted milestone, in progress until the last ends."""
    first = cells[0][1].milestone_index
    last = cells[-1][1].milestone_index
    assert first is not None
    assert last is not None
    span = Period(goal.milestones[first].period.start, goal.milestones[last].period.end)
    return _pooled_row(goal, contributor_id, cells, span, at, at_us)
