"""Tickets in a DuckDB database file or in Parquet files, with aggregate push-down.

Extra ``servicegoals[duckdb]``.  DuckDB is columnar and uses every core, so it
keeps push-down fast for accounts that outgrow SQLite on one machine.  The
tickets follow the documented schema (``CSV_COLUMNS``, instants as BIGINT epoch
microseconds, UTC), in a ``tickets`` table or in Parquet files with those columns.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from .errors import DataSourceError, InvalidInput
from .kpis import Ticket
from .pushdown import AggregateQuery, PushDownPlan
from .sources import (
    CSV_COLUMNS,
    PushDownSource,
    TicketQuery,
    bucket_sql,
    select_sql,
    ticket_from_row,
    ticket_row,
    unstored_properties,
)

__all__ = ["DuckDbSource"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id VARCHAR NOT NULL PRIMARY KEY CHECK (id <> ''),
    created_at BIGINT NOT NULL,
    pipeline VARCHAR NOT NULL CHECK (pipeline <> ''),
    owner_id VARCHAR CHECK (owner_id <> ''),
    team_id VARCHAR CHECK (team_id <> ''),
    first_response_at BIGINT CHECK (first_response_at >= created_at),
    closed_at BIGINT CHECK (closed_at >= created_at)
)
"""
_COLUMN_LIST = ", ".join(CSV_COLUMNS)
#: A list parameter as a set to match: DuckDB turns it into a hash semi-join.
_IN = "IN (SELECT unnest(${}))"


def _aggregate_sql(index: int, query: AggregateQuery) -> tuple[str, dict[str, Any]]:
    """Aggregate query ``index`` as DuckDB SQL, its parameters named ``q<index>_...``.

    Column names come from ``CSV_COLUMNS`` only; every value is a bound parameter.
    ``query.end`` keeps events before the span's end and, measuring as of an
    instant, at or before it.  The first column is ``index``, so that one
    statement can run every query.
    """
    key, event, n = query.column, query.event, query.milestones
    q = f"q{index}_"
    params: dict[str, Any] = {f"{q}ids": list(query.match_ids)}
    params.update((f"{q}b{j}", b) for j, b in enumerate(query.bounds))
    where = [f"{key} {_IN.format(q + 'ids')}", f"{event} >= ${q}b0", f"{event} < ${q}b{n}"]
    if query.end != query.bounds[-1]:  # as of an instant before the span's end
        where.append(f"{event} < ${q}end")
        params[f"{q}end"] = query.end
    if query.pipelines is not None:
        where.append(f"pipeline {_IN.format(q + 'pipelines')}")
        params[f"{q}pipelines"] = list(query.pipelines)
    pipeline, group = ("pipeline", "2, 3, 4") if query.by_pipeline else ("NULL", "2, 3")
    sql = (
        f"SELECT {index}, {key}, {bucket_sql(event, 0, n, f'${q}b')}, {pipeline}, count(*), "
        f"sum({event} - created_at) FROM tickets WHERE {' AND '.join(where)} GROUP BY {group}"
    )
    return sql, params


def _select_sql(query: TicketQuery | None) -> tuple[str, dict[str, Any]]:
    return select_sql(query, in_list=_IN, pack=list, mark="$")


def _paths(value: Any) -> tuple[str, ...]:
    """Parquet files: one path or glob, or a non-empty collection of them."""
    items = [value] if isinstance(value, (str, os.PathLike)) else value
    try:
        found = tuple(os.fspath(p) for p in items)
    except TypeError:
        raise InvalidInput("parquet", value, "expected a path, a glob or paths") from None
    if not found:
        raise InvalidInput("parquet", value, "expected at least one path")
    return found


