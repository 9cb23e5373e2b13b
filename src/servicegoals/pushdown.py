"""Push-down planning: goals as a few aggregate queries, and their rows as measurements.

A source that aggregates where its data lives (SQLite, SQLAlchemy, DuckDB)
turns the goals' cells into a `PushDownPlan`: a handful of `AggregateQuery`s it
runs in its database, whose rows (`AggregateRow`) the plan turns back into the
exact measurements `servicegoals.measure` would give; custom KPIs that SQL
can express become `KpiQuery`s (and `WhereCheck`s for their filters), goal by
goal, and the rest streams.  Shared by every push-down source; pure (no I/O),
so each adapter only writes its SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from attrs import frozen

from ._validate import duration_us
from .clock import as_of_limit
from .errors import DataSourceError, InvalidInput
from .goals import ContributorKind, Directory, Goal
from .kpis import Aggregation, Contribution, Kpi, Measurement, PropertyValue, TicketEvent
from .measure import CellKey, CellPlan, plan_cells, trusted_measurement

__all__ = [
    "AggregateQuery",
    "AggregateRow",
    "KpiQuery",
    "KpiRow",
    "PushDownPlan",
    "WhereCheck",
]

#: The bounds of a stored int: the SQL tables keep 64-bit integers.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: The ticket column of each event SQL places or times tickets by.  Sources with
#: ticket histories stream, so a ticket's first close is its only close here.
EVENT_COLUMNS = {
    TicketEvent.CLOSED: "closed_at",
    TicketEvent.FIRST_CLOSE: "closed_at",
    TicketEvent.FIRST_RESPONSE: "first_response_at",
    TicketEvent.CREATED: "created_at",
}


def unstorable(text: str) -> str | None:
    """Why a database cannot keep ``text`` (None when it can): NUL, lone surrogates."""
    if "\x00" in text:
        return "text with the NUL character cannot be stored"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "text with a lone surrogate (not valid Unicode) cannot be stored"
    return None


#: One aggregated row: ``(match_id, milestone_index, pipeline, count, total)``;
#: ``pipeline`` is None unless the query groups by pipeline.
AggregateRow: TypeAlias = tuple[str, int, str | None, int, int]


@frozen
class AggregateQuery:
    """One aggregate query of a push-down.

    Over tickets whose ``column`` (``owner_id`` or ``team_id``) is one of
    ``match_ids`` and whose ``event`` column lies in ``[bounds[0], end)``, in
    ``pipelines`` (None: any), group by ``column``, the milestone index ``j``
    with ``bounds[j] <= event < bounds[j + 1]`` and, when ``by_pipeline``, the
    pipeline; return the count and the sum of ``event - created_at``.  ``end``
    is ``bounds[-1]``, or earlier when measuring as of an instant (``limit``,
    the first microsecond after it).
    """

    column: str
    event: str
    bounds: tuple[int, ...]
    match_ids: tuple[str, ...]
    pipelines: tuple[str, ...] | None
    by_pipeline: bool
    limit: int | None = None

    @property
    def milestones(self) -> int:
        """How many milestones the bounds make."""
        return len(self.bounds) - 1

    @property
    def end(self) -> int:
        """The first event instant that does not count (epoch µs)."""
        end = self.bounds[-1]
        return end if self.limit is None else min(end, self.limit)


#: One row of a [`KpiQuery`][]: ``(match_id, milestone_index, pipeline, count,
#: high and low 32 bits of the sum, within, minimum, maximum, bad, a bad ticket id,
#: sorted values or None)``.  ``bad`` counts tickets whose int property is missing,
#: not an int or negative; they count nowhere else.
KpiRow: TypeAlias = tuple[Any, ...]


@frozen
class KpiQuery(AggregateQuery):
    """One aggregate query of custom-KPI goals (see `AggregateQuery` for the grouping).

    A ticket's value is 0 (``start`` and ``value_property`` None), the time from
    its ``start`` column to its ``event`` column (counted only when the start
    is not after the event), or its int property ``value_property``.  It
    counts only when it passes ``where`` (property name to allowed values).
    Rows are `KpiRow`s: ``within`` counts values at most ``threshold`` (0
    without one), ``values`` lists them sorted when ``values`` is true.
    """

    start: str | None = None
    value_property: str | None = None
    where: tuple[tuple[str, frozenset[str | int]], ...] = ()
    threshold: int | None = None
    values: bool = False


@frozen
class WhereCheck:
    """Tickets of ``match_ids`` (in ``column``) that lack a property the KPI ``kpi_key``
    filters on (``where``, checked in order as `measure` does): an error there.

    Rows are ``(match_id, ticket_id, property name)``; a source may return
    tickets of other ids, or stop at the first row.
    """

    column: str
    match_ids: tuple[str, ...]
    where: tuple[tuple[str, frozenset[str | int]], ...]
    kpi_key: str


def allowed_values(allowed: frozenset[str | int]) -> tuple[list[str], list[int]]:
    """The texts and the ints of a ``where`` entry that a database can hold (no
    stored property equals the others)."""
    texts = sorted(v for v in allowed if isinstance(v, str) and unstorable(v) is None)
    ints = sorted(v for v in allowed if isinstance(v, int) and INT64_MIN <= v <= INT64_MAX)
    return texts, ints


def _pushable(goal: Goal, percentiles: bool) -> bool:
    """Whether SQL can measure ``goal``'s custom KPI exactly (see docs/kpis.md)."""
    kpi = goal.kpi
    if kpi.event not in EVENT_COLUMNS or kpi.start not in EVENT_COLUMNS:
        return False  # reopens and property instants stream
    if kpi.aggregation is Aggregation.PERCENTILE and not percentiles:
        return False
    return kpi.contribution is not Contribution.DURATION or goal.clock_policy.calendar


