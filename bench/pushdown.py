"""Push-down: ``SqliteSource.measure`` against hand-written GROUP BY queries and DuckDB.

The floor is what SQLite itself needs to compute the same aggregates: for
every (contributor column, KPI timestamp, milestone bounds) the goals use,
plain ``GROUP BY`` statements over the same file, with nothing of ours around
them (no planning, no rows turned into cells).  They are written in three
forms (:data:`FORMS`); the fastest one is the floor.  DuckDB runs the
id-filtered CASE form over its own in-memory copy of the tickets.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from time import perf_counter
from typing import Any

import duckdb
import pandas as pd

from servicegoals import ContributorKind, Directory, Goal, Target, TicketEvent
from servicegoals.duckdb_source import DuckDbSource
from servicegoals.sources import SqliteSource

from .workload import MISSING, PIPELINES, TEAM_IDS, USER_IDS, Columns, TicketStream

#: One raw aggregate: (contributor column, timestamp column, milestone bounds,
#: pipelines).  ``pipelines`` is the one set every cell of the aggregate counts
#: (None: all), or "by pipeline" when cells differ and rows must be grouped by it.
Group = tuple[str, str, tuple[int, ...], "frozenset[str] | str | None"]
Rows = list[tuple[Any, ...]]


def build_file(path: Path, size: int, seed: int) -> SqliteSource:
    """An SQLite file with the run's tickets, stored through the source's own API."""
    source = SqliteSource.create(path)
    source.add_tickets(TicketStream(size, seed))
    return source


def _pipelines(goal: Goal, targets: tuple[Target | None, ...]) -> frozenset[str] | str | None:
    """What one contributor's cells count: one pipeline set (None: all) or "by pipeline"."""
    sets = {
        frozenset({t.pipeline}) if t is not None and t.pipeline else goal.pipelines or None
        for t in targets
    }
    return sets.pop() if len(sets) == 1 else "by pipeline"


def groups(goals: Iterable[Goal], directory: Directory) -> dict[Group, frozenset[str]]:
    """Every raw aggregate the goals need, with the ids it is about.

    Read from the goals themselves, like the pandas baseline, not from the
    library's plans: this is the SQL a person would write for these goals.
    """
    found: dict[Group, set[str]] = {}
    for goal in goals:
        event = "closed_at" if goal.kpi.event is TicketEvent.CLOSED else "first_response_at"
        bounds = (*(m.period.start_us for m in goal.milestones), goal.span.end_us)
        for c, targets in zip(goal.contributors, goal.targets, strict=True):
            pipelines = _pipelines(goal, targets)
            if c.kind is ContributorKind.USER:
                found.setdefault(("owner_id", event, bounds, pipelines), set()).add(c.id)
            else:
                key = ("team_id", event, bounds, pipelines)
                found.setdefault(key, set()).update(directory.descendants(c.id))
    return {g: frozenset(ids) for g, ids in found.items()}


def _bucket(event: str, bounds: tuple[int, ...], first: int, last: int) -> str:
    """The milestone index of ``event`` as a balanced CASE tree (literal bounds)."""
    if last - first == 1:
        return str(first)
    mid = (first + last) // 2
    return (
        f"CASE WHEN {event} < {bounds[mid]} THEN {_bucket(event, bounds, first, mid)} "
        f"ELSE {_bucket(event, bounds, mid, last)} END"
    )


#: The hand-written forms of the raw aggregates (see :func:`statements`).
FORMS = ("ids, one per milestone", "ids, CASE buckets", "full scan, CASE buckets")


def statements(group: Group, ids: frozenset[str], form: str) -> list[tuple[str, list[Any]]]:
    """One aggregate as plain GROUP BY statements, in one of the :data:`FORMS`.

    "ids": only the goals' contributors (``column IN (...)``, which lets SQLite
    read the ids' index ranges); "full scan": every contributor.  "CASE
    buckets": one statement whose CASE tree gives the milestone; "one per
    milestone": a statement for each milestone's time range.
    """
    column, event, bounds, pipelines = group
    grouped = pipelines == "by pipeline"
    select = (
        f"SELECT {column}, {{bucket}}, {'pipeline' if grouped else 'NULL'}, count(*), "
        f"sum({event} - created_at)"
    )
    where = [f"{event} >= ? AND {event} < ?"]
    chosen: list[Any] = []
    if not form.startswith("full scan"):
        where.insert(0, f"{column} IN ({', '.join('?' * len(ids))})")
        chosen = sorted(ids)
    named: list[str] = []
    if isinstance(pipelines, frozenset):
        named = sorted(pipelines)
        where.append(f"pipeline IN ({', '.join('?' * len(named))})")
    sql = f"{select} FROM tickets WHERE {' AND '.join(where)} GROUP BY 1, 2, 3"
    if form.endswith("CASE buckets"):
        bucket = _bucket(event, bounds, 0, len(bounds) - 1)
        return [(sql.format(bucket=bucket), [*chosen, bounds[0], bounds[-1], *named])]
    return [
        (sql.format(bucket=j), [*chosen, bounds[j], bounds[j + 1], *named])
        for j in range(len(bounds) - 1)
    ]