class DuckDbSource(PushDownSource):
    """Tickets in a DuckDB file or in Parquet files, measured where they live.

    `DuckDbSource(path)` reads the ``tickets`` table of a DuckDB database file
    (make one with `create`); `DuckDbSource.parquet(files)` reads Parquet files
    (paths or globs) with the same columns.  `measure` runs one GROUP BY per
    query of the `PushDownPlan`, with bound parameters only, and equals
    `servicegoals.measure` on the same tickets exactly.  Each operation opens its
    own connection (read-only for reading), so one source serves many threads.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidInput("path", path, "expected a file path")
        self.path: Path | None = Path(path)
        self.files: tuple[str, ...] = ()
        self.name = str(self.path)
        connection = self._connect()
        try:
            self._check_columns(connection)
        finally:
            connection.close()

    @classmethod
    def parquet(
        cls, files: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
    ) -> DuckDbSource:
        """A source over Parquet files (a path, a glob, or several), read as one table."""
        source = cls.__new__(cls)
        source.path = None
        source.files = _paths(files)
        source.name = ", ".join(source.files)
        connection = source._connect()
        try:
            source._check_columns(connection)
        finally:
            connection.close()
        return source

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> DuckDbSource:
        """Create the database file (if needed) and its ``tickets`` table."""
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidInput("path", path, "expected a file path")
        try:
            connection = duckdb.connect(os.fspath(path))
        except duckdb.Error as exc:
            raise DataSourceError(f"{path}: cannot create the database: {exc}") from None
        try:
            connection.execute(_SCHEMA)
        except duckdb.Error as exc:
            raise DataSourceError(f"{path}: cannot create the tickets table: {exc}") from None
        finally:
            connection.close()
        return cls(path)

    def _connect(self, *, write: bool = False) -> duckdb.DuckDBPyConnection:
        try:
            if self.path is not None:
                # read_only: a missing file is an error, never a new empty database.
                return duckdb.connect(os.fspath(self.path), read_only=not write)
            connection = duckdb.connect(":memory:")
            try:
                connection.read_parquet(list(self.files)).create_view("tickets")
            except BaseException:
                connection.close()
                raise
            return connection
        except duckdb.Error as exc:
            raise DataSourceError(f"{self.name}: cannot open the tickets: {exc}") from None

    def _check_columns(self, connection: duckdb.DuckDBPyConnection) -> None:
        try:
            found = {row[0] for row in connection.execute("DESCRIBE tickets").fetchall()}
        except duckdb.Error:
            raise DataSourceError(
                f"{self.name}: no 'tickets' table; create one with DuckDbSource.create()"
            ) from None
        missing = [c for c in CSV_COLUMNS if c not in found]
        if missing:
            raise DataSourceError(
                f"{self.name}: the tickets lack the column(s) {', '.join(missing)}"
            )

    def add_tickets(self, tickets: Iterable[Ticket]) -> int:
        """Store ``tickets`` in the database file in one transaction; all or nothing."""
        if self.path is None:
            raise DataSourceError(f"{self.name}: Parquet files are read-only here")
        rows: list[tuple[Any, ...]] = []
        for i, ticket in enumerate(tickets):
            if not isinstance(ticket, Ticket):
                raise InvalidInput(f"tickets[{i}]", ticket, "expected a Ticket")
            if ticket.has_history:  # no history table here: refuse rather than drop it
                raise InvalidInput(
                    f"tickets[{i}]", ticket.id, "has a history, which a DuckDB source cannot store"
                )
            if ticket.properties:  # no property table here: refuse rather than drop them
                raise unstored_properties(ticket)
            rows.append(ticket_row(ticket))
        connection = self._connect(write=True)
        try:
            connection.execute("BEGIN TRANSACTION")
            try:
                if rows:
                    placeholders = ", ".join("?" * len(CSV_COLUMNS))
                    connection.executemany(
                        f"INSERT INTO tickets ({_COLUMN_LIST}) VALUES ({placeholders})", rows
                    )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        except duckdb.Error as exc:
            raise DataSourceError(
                f"{self.name}: cannot store tickets: {exc}; nothing was stored"
            ) from None
        finally:
            connection.close()
        return len(rows)

    def tickets(self, query: TicketQuery | None = None) -> Iterator[Ticket]:
        """Stream the stored tickets that match ``query`` (in no particular order)."""
        sql, params = _select_sql(query)
        connection = self._connect()
        try:
            result = connection.execute(sql, params)
            while batch := result.fetchmany(10_000):
                for row in batch:
                    yield ticket_from_row(self.name, row)
        except duckdb.Error as exc:
            raise DataSourceError(f"{self.name}: cannot read tickets: {exc}") from None
        finally:
            connection.close()

    def _aggregate_plan(self, plan: PushDownPlan) -> None:
        # One statement for every query: DuckDB plans once and runs the parts in parallel.
        parts = [_aggregate_sql(i, q) for i, q in enumerate(plan.queries)]
        params = {k: v for _, p in parts for k, v in p.items()}
        by_query: list[list[Sequence[Any]]] = [[] for _ in plan.queries]
        connection = self._connect()
        try:
            result = connection.execute(" UNION ALL ".join(sql for sql, _ in parts), params)
            while batch := result.fetchmany(10_000):
                for row in batch:
                    by_query[row[0]].append(row[1:])
        except duckdb.Error as exc:
            raise DataSourceError(f"{self.name}: cannot measure: {exc}") from None
        finally:
            connection.close()
        for index, rows in enumerate(by_query):
            plan.collect(index, rows)