def _threshold(kpi: Kpi) -> int | None:
    """The SHARE threshold in the values' unit, clamped to 64 bits (values fit in them)."""
    found = kpi.threshold
    if found is None:
        return None
    value = duration_us(found) if isinstance(found, timedelta) else found
    return min(max(value, INT64_MIN), INT64_MAX)


def _column(plan: CellPlan) -> str:
    return "owner_id" if plan.kind is ContributorKind.USER else "team_id"


class PushDownPlan:
    """Goals as a few aggregate queries ([`AggregateQuery`][]), and their rows as measurements.

    Plans that share a contributor column, an event, milestone bounds and one
    pipeline set for every milestone share one query that filters pipelines
    itself, so a hundred monthly goals over one year cost a handful of queries.
    Plans whose pipelines differ from milestone to milestone share a query that
    groups by pipeline as well; [`collect`][] picks the allowed ones.  Run each
    query of `queries` in the database, hand its rows to [`collect`][],
    then take [`result`][].

    With ``custom=True`` (the source stores ticket properties) the custom-KPI
    goals SQL can express become `kpi_queries` (rows to `collect_kpi`) and
    `checks` (rows to `check`); ``percentiles=True`` (a database that returns
    sorted values) adds PERCENTILE ones.  The other goals are `streamed`: the
    source measures them from its tickets and adds their cells.
    """

    def __init__(
        self,
        goals: Iterable[Goal],
        directory: Directory | None = None,
        *,
        at: datetime | None = None,
        custom: bool = False,
        percentiles: bool = False,
    ) -> None:
        limit = as_of_limit(at)
        goals = tuple(goals) if isinstance(goals, Iterable) else goals
        plans = plan_cells(goals, directory)
        by_id = {g.id: g for g in goals}
        # Per goal: the templates' shapes on calendar clocks, custom KPIs that SQL can
        # express (when the source pushes them down), or streaming.
        templates = {g.id for g in goals if g.kpi.fast and g.clock_policy.calendar}
        kpis = {g.id for g in goals if custom and not g.kpi.fast and _pushable(g, percentiles)}
        #: The goals SQL cannot measure (working-time clocks, reopens, property
        #: instants, percentiles where the source has no sorted aggregate): the
        #: source measures them by streaming its tickets.
        self.streamed: tuple[Goal, ...] = tuple(
            g for g in by_id.values() if g.id not in templates and g.id not in kpis
        )
        #: True when some goal streams.
        self.streams = bool(self.streamed)
        self._plans = tuple(p for p in plans if p.goal_id in templates)
        self._kpi_plans = tuple(p for p in plans if p.goal_id in kpis)
        self._kpis = tuple(by_id[p.goal_id].kpi for p in self._kpi_plans)
        self.queries: tuple[AggregateQuery, ...]
        self.queries, self._members = _grouped(
            self._plans, [()] * len(self._plans), limit, AggregateQuery
        )
        shapes = [_shape(kpi) for kpi in self._kpis]
        kpi_queries, self._kpi_members = _grouped(self._kpi_plans, shapes, limit, KpiQuery)
        self.kpi_queries: tuple[KpiQuery, ...] = kpi_queries
        self.checks: tuple[WhereCheck, ...] = _checks(self._kpi_plans, self._kpis)
        self._counts = [[0] * (len(p.bounds) - 1) for p in self._plans]
        self._totals = [[0] * (len(p.bounds) - 1) for p in self._plans]
        self._cells = [_KpiCells(len(p.bounds) - 1) for p in self._kpi_plans]
        #: ``(ticket_id, property, kpi key)`` of a ticket whose int property is bad.
        self.bad: tuple[str, str, str] | None = None

    def collect(self, index: int, rows: Iterable[Sequence[Any]]) -> None:
        """Add the rows (see `AggregateRow`) that query ``index`` returned."""
        query = self.queries[index]
        members = self._members[index]
        plans, counts, totals = self._plans, self._counts, self._totals
        for match_id, bucket, pipeline, count, total in rows:
            if not isinstance(bucket, int) or not 0 <= bucket < query.milestones:
                raise DataSourceError(f"aggregate query returned milestone index {bucket!r}")
            for p in members.get(match_id, ()):
                plan = plans[p]
                if query.by_pipeline:
                    allowed = plan.pipelines[bucket]
                    if allowed is not None and pipeline not in allowed:
                        continue
                counts[p][bucket] += int(count)
                if plan.duration:
                    totals[p][bucket] += int(total)

    def collect_kpi(self, index: int, rows: Iterable[Sequence[Any]]) -> None:
        """Add the rows (see `KpiRow`) that ``kpi_queries[index]`` returned."""
        query = self.kpi_queries[index]
        members = self._kpi_members[index]
        for row in rows:
            (
                match_id,
                bucket,
                pipeline,
                count,
                high,
                low_bits,
                within,
                low,
                top,
                bad,
                bad_id,
                values,
            ) = row
            if not isinstance(bucket, int) or not 0 <= bucket < query.milestones:
                raise DataSourceError(f"aggregate query returned milestone index {bucket!r}")
            for p in members.get(match_id, ()):
                plan = self._kpi_plans[p]
                if query.by_pipeline:
                    allowed = plan.pipelines[bucket]
                    if allowed is not None and pipeline not in allowed:
                        continue
                if bad and self.bad is None:
                    kpi = self._kpis[p]
                    assert kpi.value_property is not None
                    self.bad = (str(bad_id), kpi.value_property, kpi.key)
                self._cells[p].add(
                    bucket,
                    int(count) - int(bad or 0),
                    (int(high or 0) << 32) + int(low_bits or 0),
                    int(within or 0),
                    low,
                    top,
                    values,
                )

    def bad_value(self, value: PropertyValue | None) -> InvalidInput:
        """The error `measure` raises for the ticket in `bad`, whose property is ``value``."""
        assert self.bad is not None
        ticket_id, name, key = self.bad
        return InvalidInput(
            f"ticket {ticket_id!r}.properties[{name!r}]",
            value,
            f"KPI {key!r} sums it: expected an int >= 0",
        )

    def check(self, index: int, rows: Iterable[Sequence[Any]]) -> None:
        """Raise `measure`'s error for the first row of ``checks[index]`` that it counts."""
        check = self.checks[index]
        wanted = set(check.match_ids)
        for match_id, ticket_id, name in rows:
            if match_id in wanted:
                raise InvalidInput(
                    f"ticket {ticket_id!r}.properties",
                    name,
                    f"KPI {check.kpi_key!r} filters on this property, which the ticket lacks",
                )

    def result(self) -> dict[CellKey, Measurement]:
        """Every pushed-down cell's measurement, zeros included, as [`measure`][] returns them
        (the cells of `streamed` goals are the source's to add)."""
        result: dict[CellKey, Measurement] = {}
        for plan, kpi, cells in zip(self._kpi_plans, self._kpis, self._cells, strict=True):
            for j in range(len(plan.bounds) - 1):
                result[plan.key(j)] = cells.measurement(j, kpi.aggregation)
        zero = Measurement(0, 0)  # immutable, so empty cells can share it
        for plan, counts, totals in zip(self._plans, self._counts, self._totals, strict=True):
            goal_id, contributor_id = plan.goal_id, plan.contributor_id
            for j, (count, total) in enumerate(zip(counts, totals, strict=True)):
                if count < 0:
                    raise DataSourceError(f"cell {plan.key(j)}: negative ticket count {count}")
                if total < 0:
                    raise DataSourceError(
                        f"cell {plan.key(j)}: negative duration total {total}: the source "
                        "holds tickets answered or closed before they were created"
                    )
                # Ints the plan summed itself, checked above: no validators to run again.
                result[goal_id, contributor_id, j] = (
                    trusted_measurement(count, total) if count else zero
                )
        return result