def run_sqlite(path: Path, work: dict[Group, frozenset[str]], form: str) -> list[Rows]:
    """Each aggregate's rows from the file, the statements written in ``form``."""
    connection = sqlite3.connect(path)
    try:
        return [
            [
                row
                for sql, params in statements(g, ids, form)
                for row in connection.execute(sql, params)
            ]
            for g, ids in work.items()
        ]
    finally:
        connection.close()


def _frame(chunks: Iterable[Columns]) -> pd.DataFrame:
    """The tickets as a DataFrame of the documented columns (instants in epoch µs)."""
    parts = list(chunks)

    def ids(name: str, names: tuple[str, ...]) -> list[str | None]:
        return [None if i < 0 else names[i] for c in parts for i in getattr(c, name).tolist()]

    def instants(name: str) -> pd.Series[int]:
        values = [None if v == MISSING else v for c in parts for v in getattr(c, name).tolist()]
        return pd.Series(values, dtype="Int64")

    return pd.DataFrame(
        {
            "id": [f"t{c.number + i}" for c in parts for i in range(len(c.created))],
            "created_at": instants("created"),
            "pipeline": ids("pipeline", PIPELINES),
            "owner_id": ids("owner", USER_IDS),
            "team_id": ids("team", TEAM_IDS),
            "first_response_at": instants("first"),
            "closed_at": instants("closed"),
        }
    )


def duckdb_table(chunks: Iterable[Columns]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB database whose ``tickets`` table holds the same tickets."""
    connection = duckdb.connect(":memory:")
    connection.register("frame", _frame(chunks))
    connection.execute("CREATE TABLE tickets AS SELECT * FROM frame")
    connection.unregister("frame")
    return connection


def duckdb_file(path: Path, chunks: Iterable[Columns]) -> DuckDbSource:
    """A DuckDB database file with the same tickets, for ``DuckDbSource`` (not timed).

    The table comes from ``DuckDbSource.create``; the rows are loaded in bulk
    from a DataFrame (``add_tickets`` inserts row by row, too slow for 10^6).
    """
    source = DuckDbSource.create(path)
    connection = duckdb.connect(str(path))
    try:
        connection.register("frame", _frame(chunks))
        connection.execute("INSERT INTO tickets SELECT * FROM frame")
    finally:
        connection.close()
    return source


def run_duckdb(
    connection: duckdb.DuckDBPyConnection, work: dict[Group, frozenset[str]]
) -> list[Rows]:
    """Each aggregate's rows from DuckDB: the id-filtered CASE statements (one per aggregate)."""
    return [
        connection.execute(sql, params).fetchall()
        for g, ids in work.items()
        for sql, params in statements(g, ids, "ids, CASE buckets")
    ]


def best_of(repeat: int, action: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest of ``repeat`` timed calls, and the last call's result."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        started = perf_counter()
        result = action()
        best = min(best, perf_counter() - started)
    return best, result


def best_of_each(
    repeat: int, actions: dict[str, Callable[[], Any]]
) -> dict[str, tuple[float, Any]]:
    """`best_of` for several actions, taken in turn each round: a slow spell of a
    busy machine then slows every action alike instead of the one it met."""
    found: dict[str, tuple[float, Any]] = {name: (float("inf"), None) for name in actions}
    for _ in range(repeat):
        for name, action in actions.items():
            started = perf_counter()
            result = action()
            found[name] = (min(found[name][0], perf_counter() - started), result)
    return found


def same_rows(left: list[Rows], right: list[Rows]) -> bool:
    """Equal aggregates, whatever order each engine returned its rows in."""

    def norm(rows: Rows) -> list[tuple[Any, ...]]:
        return sorted(tuple(int(v) if isinstance(v, int) else v for v in r) for r in rows)

    return len(left) == len(right) and all(
        norm(a) == norm(b) for a, b in zip(left, right, strict=True)
    )
