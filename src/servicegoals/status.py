"""The pure status calculator: measurements and targets in, progress rows out.

All arithmetic that decides a status is exact (ints and `Fraction`).
A row first calculated at or after its milestone's end is fixed: later
calculations that are given the previous report copy it and mark it frozen
("changes after expiry do not count").  The rows of deactivated and deleted
contributors are carried forward the same way.
"""

from __future__ import annotations

import enum
import functools
import heapq
import itertools
import math
import operator
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from math import gcd
from typing import Any, TypeAlias

import attrs
from attrs import field, frozen

from ._validate import MICROSECOND as _MICROSECOND
from ._validate import aware, integer, text, to_us
from .calendar import Milestone
from .errors import InvalidInput, NotFound
from .goals import Directory, Goal, Target
from .kpis import Aggregation, Direction, Kpi, Measurement, Unit
from .measure import CellKey, Measurements, trusted_measurement

__all__ = [
    "Amount",
    "FrozenReason",
    "GoalReport",
    "Progress",
    "Score",
    "Status",
    "evaluate",
    "reevaluate",
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
    """Why a row was copied from an earlier calculation instead of recalculated.

    ``EXPIRED``: the row was calculated at or after its period's end.
    ``CONTRIBUTOR_INACTIVE``: its contributor is deactivated or was deleted.
    """

    EXPIRED = "expired"
    CONTRIBUTOR_INACTIVE = "contributor_inactive"


#: A target: a count, or microseconds.  Pooled duration targets may be fractions.
Amount = int | Fraction


def _calculated_at(instance: Any, attribute: Any, value: Any) -> None:
    aware("calculated_at", value)


@frozen
class Progress:
    """One row of a report.

    A cell row has both ``contributor_id`` and ``milestone_index``; a contributor's
    whole-goal row has ``milestone_index=None``; a milestone's total row over all
    contributors has ``contributor_id=None``.

    ``target`` and ``value`` are counts for COUNT KPIs and microseconds for
    DURATION KPIs (``value`` is the mean; None without tickets).  ``attainment``
    is exact; it is None without tickets and also when ``infinite`` is true: an
    average of exactly zero is infinitely good.  ``calculated_at`` is when the
    measurement was taken; a frozen row keeps it from the calculation it was
    copied from.
    """

    contributor_id: str | None
    milestone_index: int | None
    target: Amount
    measurement: Measurement
    value: Fraction | None
    attainment: Fraction | None
    status: Status
    calculated_at: datetime = field(validator=_calculated_at)
    frozen: FrozenReason | None = None
    infinite: bool = False

    @property
    def is_whole_goal(self) -> bool:
        """True for a contributor's roll-up across its milestones."""
        return self.milestone_index is None

    @property
    def is_total(self) -> bool:
        """True for a milestone's total row over all contributors."""
        return self.contributor_id is None

    @property
    def percent(self) -> Fraction | None:
        """Attainment × 100, exactly; None when there is no finite attainment."""
        return None if self.attainment is None else self.attainment * 100

    @property
    def percent_text(self) -> str:
        """The progress percent for display: ``"87%"``, ``"∞"`` or ``"–"``.

        Rounded down to a whole percent, so that "100%" never shows before the
        target is met.
        """
        if self.infinite:
            return "∞"
        percent = self.percent
        return "–" if percent is None else f"{math.floor(percent)}%"

    def _where(self) -> str:
        if self.contributor_id is None:
            return f"total of milestone {self.milestone_index}"
        if self.milestone_index is None:
            return f"{self.contributor_id!r}, whole goal"
        return f"{self.contributor_id!r}, milestone {self.milestone_index}"

    def __repr__(self) -> str:
        frozen = "" if self.frozen is None else f", frozen {self.frozen.value}"
        return (
            f"<Progress {self._where()}: {_short(self.value)} of {_short(self.target)}, "
            f"{self.percent_text} {self.status.value}{frozen}>"
        )

    __str__ = __repr__


@frozen
class Score:
    """Target, value and attainment of one or more cells, by the pooling rules."""

    target: Amount
    measurement: Measurement
    value: Fraction | None
    attainment: Fraction | None
    infinite: bool


def _short(value: int | Fraction | None) -> str:
    """A number for a repr: exact when whole, else rounded (``≈1.33``)."""
    if value is None:
        return "–"
    if isinstance(value, int) or value.denominator == 1:
        return str(int(value))
    return f"≈{float(value):.6g}"


#: An exact field as the calculator stores it in a row: a `Fraction`, or a `_Derived`
#: rule that reading the field turns into its `Fraction` (see `_Exact`).
Exact: TypeAlias = "Fraction | _Derived"
#: Makes the exact ratio ``n / d`` of two ints, ``d > 0``.
Ratio: TypeAlias = Callable[[int, int], Fraction]

_new = object.__new__


def _ratio(n: int, d: int) -> Fraction:
    """`Fraction(n, d)` for ints with ``d > 0``, without `Fraction`'s type dispatch.

    The same reduced `Fraction` (its two slots filled directly), in a third of the time.
    """
    g = gcd(n, d)
    made: Fraction = _new(Fraction)
    if g == 1:
        made._numerator, made._denominator = n, d  # type: ignore[attr-defined]
    else:
        made._numerator, made._denominator = n // g, d // g  # type: ignore[attr-defined]
    return made


if Fraction.__slots__ != ("_numerator", "_denominator") or _ratio(-6, 4) != Fraction(-3, 2):
    _ratio = Fraction  # type: ignore[assignment]  # another layout: the public constructor


class _Derived:
    """How an average row's ``value`` or ``attainment`` follows from the row's own
    ``target`` and ``measurement``; `_Exact` makes the `Fraction` on the first read.

    The three rules are shared constants, so `evaluate` allocates nothing for these
    fields: a row of an average goal leaves one object for the garbage collector
    to track (itself), where each `Fraction` added one.
    """

    __slots__ = ("make",)

    def __init__(self, make: Callable[[Progress], Fraction]) -> None:
        self.make = make


def _allowed(row: Progress) -> int:
    """Σ target·count of an average row: its (pooled) target times its count, an int."""
    target, count = row.target, row.measurement.count
    if type(target) is int:
        return target * count
    return target.numerator * count // target.denominator


#: value = Σ total / Σ count
_MEAN = _Derived(lambda row: _ratio(row.measurement.total, row.measurement.count))
#: attainment when higher is better: time used over time allowed
_USED_OVER_ALLOWED = _Derived(lambda row: _ratio(row.measurement.total, _allowed(row)))
#: attainment when lower is better: time allowed over time used
_ALLOWED_OVER_USED = _Derived(lambda row: _ratio(_allowed(row), row.measurement.total))

#: ``(target, value, attainment, infinite, final)`` of a score, its measurement aside;
#: ``final`` is the status once its period is over.
Scored: TypeAlias = tuple[Amount, "Exact | None", "Exact | None", bool, "Status"]


def _final(numerator: int, denominator: int) -> Status:
    """The status of an attainment ``numerator / denominator`` (``denominator > 0``)."""
    if numerator < denominator:
        return Status.MISSED
    return Status.ACHIEVED if numerator == denominator else Status.EXCEEDED


def _scored(
    kpi: Kpi,
    cells: int,
    target_sum: int,
    allowed: int,
    measured: Measurement,
    ratio: Ratio | None,
) -> Scored:
    """The pooling rules on integer sums: ``cells`` targets adding up to ``target_sum``,
    ``allowed`` = Σ target·count and their pooled ``measured``.

    Every comparison stays in ints; ``ratio`` makes the `Fraction`s of the results
    (None: an average's are left to `_Derived` rules, made when read).
    """
    n = measured.count
    target: Amount
    if not kpi.fast and kpi.aggregation is not Aggregation.COUNT:
        return _scored_custom(kpi, cells, target_sum, allowed, measured)
    higher = kpi.direction is Direction.HIGHER_IS_BETTER
    if kpi.unit is Unit.COUNT:
        make = ratio or _ratio
        if not higher and n == 0:  # no tickets is infinitely good
            return target_sum, make(0, 1), None, True, Status.EXCEEDED
        # attainment = numerator / denominator, compared as ints
        if higher:  # assigned, not a tuple picked: no allocation
            numerator, denominator = n, target_sum
        else:
            numerator, denominator = target_sum, n
        value = make(n, 1)
        attainment = make(numerator, denominator)
        return target_sum, value, attainment, False, _final(numerator, denominator)
    if n == 0:  # the plain mean of the targets
        return _exact(target_sum, cells), None, None, False, Status.MISSED
    used = measured.total
    target = _exact(allowed, n)
    if not higher and used == 0:  # an average of zero is infinitely good
        return target, (_MEAN if ratio is None else ratio(0, n)), None, True, Status.EXCEEDED
    if higher:  # assigned, not a tuple picked: no allocation
        numerator, denominator = used, allowed
    else:
        numerator, denominator = allowed, used
    if ratio is None:
        rule = _USED_OVER_ALLOWED if higher else _ALLOWED_OVER_USED
        return target, _MEAN, rule, False, _final(numerator, denominator)
    value, attainment = ratio(used, n), ratio(numerator, denominator)
    return target, value, attainment, False, _final(numerator, denominator)


def _exact(n: int, d: int) -> Amount:
    """``n / d`` (``d > 0``) as an `Amount`: an int when it divides, else a `Fraction`."""
    return n // d if n % d == 0 else _ratio(n, d)


def _custom_value(kpi: Kpi, measured: Measurement) -> Fraction | None:
    """A non-empty cell's value under a custom KPI's aggregation."""
    agg = kpi.aggregation
    if agg is Aggregation.AVERAGE:
        return Fraction(measured.total, measured.count)
    if agg is Aggregation.SHARE:
        return Fraction(100 * measured.within, measured.count)
    if agg is Aggregation.PERCENTILE:
        return kpi.value_of(measured.values or ())
    found = measured.low if agg is Aggregation.MINIMUM else measured.high
    return None if found is None else Fraction(found)


def _scored_custom(
    kpi: Kpi, cells: int, target_sum: int, allowed: int, measured: Measurement
) -> Scored:
    """Custom aggregations: a SUM adds up like a count; the others compare their value
    with the count-weighted target Σ(target·n) / Σ n, as averages do."""
    n = measured.count
    if kpi.aggregation is Aggregation.SUM:
        target: Amount = target_sum
        value: Fraction | None = Fraction(measured.total)
    elif n == 0:
        return _exact(target_sum, cells), None, None, False, Status.MISSED
    else:
        target = _exact(allowed, n)
        value = _custom_value(kpi, measured)
    if value is None:
        return target, None, None, False, Status.MISSED
    if kpi.direction is Direction.HIGHER_IS_BETTER:
        attainment = value / target
    elif value == 0:
        return target, value, None, True, Status.EXCEEDED
    else:
        attainment = target / value
    return target, value, attainment, False, _final(attainment.numerator, attainment.denominator)


def _check_cells(cells: Sequence[tuple[int, Measurement]]) -> None:
    if not cells:
        raise InvalidInput("cells", cells, "a score needs at least one cell")
    for i, cell in enumerate(cells):
        target, measured = cell
        integer(f"cells[{i}].target", target, low=1)
        if not isinstance(measured, Measurement):
            raise InvalidInput(f"cells[{i}].measurement", measured, "expected a Measurement")
        if measured.count == 0 and measured.total != 0:
            raise InvalidInput(
                f"cells[{i}].measurement", measured, "a total without tickets is impossible"
            )


def score(kpi: Kpi, cells: Sequence[tuple[int, Measurement]]) -> Score:
    """Pool ``(target, measurement)`` cells into one score.

    Targets are positive ints: counts, or microseconds for DURATION KPIs.
    Counts add up: attainment is Σ actual / Σ target.  Averages compare time
    allowed with time used over cells with tickets: Σ(target·n) / Σ(total); the
    pooled target shown is Σ(target·n) / Σ n (the plain mean of targets when no
    cell has tickets).  One cell gives the cell's own score.  Lower is better
    inverts the ratio; an actual of zero is then infinitely good.
    """
    if not isinstance(kpi, Kpi):
        raise InvalidInput("kpi", kpi, "expected a Kpi")
    _check_cells(cells)
    pool = _Pool()
    for amount, cell in cells:
        pool.add(amount, cell)
    measured = pool.measurement() if len(cells) > 1 else cells[0][1]
    target, value, attainment, infinite, _ = pool.scored(kpi, measured, _ratio)
    # With a `ratio`, every field is a made `Fraction`, never a `_Derived` rule.
    assert not isinstance(value, _Derived)
    assert not isinstance(attainment, _Derived)
    return Score(target, measured, value, attainment, infinite)


class _Pool:
    """Integer sums of pooled cells: how many, Σ target, Σ target·count, Σ count, Σ total.

    Custom KPIs' cells also pool ``within``, the extremes and the sorted value
    runs, merged once when the measurement is read (merging cell by cell would
    copy the values gathered so far for every cell: quadratic in a roll-up).
    """

    __slots__ = (
        "allowed",
        "cells",
        "count",
        "custom",
        "high",
        "low",
        "runs",
        "target",
        "total",
        "within",
    )

    def __init__(self) -> None:
        self.cells = self.target = self.allowed = self.count = self.total = 0
        #: True once a cell with custom fields (shares, extremes, values) was added.
        self.custom = False
        self.within = 0
        self.low: int | None = None
        self.high: int | None = None
        self.runs: list[tuple[int, ...]] = []

    def add(self, target: int, measured: Measurement) -> None:
        n = measured.count
        self.cells += 1
        self.target += target
        self.allowed += target * n
        self.count += n
        self.total += measured.total
        if not measured.plain:
            self.custom = True
            self.within += measured.within
            low, high = measured.low, measured.high
            if low is not None and (self.low is None or low < self.low):
                self.low = low
            if high is not None and (self.high is None or high > self.high):
                self.high = high
            if measured.values is not None:
                self.runs.append(measured.values)

    def measurement(self) -> Measurement:
        if self.custom:
            values = tuple(heapq.merge(*self.runs)) if self.runs else None
            return Measurement(self.count, self.total, self.within, self.low, self.high, values)
        # Sums of valid measurements are valid: no validators to run again.
        return trusted_measurement(self.count, self.total)

    def scored(self, kpi: Kpi, measured: Measurement, ratio: Ratio | None) -> Scored:
        return _scored(kpi, self.cells, self.target, self.allowed, measured, ratio)


#: A period as ``(start_us, end_us)``.
Bounds: TypeAlias = tuple[int, int]


# The slots' own setters: rows the calculator made itself are not validated again
# (measured fastest, ahead of object.__setattr__ and of the attrs __init__).
_SET_ROW = tuple(Progress.__dict__[a.name].__set__ for a in attrs.fields(Progress))


class _Exact:
    """The ``value`` and ``attainment`` fields of `Progress`: the slot's own descriptor,
    except that a `_Derived` rule that the calculator stored is read as the `Fraction`
    it derives from the row, made on the first read and kept.

    So `evaluate` makes no `Fraction` for an average's rows: whoever reads a row (a display, an
    export, a store) makes those of the rows it reads.  Every read, ``==``,
    ``hash``, ``repr``, pickling and conversion sees the `Fraction`.
    """

    __slots__ = ("_slot",)

    def __init__(self, slot: Any) -> None:
        self._slot = slot

    def __get__(self, row: Any, owner: Any = None) -> Any:
        if row is None:
            return self
        value = self._slot.__get__(row, owner)
        if type(value) is _Derived:
            value = value.make(row)
            self._slot.__set__(row, value)
        return value

    def __set__(self, row: Any, value: Any) -> None:
        self._slot.__set__(row, value)

    def __delete__(self, row: Any) -> None:
        self._slot.__delete__(row)


for _name in ("value", "attainment"):
    setattr(Progress, _name, _Exact(Progress.__dict__[_name]))


def _row(
    contributor_id: str | None,
    milestone_index: int | None,
    bounds: Bounds,
    scored: Scored,
    measured: Measurement,
    at: datetime,
    at_us: int,
) -> Progress:
    """A freshly calculated row: its status at ``at`` (``at_us`` in epoch microseconds)."""
    target, value, attainment, infinite, final = scored
    if at_us < bounds[0]:
        status = Status.PENDING
    elif at_us < bounds[1]:
        status = Status.IN_PROGRESS
    else:
        status = final
    row: Progress = object.__new__(Progress)
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = _SET_ROW
    s0(row, contributor_id)
    s1(row, milestone_index)
    s2(row, target)
    s3(row, measured)
    s4(row, value)
    s5(row, attainment)
    s6(row, status)
    s7(row, at)
    s8(row, None)
    s9(row, infinite)
    return row


def _rows(value: Iterable[Progress]) -> tuple[Progress, ...]:
    return tuple(value)


def _milestones(value: Iterable[Milestone]) -> tuple[Milestone, ...]:
    return tuple(value)


#: ``(contributor_id, milestone_index)``; None stands for "every" in roll-ups.
RowKey: TypeAlias = tuple[str | None, int | None]
#: Where a contributor's rows are: its first row's position in ``rows``, its whole-goal
#: row's position, its first and last targeted milestones (-1 without targets) and
#: how many milestones it targets.
Layout: TypeAlias = dict[str, tuple[int, int, int, int, int]]


@frozen
class GoalReport:
    """A snapshot of one goal's progress at ``calculated_at``.

    ``rows`` holds one row per contributor and milestone that has a target;
    ``contributor_rows`` each contributor's whole goal; ``milestone_rows`` each
    milestone's total over the goal's current contributors.  Rows of deleted
    contributors follow the current ones.
    """

    goal_id: str = field(validator=lambda _, __, v: text("goal_id", v))
    calculated_at: datetime = field(validator=_calculated_at)
    milestones: tuple[Milestone, ...] = field(converter=_milestones)
    rows: tuple[Progress, ...] = field(converter=_rows)
    contributor_rows: tuple[Progress, ...] = field(converter=_rows)
    milestone_rows: tuple[Progress, ...] = field(converter=_rows)
    # The look-up index is built on the first look-up (None until then): a report
    # that is only stored or shown never needs it.
    _found: dict[RowKey, Progress] | None = field(init=False, eq=False, repr=False)
    _starts: list[int] = field(init=False, eq=False, repr=False)
    #: Where each current contributor's rows start: (in ``rows``, in ``contributor_rows``).
    _layout: Layout | None = field(init=False, eq=False, repr=False, default=None)

    def __attrs_post_init__(self) -> None:
        index: dict[RowKey, Progress] = {}
        for name, rows, shape in (
            ("rows", self.rows, (True, True)),
            ("contributor_rows", self.contributor_rows, (True, False)),
            ("milestone_rows", self.milestone_rows, (False, True)),
        ):
            for i, r in enumerate(rows):
                if not isinstance(r, Progress):
                    raise InvalidInput(f"{name}[{i}]", r, "expected a Progress row")
                key = (r.contributor_id, r.milestone_index)
                if (key[0] is not None, key[1] is not None) != shape:
                    raise InvalidInput(f"{name}[{i}]", key, "row of the wrong kind")
                if key in index:
                    raise InvalidInput(f"{name}[{i}]", key, "duplicate row")
                index[key] = r
        object.__setattr__(self, "_found", index)
        object.__setattr__(self, "_starts", [m.period.start_us for m in self.milestones])

    @property
    def _index(self) -> dict[RowKey, Progress]:
        index = self._found
        if index is None:
            index = {(r.contributor_id, r.milestone_index): r for r in self.rows}
            index.update({(r.contributor_id, None): r for r in self.contributor_rows})
            index.update({(None, r.milestone_index): r for r in self.milestone_rows})
            object.__setattr__(self, "_found", index)
        return index

    def _get(self, contributor_id: str | None, milestone_index: int | None) -> Progress:
        try:
            return self._index[(contributor_id, milestone_index)]
        except KeyError:
            raise NotFound("row", (contributor_id, milestone_index)) from None

    def row(self, contributor_id: str, milestone_index: int) -> Progress:
        """The row of one contributor and milestone; NotFound when it has none."""
        return self._get(contributor_id, milestone_index)

    def find_row(self, contributor_id: str, milestone_index: int) -> Progress | None:
        """The row of one contributor and milestone, or None when it has none."""
        return self._index.get((contributor_id, milestone_index))

    def whole_goal(self, contributor_id: str) -> Progress:
        """A contributor's roll-up across its milestones."""
        return self._get(contributor_id, None)

    def total(self, milestone_index: int) -> Progress:
        """A milestone's total row over all contributors (the "all reps" row)."""
        return self._get(None, milestone_index)

    def milestone_at(self, instant: datetime) -> Milestone:
        """The milestone that contains ``instant``; NotFound outside the goal's span."""
        us = to_us(aware("instant", instant))
        j = bisect_right(self._starts, us) - 1
        if j < 0 or us >= self.milestones[j].period.end_us:
            raise NotFound("instant", instant)
        return self.milestones[j]

    def row_at(self, contributor_id: str, instant: datetime) -> Progress:
        """A contributor's row of the milestone that contains ``instant``."""
        return self.row(contributor_id, self.milestone_at(instant).index)

    def total_at(self, instant: datetime) -> Progress:
        """The total row of the milestone that contains ``instant``."""
        return self.total(self.milestone_at(instant).index)

    def rows_of(self, contributor_id: str) -> tuple[Progress, ...]:
        """One contributor's cell rows in milestone order."""
        return tuple(r for r in self.rows if r.contributor_id == contributor_id)

    def _lookup(self, key: RowKey) -> Progress | None:
        return self._index.get(key)

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for r in self.rows:
            counts[r.status.value] = counts.get(r.status.value, 0) + 1
        statuses = ", ".join(f"{n} {status}" for status, n in counts.items())
        return (
            f"<GoalReport {self.goal_id!r} at {self.calculated_at.isoformat()}: "
            f"{len(self.milestones)} milestones, {len(self.rows)} rows ({statuses or 'none'})>"
        )

    def __str__(self) -> str:
        """A line per row: each contributor's milestones and whole goal, then the totals."""
        lines = [repr(self)]
        for r in (*self.rows, *self.contributor_rows, *self.milestone_rows):
            label = "whole goal"
            if r.milestone_index is not None:
                label = self.milestones[r.milestone_index].label
            who = "all contributors" if r.contributor_id is None else r.contributor_id
            lines.append(
                f"  {who}  {label}: {_short(r.value)} of {_short(r.target)}, "
                f"{r.percent_text} {r.status.value}"
            )
        return "\n".join(lines)


def _freeze(row: Progress, end_us: int) -> Progress:
    """``row`` marked frozen, for the reason its own calculation time gives.

    Calculated at or after its period's end (``end_us``): expired (a row is
    fixed then, whatever happens to its contributor later); before: contributor
    inactive.  So a frozen row's reason never changes while it is carried.
    """
    expired = to_us(row.calculated_at) >= end_us
    reason = FrozenReason.EXPIRED if expired else FrozenReason.CONTRIBUTOR_INACTIVE
    return row if row.frozen is reason else attrs.evolve(row, frozen=reason)


def _report(
    goal: Goal,
    at: datetime,
    rows: list[Progress],
    contributor_rows: list[Progress],
    milestone_rows: list[Progress],
    layout: Layout,
) -> GoalReport:
    """The report `evaluate` made: its rows are of the right kinds and unique by construction.

    ``layout`` says where each of the goal's contributors' rows are.
    """
    report: GoalReport = object.__new__(GoalReport)
    for name, value in (
        ("goal_id", goal.id),
        ("calculated_at", at),
        ("milestones", goal.milestones),
        ("rows", tuple(rows)),
        ("contributor_rows", tuple(contributor_rows)),
        ("milestone_rows", tuple(milestone_rows)),
        ("_found", None),
        ("_starts", [m.period.start_us for m in goal.milestones]),
        ("_layout", layout),
    ):
        object.__setattr__(report, name, value)
    return report


class _Evaluation:
    """The state of one `evaluate` call, so the row helpers stay small.

    Every row, cell or roll-up, follows one rule: it is recalculated from its
    inputs at ``at`` unless an earlier row exists and was calculated at or
    after its period's end, or belongs to an inactive contributor.  Then the
    earlier row is copied (frozen); when a target edit changed its inputs, its
    attainment and status are recomputed from its fixed measurement, as of its
    own ``calculated_at``.
    """

    def __init__(
        self, goal: Goal, measurements: Measurements, at: datetime, previous: GoalReport | None
    ) -> None:
        self.kpi = goal.kpi
        self.goal_id = goal.id
        self.measurements = measurements
        self.at = at
        self.at_us = to_us(at)
        self.previous = previous
        # Counts and count targets take few distinct values (0/1, 0/target, ...), so one
        # evaluation makes each ratio once; averages are nearly all distinct.
        count = goal.kpi.unit is Unit.COUNT
        self.ratio: Ratio | None = functools.cache(_ratio) if count else None

    def cell(
        self, contributor_id: str, index: int, bounds: Bounds, target: int, inactive: bool
    ) -> Progress:
        """The row of one targeted cell."""
        old = None
        if self.previous is not None:
            old = self._fixed((contributor_id, index), bounds, inactive)
        if old is not None:
            measured = old.measurement
        else:
            cell = (self.goal_id, contributor_id, index)
            measured = self.measurements.get(cell, _NOTHING)
            if type(measured) is not Measurement or (measured.count == 0 and measured.total):
                measured = self._measured(cell, measured)
        scored = _scored(self.kpi, 1, target, target * measured.count, measured, self.ratio)
        if old is None and not inactive:  # the common case, first
            return _row(contributor_id, index, bounds, scored, measured, self.at, self.at_us)
        return self._row((contributor_id, index), bounds, scored, measured, old, inactive)

    def pooled(self, key: RowKey, bounds: Bounds, cells: _Pool, inactive: bool) -> Progress:
        """A roll-up row over the report's own cells, frozen ones included."""
        measured = cells.measurement()
        scored = _scored(self.kpi, cells.cells, cells.target, cells.allowed, measured, self.ratio)
        if self.previous is None and not inactive:  # the common case, first
            return _row(key[0], key[1], bounds, scored, measured, self.at, self.at_us)
        return self._row(
            key, bounds, scored, measured, self._fixed(key, bounds, inactive), inactive
        )

    def _fixed(self, key: RowKey, bounds: Bounds, inactive: bool) -> Progress | None:
        """The previous row when this one is not recalculated, else None."""
        old = None if self.previous is None else self.previous._lookup(key)
        if old is not None and (inactive or to_us(old.calculated_at) >= bounds[1]):
            return old
        return None

    def _measured(self, key: CellKey, measured: object) -> Measurement:
        """``measured`` when it is a valid measurement (None: no tickets), else raise."""
        if measured is None:
            return _NOTHING  # a missing cell counts as no tickets
        if not isinstance(measured, Measurement):
            raise InvalidInput(f"measurements[{key!r}]", measured, "expected a Measurement")
        if measured.count == 0 and measured.total != 0:
            raise InvalidInput(
                f"measurements[{key!r}]", measured, "a total without tickets is impossible"
            )
        return measured

    def _row(
        self,
        key: RowKey,
        bounds: Bounds,
        scored: Scored,
        measured: Measurement,
        old: Progress | None,
        inactive: bool,
    ) -> Progress:
        if old is None:
            row = _row(key[0], key[1], bounds, scored, measured, self.at, self.at_us)
            # An inactive contributor without an earlier row gets one calculation.
            return _freeze(row, bounds[1]) if inactive else row
        if old.target != scored[0] or old.measurement != measured:
            at = old.calculated_at
            old = _row(key[0], key[1], bounds, scored, measured, at, to_us(at))
        return _freeze(old, bounds[1])


_NOTHING = Measurement()


def _carried(
    previous: GoalReport, goal: Goal, bounds: Sequence[Bounds]
) -> tuple[list[Progress], list[Progress]]:
    """The rows and whole-goal rows of contributors deleted from ``goal``, frozen."""
    current = set(goal.contributor_ids)
    earlier = (*previous.rows, *previous.contributor_rows)
    deleted = dict.fromkeys(r.contributor_id for r in earlier if r.contributor_id not in current)
    rows: list[Progress] = []
    wholes: list[Progress] = []
    for cid in deleted:
        assert cid is not None  # rows and whole-goal rows name their contributor
        mine = previous.rows_of(cid)
        rows.extend(_freeze(r, bounds[_index(r)][1]) for r in mine)
        whole = previous._lookup((cid, None))
        if whole is not None:
            end = bounds[_index(mine[-1])][1] if mine else goal.span.end_us
            wholes.append(_freeze(whole, end))
    return rows, wholes


def _key(row: Progress) -> RowKey:
    return (row.contributor_id, row.milestone_index)


def _index(row: Progress) -> int:
    assert row.milestone_index is not None
    return row.milestone_index


def _check_report_of(goal: Goal, field: str, report: object, *, optional: bool = False) -> None:
    """``report`` is a GoalReport of ``goal`` (or None when ``optional``)."""
    if report is None and optional:
        return
    if not isinstance(report, GoalReport):
        expected = "a GoalReport or None" if optional else "a GoalReport"
        raise InvalidInput(field, report, f"expected {expected}")
    if report.goal_id != goal.id:
        raise InvalidInput(f"{field}.goal_id", report.goal_id, f"not goal {goal.id!r}")


def _check_previous(goal: Goal, previous: GoalReport | None, at: datetime) -> None:
    _check_report_of(goal, "previous", previous, optional=True)
    if previous is None:
        return
    if previous.milestones != goal.milestones:
        raise InvalidInput(
            "previous.milestones", len(previous.milestones), "not this goal's milestones"
        )
    if to_us(at) < to_us(previous.calculated_at):
        raise InvalidInput("at", at, f"before the previous calculation at {previous.calculated_at}")


def _target_us(target: Target) -> int:
    """`Target.value` without its isinstance check: an int count or a timedelta."""
    amount = target.amount
    return amount if type(amount) is int else amount // _MICROSECOND  # type: ignore[operator]


def evaluate(
    goal: Goal,
    measurements: Measurements,
    *,
    at: datetime,
    previous: GoalReport | None = None,
    directory: Directory | None = None,
) -> GoalReport:
    """Calculate a goal's report at ``at``.

    ``measurements`` comes from [`measure`][servicegoals.measure.measure] or a push-down
    source; a missing cell counts as no tickets.  With ``previous`` (the last
    report of this goal, calculated no later than ``at``), rows calculated at or
    after their period's end are copied (frozen: expired), and rows of
    deactivated or deleted contributors are carried forward (frozen: contributor
    inactive).  ``directory`` tells who is deactivated; without it everyone is
    active.  Roll-up rows pool the report's own cell rows, frozen ones included.
    """
    if not isinstance(goal, Goal):
        raise InvalidInput("goal", goal, "expected a Goal")
    if not isinstance(measurements, Mapping):
        raise InvalidInput("measurements", measurements, "expected a mapping of cell keys")
    aware("at", at)
    _check_previous(goal, previous, at)
    if directory is not None and not isinstance(directory, Directory):
        raise InvalidInput("directory", directory, "expected a Directory or None")

    run = _Evaluation(goal, measurements, at, previous)
    cell = run.cell
    bounds = [(m.period.start_us, m.period.end_us) for m in goal.milestones]
    totals = [_Pool() for _ in bounds]
    rows: list[Progress] = []
    layout: Layout = {}
    # (contributor id, whole-goal span, pool, inactive) of each targeted contributor.
    wholes: list[tuple[str, Bounds, _Pool, bool]] = []
    plain = True
    for contributor, targets in zip(goal.contributors, goal.targets, strict=True):
        inactive = directory is not None and not directory.is_active(contributor)
        cid = contributor.id
        at_row = len(rows)
        own = _Pool()
        first = last = -1
        for j, target in enumerate(targets):
            if target is None:
                continue
            amount = target.amount  # `_target_us`, written out
            if type(amount) is not int:
                amount //= _MICROSECOND  # type: ignore[operator]
            row = cell(cid, j, bounds[j], amount, inactive)
            rows.append(row)
            # `_Pool.add` of plain cells, written out (two calls a row were a tenth
            # of the time); cells with custom fields are pooled again below.
            measured = row.measurement
            n = measured.count
            total = measured.total
            allowed = amount * n
            own.cells += 1
            own.target += amount
            own.allowed += allowed
            own.count += n
            own.total += total
            pool = totals[j]
            pool.cells += 1
            pool.target += amount
            pool.allowed += allowed
            pool.count += n
            pool.total += total
            if plain and (
                measured.values is not None
                or measured.within
                or measured.low is not None
                or measured.high is not None
            ):
                plain = False  # `Measurement.plain`, written out
            if first < 0:
                first = j
            last = j
        layout[cid] = (at_row, len(wholes), first, last, own.cells)
        if first >= 0:
            # From the first targeted milestone's start to the last one's end.
            wholes.append((cid, (bounds[first][0], bounds[last][1]), own, inactive))
    if not plain:
        totals, owns = _pool_again(goal, rows)
        wholes = [(cid, span, owns[cid], inactive) for cid, span, _, inactive in wholes]
    contributor_rows = [
        run.pooled((cid, None), span, own, inactive) for cid, span, own, inactive in wholes
    ]

    if previous is not None:
        # Deleted contributors' last rows are carried forward, but not pooled.
        deleted_rows, deleted_wholes = _carried(previous, goal, bounds)
        rows.extend(deleted_rows)
        contributor_rows.extend(deleted_wholes)

    milestone_rows = [
        run.pooled((None, j), bounds[j], pool, False) for j, pool in enumerate(totals) if pool.cells
    ]
    return _report(goal, at, rows, contributor_rows, milestone_rows, layout)


def _pool_again(goal: Goal, rows: list[Progress]) -> tuple[list[_Pool], dict[str, _Pool]]:
    """The cell rows pooled by `_Pool.add`, custom fields included: by milestone and by
    contributor."""
    totals = [_Pool() for _ in goal.milestones]
    owns: dict[str, _Pool] = {}
    amounts = {c.id: t for c, t in zip(goal.contributors, goal.targets, strict=True)}
    for row in rows:
        cid, j = row.contributor_id, _index(row)
        assert cid is not None  # a cell row
        amount = _target_us(amounts[cid][j])  # type: ignore[arg-type]
        owns.setdefault(cid, _Pool()).add(amount, row.measurement)
        totals[j].add(amount, row.measurement)
    return totals, owns


def reevaluate(
    base: GoalReport,
    goal: Goal,
    measurements: Measurements,
    touched: Iterable[CellKey],
    *,
    previous: GoalReport | None = None,
    directory: Directory | None = None,
) -> GoalReport:
    """``base`` after the measurements of the ``touched`` cells changed.

    ``base`` is `evaluate(goal, old_measurements, at=..., previous=previous,
    directory=directory)`; the result equals `evaluate(goal, measurements,
    at=base.calculated_at, previous=previous, directory=directory)`, provided
    ``measurements`` differs from the old ones only in ``touched`` cells (keys of
    other goals are ignored; `IncrementalMeasure.apply` returns them by goal).
    Only the touched cells' rows and the roll-ups of their contributors and
    milestones are recalculated; every other row is copied from ``base``, since
    its inputs are the same.  A refresh at a later instant changes every row
    (its status and ``calculated_at``): call `evaluate` for that.

    Raises:
        InvalidInput: ``base`` is not a report of ``goal`` (another goal, other
            milestones, other contributors, or rows that do not fit its targets).
    """
    _check_report_of(goal, "base", base)
    if base.milestones != goal.milestones:
        raise InvalidInput("base.milestones", len(base.milestones), "not this goal's milestones")
    if not isinstance(measurements, Mapping):
        raise InvalidInput("measurements", measurements, "expected a mapping of cell keys")
    at = base.calculated_at
    _check_previous(goal, previous, at)
    if directory is not None and not isinstance(directory, Directory):
        raise InvalidInput("directory", directory, "expected a Directory or None")
    mine: dict[str, set[int]] = {}
    goal_id = goal.id
    for key in touched:
        if key[0] == goal_id:
            mine.setdefault(key[1], set()).add(key[2])
    if not mine:
        return base

    run = _Evaluation(goal, measurements, at, previous)
    bounds = [(m.period.start_us, m.period.end_us) for m in goal.milestones]
    rows = list(base.rows)
    contributor_rows = list(base.contributor_rows)
    where = base._layout if base._layout is not None else _layout(goal)
    if where.keys() != {c.id for c in goal.contributors}:
        raise InvalidInput("base", base.goal_id, "not a report of this goal's contributors")
    kpi = goal.kpi
    # Roll-ups move by the touched rows' differences (see `_moved`): per milestone,
    # [Σ count, Σ total, Σ target·count] of the differences, written out below.
    moves: dict[int, list[int]] = {}
    for contributor, targets in zip(goal.contributors, goal.targets, strict=True):
        cid = contributor.id
        changed = mine.get(cid)
        if changed is None:
            continue
        first, whole, low, high, targeted = where[cid]
        # Targets on every milestone from the first to the last (the usual case):
        # a milestone's row is at its distance from the first.
        gapless = high - low + 1 == targeted
        inactive = directory is not None and not directory.is_active(contributor)
        own_cells = own_count = own_total = own_allowed = 0  # the contributor's differences
        for j in changed:
            target = targets[j] if type(j) is int and 0 <= j < len(targets) else None
            if target is None:
                continue  # untargeted cells have no row
            amount = _target_us(target)
            position = first + (j - low if gapless else _targeted(targets[:j]))
            before = rows[position] if 0 <= position < len(rows) else None
            if before is None or before.contributor_id != cid or before.milestone_index != j:
                raise InvalidInput("base.rows", position, "not the rows of this goal's targets")
            rows[position] = row = run.cell(cid, j, bounds[j], amount, inactive)
            was, now = before.measurement, row.measurement
            n, spent = now.count - was.count, now.total - was.total
            own_cells += 1
            own_count += n
            own_total += spent
            own_allowed += amount * n
            move = moves.get(j)
            if move is None:
                moves[j] = [n, spent, amount * n]
            else:
                move[0] += n
                move[1] += spent
                move[2] += amount * n
        if not own_cells:
            continue
        pool = _moved(kpi, contributor_rows[whole], own_count, own_total, own_allowed)
        if pool is None:
            pool = _Pool()
            for i, t in enumerate(t for t in targets if t is not None):
                pool.add(_target_us(t), rows[first + i].measurement)
        span = (bounds[low][0], bounds[high][1])
        contributor_rows[whole] = run.pooled((cid, None), span, pool, inactive)

    milestone_rows = list(base.milestone_rows)
    for position, total in enumerate(milestone_rows):
        j = _index(total)
        move = moves.get(j)
        if move is None:
            continue
        pool = _moved(kpi, total, *move)
        if pool is None:
            pool = _Pool()
            for contributor, targets in zip(goal.contributors, goal.targets, strict=True):
                target = targets[j]
                if target is not None:
                    first = where[contributor.id][0]
                    row = rows[first + _targeted(targets[:j])]
                    pool.add(_target_us(target), row.measurement)
        milestone_rows[position] = run.pooled((None, j), bounds[j], pool, False)
    return _report(goal, at, rows, contributor_rows, milestone_rows, where)


def _layout(goal: Goal) -> Layout:
    """Where `evaluate` puts each contributor's rows: in contributor order, milestones
    ascending, a whole-goal row for each contributor with a target."""
    layout: Layout = {}
    offset = whole_at = 0
    for contributor, targets in zip(goal.contributors, goal.targets, strict=True):
        targeted = [j for j, t in enumerate(targets) if t is not None]
        first, last = (targeted[0], targeted[-1]) if targeted else (-1, -1)
        layout[contributor.id] = (offset, whole_at, first, last, len(targeted))
        offset += len(targeted)
        whole_at += bool(targeted)
    return layout


def _targeted(targets: Sequence[Target | None]) -> int:
    """How many of ``targets`` are set (by identity: `tuple.count` calls `Target.__eq__`)."""
    return sum(map(operator.is_not, targets, itertools.repeat(None)))


def _moved(kpi: Kpi, row: Progress, count: int, total: int, allowed: int) -> _Pool | None:
    """The pool of roll-up ``row`` after its cells moved by Σ ``count``, Σ ``total`` and
    Σ target·count ``allowed``; None when it needs every cell.

    A roll-up row shows its pool's measurement and pooled target, so the sums
    `_scored` reads come back from it: Σ target for counts (Σ target·count is
    unused), Σ target·count = target × count for averages.  An average left
    without tickets shows the plain mean of targets, which needs every cell.
    """
    if not kpi.fast:
        return None  # shares, extremes and percentiles do not move by a difference
    measured = row.measurement
    pool = _Pool()
    pool.count = measured.count + count
    pool.total = measured.total + total
    if kpi.unit is Unit.COUNT:
        pool.target = int(row.target)  # Σ target; `cells` is read only by averages
        return pool
    if pool.count == 0:
        return None
    target = row.target  # Σ target·count / Σ count: times the count, an int
    if isinstance(target, int):
        pool.allowed = target * measured.count + allowed
    else:
        pool.allowed = target.numerator * measured.count // target.denominator + allowed
    return pool