def _shape(kpi: Kpi) -> tuple[Any, ...]:
    """What a custom KPI asks of its `KpiQuery`: event, start, value_property, where,
    threshold and values, in that order (a grouping key)."""
    duration = kpi.contribution is Contribution.DURATION
    return (
        EVENT_COLUMNS[kpi.event],
        EVENT_COLUMNS[kpi.start] if duration else None,
        kpi.value_property,
        kpi.where,
        _threshold(kpi),
        kpi.aggregation is Aggregation.PERCENTILE,
    )


def _grouped(
    plans: Sequence[CellPlan],
    shapes: Sequence[tuple[Any, ...]],
    limit: int | None,
    kind: type[AggregateQuery],
) -> tuple[tuple[Any, ...], list[dict[str, list[int]]]]:
    """The queries of ``plans`` (of one ``shape`` each) and, per query, the plans by id.

    Plans share a query when they share the contributor column, the shape, the
    milestone bounds and either one pipeline set for every milestone or none.
    """
    # key: (column, event, bounds, varies, the one pipeline set when it does not, shape)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for p, (plan, shape) in enumerate(zip(plans, shapes, strict=True)):
        first = plan.pipelines[0]
        varies = any(s != first for s in plan.pipelines)
        event = shape[0] if shape else plan.event.value
        key = (_column(plan), event, plan.bounds, varies, None if varies else first, shape)
        groups.setdefault(key, []).append(p)
    queries = []
    members: list[dict[str, list[int]]] = []
    for (column, event, bounds, varies, _, shape), group in groups.items():
        by_id: dict[str, list[int]] = {}
        sets: set[frozenset[str] | None] = set()
        for p in group:
            for match in plans[p].match_ids:
                by_id.setdefault(match, []).append(p)
            sets.update(plans[p].pipelines)
        named = [s for s in sets if s is not None]
        pipelines = None if None in sets else tuple(sorted(set().union(*named)))
        names = ("start", "value_property", "where", "threshold", "values")
        fields = dict(zip(names, shape[1:], strict=False))  # templates have no shape
        queries.append(
            kind(column, event, bounds, tuple(sorted(by_id)), pipelines, varies, limit, **fields)
        )
        members.append(by_id)
    return tuple(queries), members


