"""Forecasts, pace and at-risk rows: where an in-progress milestone is heading.

`forecast` reads a goal's report and projects each in-progress row to the end
of its milestone, exactly (ints and `Fraction`s), with no randomness:

- counts (additive KPIs) project by the milestone's **elapsed share**: the
  value so far divided by the share of the milestone that has passed, of
  calendar time by default or of working time when a `WorkingClock` is given;
- averages (and other non-additive KPIs) project their **current value**: the
  forecast attainment is the row's attainment so far, with its ticket count.

Pace ("today's target") is the share of the target a row should have reached
by now, by the same elapsed-share rule; for an average it is the target
itself.  A row is **at risk** when its forecast attainment is below the goal's
`NotificationSettings.at_risk_below_percent` once `at_risk_after_percent` of
its milestone has elapsed.  See "Forecasts and pace" (``docs/forecasts.md``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from attrs import field, frozen

from ._validate import to_us
from .calendar import Cadence, Milestone
from .errors import InvalidInput, NotFound
from .goals import Goal
from .kpis import Aggregation, Direction, Measurement, Unit
from .status import GoalReport, Progress, Status, _check_report_of, score
from .worktime import CALENDAR, WorkingClock

__all__ = [
    "ForecastMethod",
    "GoalForecast",
    "NoForecastReason",
    "RowForecast",
    "forecast",
    "forecast_text",
    "pace_text",
]


class ForecastMethod(enum.Enum):
    """How a forecast projected a row to the end of its milestone."""

    #: The value so far divided by the elapsed share of the milestone (counts).
    ELAPSED_SHARE = "elapsed_share"
    #: The value so far, unchanged (averages and other non-additive KPIs).
    CURRENT_VALUE = "current_value"


class NoForecastReason(enum.Enum):
    """Why a row has no forecast; `text` says it in words."""

    MULTIPLE_PIPELINES = "multiple_pipelines"
    YEARLY = "yearly"
    WHOLE_GOAL = "whole_goal"
    PENDING = "pending"
    FINAL = "final"
    FROZEN = "frozen"
    NOTHING_ELAPSED = "nothing_elapsed"
    NO_TICKETS = "no_tickets"

    @property
    def text(self) -> str:
        """The reason for people."""
        return _REASON_TEXT[self]


_REASON_TEXT = {
    NoForecastReason.MULTIPLE_PIPELINES: "goals with more than one pipeline are not forecast",
    NoForecastReason.YEARLY: "yearly goals are not forecast",
    NoForecastReason.WHOLE_GOAL: "a whole goal spans several milestones; each is forecast",
    NoForecastReason.PENDING: "the milestone has not started",
    NoForecastReason.FINAL: "the milestone has ended",
    NoForecastReason.FROZEN: "the row is frozen",
    NoForecastReason.NOTHING_ELAPSED: "no working time of the milestone has elapsed yet",
    NoForecastReason.NO_TICKETS: "an average without tickets has nothing to project",
}


@frozen
class RowForecast:
    """The forecast and pace of one report row (a cell, a whole goal or a total).

    A row with a forecast has a `method` and no `reason`; a row without one has a
    `reason` and no `method`.  ``value`` is the projected end-of-milestone value
    (a count, or a mean in microseconds), ``attainment`` its exact attainment
    (None when ``infinite``: a projected average of zero).  ``elapsed`` is the
    elapsed share of the milestone (0 to 1) when the row is in progress.
    ``tickets`` is the number of tickets so far.  ``today_target`` is the pace:
    what the row should have reached by now; ``pace_gap`` is how far the value
    is ahead of it (negative: behind), in the KPI's direction.  Pace is given
    for every in-progress row that is not frozen, even when the goal cannot be
    forecast.
    """

    contributor_id: str | None
    milestone_index: int | None
    method: ForecastMethod | None
    reason: NoForecastReason | None
    elapsed: Fraction | None
    value: Fraction | None
    attainment: Fraction | None
    infinite: bool
    tickets: int
    today_target: Fraction | None
    pace_gap: Fraction | None
    at_risk: bool

    @property
    def percent(self) -> Fraction | None:
        """Forecast attainment × 100, exactly; None without a finite forecast."""
        return None if self.attainment is None else self.attainment * 100

    @property
    def percent_text(self) -> str:
        """The forecast percent rounded down, ``"∞"``, or ``"–"`` without a forecast."""
        if self.infinite:
            return "∞"
        percent = self.percent
        return "–" if percent is None else f"{math.floor(percent)}%"


def _rows(value: Iterable[RowForecast]) -> tuple[RowForecast, ...]:
    return tuple(value)


@frozen
class GoalForecast:
    """The forecasts of one report, row for row.

    ``rows``, ``contributor_rows`` and ``milestone_rows`` mirror the report's
    cell, whole-goal and total rows.  ``reason`` is set when the goal itself
    cannot be forecast (every row then carries it).
    """

    goal_id: str
    calculated_at: datetime
    reason: NoForecastReason | None
    rows: tuple[RowForecast, ...] = field(converter=_rows)
    contributor_rows: tuple[RowForecast, ...] = field(converter=_rows)
    milestone_rows: tuple[RowForecast, ...] = field(converter=_rows)
    _index: dict[tuple[str | None, int | None], RowForecast] = field(
        init=False, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        everything = (*self.rows, *self.contributor_rows, *self.milestone_rows)
        index = {(r.contributor_id, r.milestone_index): r for r in everything}
        object.__setattr__(self, "_index", index)

    def find_row(
        self, contributor_id: str | None, milestone_index: int | None
    ) -> RowForecast | None:
        """The forecast of a row, or None when the report has no such row.

        ``milestone_index=None`` is a whole-goal row, ``contributor_id=None`` a total.
        """
        return self._index.get((contributor_id, milestone_index))

    def row(self, contributor_id: str | None, milestone_index: int | None) -> RowForecast:
        """As `find`, but NotFound when the report has no such row."""
        found = self.find_row(contributor_id, milestone_index)
        if found is None:
            raise NotFound("row", (contributor_id, milestone_index))
        return found

    def total(self, milestone_index: int) -> RowForecast:
        """The forecast of a milestone's total row."""
        return self.row(None, milestone_index)

    def of(self, progress: Progress) -> RowForecast:
        """The forecast of one of the report's rows, whatever its kind."""
        return self.row(progress.contributor_id, progress.milestone_index)

    @property
    def at_risk(self) -> tuple[RowForecast, ...]:
        """The cell rows at risk, in report order."""
        return tuple(r for r in self.rows if r.at_risk)


