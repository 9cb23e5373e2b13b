"""Push-down planning: goals as a few aggregate queries, and their rows as measurements.

A source that aggregates where its data lives (SQLite, SQLAlchemy, DuckDB)
turns the goals' cells into a `PushDownPlan`: a handful of `AggregateQuery`s it
runs in its database, whose rows (`AggregateRow`) the plan turns back into the
exact measurements `servicegoals.measure` would give.  Shared by every
push-down source; pure (no I/O), so each adapter only writes its SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeAlias

from attrs import frozen

from .clock import as_of_limit
from .errors import DataSourceError
from .goals import ContributorKind, Directory, Goal
from .kpis import Measurement
from .measure import CellKey, CellPlan, plan_cells

__all__ = ["AggregateQuery", "AggregateRow", "PushDownPlan"]


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
    """

    def __init__(
        self,
        goals: Iterable[Goal],
        directory: Directory | None = None,
        *,
        at: datetime | None = None,
    ) -> None:
        limit = as_of_limit(at)
        goals = tuple(goals) if isinstance(goals, Iterable) else goals
        self._plans = plan_cells(goals, directory)
        #: True when a goal's clock is not wall-clock time, or its KPI is a custom
        #: one: SQL cannot time or aggregate its tickets yet, so the source
        #: measures them by streaming instead.
        self.streams = any(not plan.policy.calendar for plan in self._plans) or any(
            not g.kpi.fast for g in goals
        )
        # key: (column, event, bounds, varies, the one pipeline set when it does not)
        groups: dict[tuple[Any, ...], list[int]] = {}
        for p, plan in enumerate(self._plans):
            first = plan.pipelines[0]
            varies = any(s != first for s in plan.pipelines)
            key = (_column(plan), plan.event.value, plan.bounds, varies, None if varies else first)
            groups.setdefault(key, []).append(p)
        queries = []
        self._members: list[dict[str, list[int]]] = []
        for (column, event, bounds, varies, _), members in groups.items():
            by_id: dict[str, list[int]] = {}
            sets: set[frozenset[str] | None] = set()
            for p in members:
                for match in self._plans[p].match_ids:
                    by_id.setdefault(match, []).append(p)
                sets.update(self._plans[p].pipelines)
            named = [s for s in sets if s is not None]
            pipelines = None if None in sets else tuple(sorted(set().union(*named)))
            queries.append(
                AggregateQuery(
                    column, event, bounds, tuple(sorted(by_id)), pipelines, varies, limit
                )
            )
            self._members.append(by_id)
        self.queries: tuple[AggregateQuery, ...] = tuple(queries)
        self._counts = [[0] * (len(p.bounds) - 1) for p in self._plans]
        self._totals = [[0] * (len(p.bounds) - 1) for p in self._plans]

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

    def result(self) -> dict[CellKey, Measurement]:
        """Every cell's measurement, zeros included, as [`measure`][] returns them."""
        result: dict[CellKey, Measurement] = {}
        zero = Measurement(0, 0)  # immutable, so empty cells can share it
        for plan, counts, totals in zip(self._plans, self._counts, self._totals, strict=True):
            goal_id, contributor_id = plan.goal_id, plan.contributor_id
            for j, (count, total) in enumerate(zip(counts, totals, strict=True)):
                if total < 0:
                    raise DataSourceError(
                        f"cell {plan.key(j)}: negative duration total {total}: the source "
                        "holds tickets answered or closed before they were created"
                    )
                result[goal_id, contributor_id, j] = Measurement(count, total) if count else zero
        return result