def _checks(plans: Sequence[CellPlan], kpis: Sequence[Kpi]) -> tuple[WhereCheck, ...]:
    """One `WhereCheck` per contributor column, KPI key and filter."""
    groups: dict[tuple[Any, ...], set[str]] = {}
    for plan, kpi in zip(plans, kpis, strict=True):
        if kpi.where:
            groups.setdefault((_column(plan), kpi.key, kpi.where), set()).update(plan.match_ids)
    return tuple(
        WhereCheck(column, tuple(sorted(ids)), where, key)
        for (column, key, where), ids in groups.items()
    )


class _KpiCells:
    """What the rows of a custom-KPI plan add up to, one slot per milestone."""

    __slots__ = ("counts", "highs", "lows", "totals", "values", "withins")

    def __init__(self, n: int) -> None:
        self.counts = [0] * n
        self.totals = [0] * n
        self.withins = [0] * n
        self.lows: list[int | None] = [None] * n
        self.highs: list[int | None] = [None] * n
        self.values: list[list[int]] = [[] for _ in range(n)]

    def add(
        self,
        j: int,
        count: int,
        total: int,
        within: int,
        low: Any,
        high: Any,
        values: Iterable[Any] | None,
    ) -> None:
        self.counts[j] += count
        self.totals[j] += total
        self.withins[j] += within
        if low is not None:
            known = self.lows[j]
            self.lows[j] = int(low) if known is None else min(known, int(low))
        if high is not None:
            known = self.highs[j]
            self.highs[j] = int(high) if known is None else max(known, int(high))
        if values:
            self.values[j].extend(int(v) for v in values if v is not None)

    def measurement(self, j: int, aggregation: Aggregation) -> Measurement:
        """The cell as the streaming engine fills it: only its aggregation's fields."""
        count = self.counts[j]
        if not count:
            return Measurement()
        return Measurement(
            count,
            self.totals[j],
            self.withins[j] if aggregation is Aggregation.SHARE else 0,
            self.lows[j] if aggregation is Aggregation.MINIMUM else None,
            self.highs[j] if aggregation is Aggregation.MAXIMUM else None,
            tuple(sorted(self.values[j])) if aggregation is Aggregation.PERCENTILE else None,
        )