def _goal_reason(goal: Goal) -> NoForecastReason | None:
    if goal.can_forecast:
        return None
    if goal.cadence is Cadence.YEARLY:
        return NoForecastReason.YEARLY
    return NoForecastReason.MULTIPLE_PIPELINES


def _worked(clock: WorkingClock, start_us: int, end_us: int) -> int:
    found = clock.working_us(start_us, end_us)
    if isinstance(found, bool) or not isinstance(found, int) or found < 0:
        raise InvalidInput(
            "clock", found, "working_us() must return a non-negative int of microseconds"
        )
    return found


class _Run:
    """One `forecast` call: the goal's rules and each milestone's elapsed share."""

    def __init__(self, goal: Goal, report: GoalReport, clock: WorkingClock) -> None:
        self.goal = goal
        self.report = report
        self.clock = clock
        self.at_us = to_us(report.calculated_at)
        self.goal_reason = _goal_reason(goal)
        settings = goal.notifications
        self.below = Fraction(settings.at_risk_below_percent, 100)
        self.after = Fraction(settings.at_risk_after_percent, 100)
        self._shares: dict[int, tuple[int, int]] = {}

    def share(self, m: Milestone) -> tuple[int, int]:
        """Working time elapsed in milestone ``m`` at the report's time, and its total."""
        if m.index not in self._shares:
            start, end = m.period.start_us, m.period.end_us
            elapsed = _worked(self.clock, start, min(max(self.at_us, start), end))
            total = _worked(self.clock, start, end)
            if elapsed > total:
                raise InvalidInput(
                    "clock", elapsed, f"more working time elapsed than milestone {m.label} has"
                )
            self._shares[m.index] = (elapsed, total)
        return self._shares[m.index]

    def row(self, progress: Progress, cells: Sequence[Progress]) -> RowForecast:
        """The forecast of ``progress``, a row that pools ``cells`` (itself for a cell)."""
        reason = _row_reason(progress)
        share = today = gap = None
        elapsed = total = 0
        if reason is None:
            elapsed, total = self.share(self.report.milestones[_index(progress)])
        if reason is None and total > 0:
            share = Fraction(elapsed, total)
            today, gap = self.pace(progress, share)
        if reason is None and elapsed == 0:  # also when the milestone has no working time
            reason = NoForecastReason.NOTHING_ELAPSED
        if reason is None and progress.value is None:
            reason = NoForecastReason.NO_TICKETS  # an average without tickets
        reason = self.goal_reason or reason
        if reason is not None or share is None:
            return _none(progress, reason or NoForecastReason.NOTHING_ELAPSED, share, today, gap)
        value: Fraction | None
        if self.goal.kpi.additive:  # counts and sums; other values are projected as they are
            method = ForecastMethod.ELAPSED_SHARE
            value, attainment, infinite = self.project(cells, elapsed, total)
        else:
            method = ForecastMethod.CURRENT_VALUE
            value, attainment, infinite = progress.value, progress.attainment, progress.infinite
        at_risk = False
        if share >= self.after and attainment is not None:  # never when infinitely good
            at_risk = attainment < self.below
        return RowForecast(
            progress.contributor_id,
            progress.milestone_index,
            method,
            None,
            share,
            value,
            attainment,
            infinite,
            progress.measurement.count,
            today,
            gap,
            at_risk,
        )

    def project(
        self, cells: Sequence[Progress], elapsed: int, total: int
    ) -> tuple[Fraction, Fraction | None, bool]:
        """Counts at the milestone's end: value / share, with status's own scoring.

        Scaling every target by ``elapsed`` and every live count by ``total``
        keeps `score` on integers: its attainment is then exactly projected /
        target, whichever the direction.  A frozen cell keeps its value.
        """
        scaled = [
            (
                int(c.target) * elapsed,
                Measurement(
                    c.measurement.count * (elapsed if c.frozen else total),
                    c.measurement.total * (elapsed if c.frozen else total),
                ),
            )
            for c in cells
        ]
        s = score(self.goal.kpi, scaled)
        value = (
            s.measurement.count
            if self.goal.kpi.aggregation is Aggregation.COUNT
            else s.measurement.total
        )
        return Fraction(value, elapsed), s.attainment, s.infinite

    def pace(self, progress: Progress, share: Fraction) -> tuple[Fraction, Fraction | None]:
        """Today's target and how far the value is ahead of it (None without a value)."""
        target = Fraction(progress.target)
        today = target * share if self.goal.kpi.additive else target
        if progress.value is None:
            return today, None
        ahead = progress.value - today
        if self.goal.kpi.direction is Direction.LOWER_IS_BETTER:
            ahead = -ahead
        return today, ahead


