"""Ticket properties are never dropped silently: sources that cannot store them refuse.

The CSV format, the SQLite and SQLAlchemy tables and DuckDB files have no column
for `Ticket.properties`; writing a ticket that has some is an `InvalidInput`
naming the ticket and its properties, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from servicegoals import CsvSource, InvalidInput, SqliteSource, Ticket
from servicegoals.duckdb_source import DuckDbSource
from servicegoals.sql import SqlAlchemySource

OPENED = datetime(2026, 3, 2, 9, tzinfo=UTC)
PLAIN = Ticket("t1", OPENED, "support", owner_id="ada", closed_at=OPENED + timedelta(hours=2))
TAGGED = Ticket(
    "t2", OPENED, "support", owner_id="ada", properties={"priority": "urgent", "channel": "chat"}
)


def _csv(folder: Path, tickets: list[Ticket] | None) -> list[Ticket]:
    path = folder / "tickets.csv"
    if tickets is not None:
        CsvSource.write(path, tickets)
    return list(CsvSource(path).tickets()) if path.exists() else []


def _sqlite(folder: Path, tickets: list[Ticket] | None) -> list[Ticket]:
    path = folder / "tickets.db"
    source = SqliteSource(path) if path.exists() else SqliteSource.create(path)
    if tickets is not None:
        source.add_tickets(tickets)
    return list(source.tickets())


def _duckdb(folder: Path, tickets: list[Ticket] | None) -> list[Ticket]:
    path = folder / "tickets.duckdb"
    source = DuckDbSource(path) if path.exists() else DuckDbSource.create(path)
    if tickets is not None:
        source.add_tickets(tickets)
    return list(source.tickets())


def _sqlalchemy(folder: Path, tickets: list[Ticket] | None) -> list[Ticket]:
    with SqlAlchemySource.create(f"sqlite:///{folder / 'sa.db'}") as source:
        if tickets is not None:
            source.add_tickets(tickets)
        return list(source.tickets())


#: Each writer writes ``tickets`` (None: nothing) and returns what is stored then.
WRITERS: dict[str, Callable[[Path, list[Ticket] | None], list[Ticket]]] = {
    "csv": _csv,
    "sqlite": _sqlite,
    "duckdb": _duckdb,
    "sqlalchemy": _sqlalchemy,
}


@pytest.mark.parametrize("writer", WRITERS)
def test_a_ticket_with_properties_is_refused_and_nothing_is_written(
    tmp_path: Path, writer: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        WRITERS[writer](tmp_path, [PLAIN, TAGGED])
    assert caught.value.field == "ticket 't2'.properties"
    assert caught.value.value == "channel, priority"
    assert "refused rather than dropped" in str(caught.value)
    assert WRITERS[writer](tmp_path, None) == []  # all or nothing: t1 was not stored either


@pytest.mark.parametrize("writer", WRITERS)
def test_tickets_without_properties_are_written_as_before(tmp_path: Path, writer: str) -> None:
    assert WRITERS[writer](tmp_path, [PLAIN]) == [PLAIN]
