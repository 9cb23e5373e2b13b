"""Push-down: ``SqliteSource.measure`` against hand-written GROUP BY queries and DuckDB.

The floor is what SQLite itself needs to compute the same aggregates: for
every (contributor column, KPI timestamp, milestone bounds) the goals use, one
plain ``GROUP BY`` over the same file, with nothing of ours around it (no
planning, no rows turned into cells).  It is written two ways, with the
contributor ids as a filter and as a full scan; the faster one is the floor.
DuckDB runs the same statements over its own in-memory copy of the tickets.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from time import perf_counter
from typing import Any

import duckdb
import pandas as pd

from servicegoals import ContributorKind, Directory, Goal, TicketEvent
from servicegoals.sources import SqliteSource

from .workload import MISSING, PIPELINES, TEAM_IDS, USER_IDS, Columns, TicketStream

#: One raw aggregate: (contributor column, timestamp column, milestone bounds).
Group = tuple[str, str, tuple[int, ...]]
Rows = list[tuple[Any, ...]]


def build_file(path: Path, size: int, seed: int) -> SqliteSource:
    """An SQLite file with the run's tickets, stored through the source's own API."""
    source = SqliteSource.create(path)
    source.add_tickets(TicketStream(size, seed))
    return source


def groups(goals: Iterable[Goal], directory: Directory) -> dict[Group, frozenset[str]]:
    """Every raw aggregate the goals need, with the ids it is about."""
    found: dict[Group, set[str]] = {}
    for goal in goals:
        event = "closed_at" if goal.kpi.event is TicketEvent.CLOSED else "first_response_at"
        bounds = (*(m.period.start_us for m in goal.milestones), goal.span.end_us)
        for c in goal.contributors:
            if c.kind is ContributorKind.USER:
                found.setdefault(("owner_id", event, bounds), set()).add(c.id)
            else:
                found.setdefault(("team_id", event, bounds), set()).update(
                    directory.descendants(c.id)
                )
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


def statement(group: Group, ids: frozenset[str] | None) -> tuple[str, list[Any]]:
    """The plain GROUP BY of one aggregate; ``ids=None`` scans every contributor."""
    column, event, bounds = group
    where = f"{event} >= ? AND {event} < ?"
    params: list[Any] = [bounds[0], bounds[-1]]
    if ids is not None:
        where = f"{column} IN ({', '.join('?' * len(ids))}) AND {where}"
        params = [*sorted(ids), *params]
    sql = (
        f"SELECT {column}, {_bucket(event, bounds, 0, len(bounds) - 1)}, pipeline, "
        f"count(*), sum({event} - created_at) FROM tickets WHERE {where} GROUP BY 1, 2, 3"
    )
    return sql, params


def run_sqlite(path: Path, work: dict[Group, frozenset[str]], *, filtered: bool) -> list[Rows]:
    connection = sqlite3.connect(path)
    try:
        return [
            connection.execute(*statement(g, ids if filtered else None)).fetchall()
            for g, ids in work.items()
        ]
    finally:
        connection.close()


def duckdb_table(chunks: Iterable[Columns]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB database whose ``tickets`` table holds the same tickets."""
    parts = list(chunks)

    def ids(name: str, names: tuple[str, ...]) -> list[str | None]:
        return [None if i < 0 else names[i] for c in parts for i in getattr(c, name).tolist()]

    def instants(name: str) -> pd.Series[int]:
        values = [None if v == MISSING else v for c in parts for v in getattr(c, name).tolist()]
        return pd.Series(values, dtype="Int64")

    frame = pd.DataFrame(
        {
            "created_at": instants("created"),
            "pipeline": ids("pipeline", PIPELINES),
            "owner_id": ids("owner", USER_IDS),
            "team_id": ids("team", TEAM_IDS),
            "first_response_at": instants("first"),
            "closed_at": instants("closed"),
        }
    )
    connection = duckdb.connect(":memory:")
    connection.register("frame", frame)
    connection.execute("CREATE TABLE tickets AS SELECT * FROM frame")
    connection.unregister("frame")
    return connection


def run_duckdb(
    connection: duckdb.DuckDBPyConnection, work: dict[Group, frozenset[str]]
) -> list[Rows]:
    return [connection.execute(*statement(g, ids)).fetchall() for g, ids in work.items()]


def best_of(repeat: int, action: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest of ``repeat`` timed calls, and the last call's result."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        started = perf_counter()
        result = action()
        best = min(best, perf_counter() - started)
    return best, result


def same_rows(left: list[Rows], right: list[Rows]) -> bool:
    """Equal aggregates, whatever order each engine returned its rows in."""

    def norm(rows: Rows) -> list[tuple[Any, ...]]:
        return sorted(tuple(int(v) if isinstance(v, int) else v for v in r) for r in rows)

    return len(left) == len(right) and all(
        norm(a) == norm(b) for a, b in zip(left, right, strict=True)
    )