def _row_reason(progress: Progress) -> NoForecastReason | None:
    if progress.is_whole_goal:
        return NoForecastReason.WHOLE_GOAL
    if progress.status is Status.PENDING:
        return NoForecastReason.PENDING
    if progress.status.is_final:
        return NoForecastReason.FINAL
    if progress.frozen is not None:
        return NoForecastReason.FROZEN
    return None


def _none(
    progress: Progress,
    reason: NoForecastReason,
    share: Fraction | None,
    today: Fraction | None,
    gap: Fraction | None,
) -> RowForecast:
    return RowForecast(
        progress.contributor_id,
        progress.milestone_index,
        None,
        reason,
        share,
        None,
        None,
        False,
        progress.measurement.count,
        today,
        gap,
        False,
    )


def forecast(goal: Goal, report: GoalReport, *, clock: WorkingClock = CALENDAR) -> GoalForecast:
    """Forecast every row of ``report``, a report of ``goal``, at its calculation time.

    ``clock`` measures the elapsed share of each milestone: `CALENDAR` (the
    default) counts wall-clock time; a working-time schedule counts working
    time only.  Goals that cannot be forecast (`Goal.can_forecast`) get no
    forecasts, but their in-progress rows still get a pace.

    Raises:
        InvalidInput: ``report`` is not a report of ``goal``, ``clock`` is not a
            `WorkingClock`, or the clock returned an impossible working time.
    """
    if not isinstance(goal, Goal):
        raise InvalidInput("goal", goal, "expected a Goal")
    _check_report_of(goal, "report", report)
    if report.milestones != goal.milestones:
        raise InvalidInput(
            "report.milestones", len(report.milestones), "not this goal's milestones"
        )
    if not isinstance(clock, WorkingClock):
        raise InvalidInput("clock", clock, "expected a WorkingClock such as CALENDAR")
    run = _Run(goal, report, clock)
    current = set(goal.contributor_ids)
    # A total pools the cells of the goal's current contributors, as evaluate() does.
    pooled: dict[int, list[Progress]] = {}
    for r in report.rows:
        if r.contributor_id in current and r.milestone_index is not None:
            pooled.setdefault(r.milestone_index, []).append(r)
    return GoalForecast(
        goal.id,
        report.calculated_at,
        run.goal_reason,
        [run.row(r, [r]) for r in report.rows],
        [run.row(r, [r]) for r in report.contributor_rows],
        [run.row(r, pooled.get(_index(r)) or [r]) for r in report.milestone_rows],
    )


def _index(row: Progress) -> int:
    assert row.milestone_index is not None  # a total row names its milestone
    return row.milestone_index


# -- plain text ----------------------------------------------------------------


def _default_amount(unit: Unit) -> Callable[[Fraction], str]:
    if unit is Unit.DURATION:
        return lambda us: str(timedelta(seconds=round(us / 1_000_000)))
    return lambda count: str(round(count))


def _check_unit(unit: Any) -> Unit:
    if not isinstance(unit, Unit):
        raise InvalidInput("unit", unit, "expected a Unit (the goal's kpi.unit)")
    return unit


def forecast_text(
    row: RowForecast, unit: Unit, *, amount: Callable[[Fraction], str] | None = None
) -> str:
    """A "Forecast" table cell: ``"36 (120%)"``, ``"9 (75%) at risk"`` or ``"–"``.

    ``unit`` is the goal's ``kpi.unit``; ``amount`` formats a value (by default
    counts are rounded and durations shown as ``H:MM:SS``).
    """
    show = amount or _default_amount(_check_unit(unit))
    if row.value is None:
        return "–"
    text = f"{show(row.value)} ({row.percent_text})"
    return f"{text} at risk" if row.at_risk else text


def pace_text(
    row: RowForecast, unit: Unit, *, amount: Callable[[Fraction], str] | None = None
) -> str:
    """A "Pace" table cell: today's target and the gap, ``"10 (+2)"``, ``"10 (-3)"``, or ``"–"``."""
    show = amount or _default_amount(_check_unit(unit))
    if row.today_target is None:
        return "–"
    if row.pace_gap is None:
        return show(row.today_target)
    sign = "-" if row.pace_gap < 0 else "+"
    return f"{show(row.today_target)} ({sign}{show(abs(row.pace_gap))})"
