"""DuckDB push-down equals measure() on generated goals and tickets, in files and Parquet.

Real DuckDB database files and real Parquet files (written by DuckDB), with and
without ``at``; the expected measurements come from `measure` over the same
tickets with every event after ``at`` removed (`as_of`, below).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicegoals import (
    CLOSED_TICKETS,
    AccountSettings,
    AggregatingSource,
    Cadence,
    DataSourceError,
    Goal,
    InvalidInput,
    Measurement,
    Reopen,
    Ticket,
    TicketQuery,
    User,
    calendar_year,
    measure,
)
from servicegoals.duckdb_source import DuckDbSource
from servicegoals.sources import CSV_COLUMNS, ticket_row
from servicegoals.testing import raises
from test_pushdown import Account, accounts, fewer, scratch


def as_of(tickets: Iterable[Ticket], at: datetime) -> list[Ticket]:
    """The tickets as they stood at ``at``: an answer or a closing after ``at`` has not happened.

    The rule of ``measure(..., at=...)``, written out for the comparison.
    """
    return [
        attrs.evolve(
            t,
            first_response_at=None
            if t.first_response_at is None or t.first_response_at > at
            else t.first_response_at,
            closed_at=None if t.closed_at is None or t.closed_at > at else t.closed_at,
        )
        for t in tickets
    ]


def write_parquet(path: Path, tickets: list[Ticket]) -> None:
    """``tickets`` as a Parquet file of the documented columns, written by DuckDB itself."""
    connection = duckdb.connect(":memory:")
    try:
        connection.execute(
            "CREATE TABLE t (id VARCHAR, created_at BIGINT, pipeline VARCHAR, owner_id VARCHAR, "
            "team_id VARCHAR, first_response_at BIGINT, closed_at BIGINT)"
        )
        if tickets:
            connection.executemany(
                "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)", [ticket_row(t) for t in tickets]
            )
        connection.table("t").write_parquet(str(path))
    finally:
        connection.close()


def instants(account: Account) -> st.SearchStrategy[datetime | None]:
    """None, or an instant among the tickets' events (often exactly on one)."""
    events = sorted(
        e for t in account[2] for e in (t.first_response_at, t.closed_at) if e is not None
    )
    if not events:
        return st.none()
    near = st.sampled_from(events).flatmap(
        lambda e: st.sampled_from([e - timedelta(microseconds=1), e, e + timedelta(microseconds=1)])
    )
    return st.none() | near


def check(source: DuckDbSource, account: Account, at: datetime | None) -> None:
    directory, drawn, items, _ = account
    kept = items if at is None else as_of(items, at)
    expected = measure(drawn, kept, directory=directory)
    assert source.measure(drawn, directory=directory, at=at) == expected
    if at is None:
        query = TicketQuery.for_goals(drawn, directory)
        assert measure(drawn, source.tickets(query), directory=directory) == expected
        assert sorted(source.tickets(), key=lambda t: t.id) == sorted(items, key=lambda t: t.id)


def without_histories(account: Account) -> Account:
    """The account's tickets without histories: DuckDB sources hold ticket rows only."""
    directory, drawn, items, at = account
    plain = [attrs.evolve(t, statuses=(), reopens=()) for t in items]
    return directory, drawn, plain, at


@fewer(2)
@given(accounts().map(without_histories), st.data())
def test_duckdb_file_push_down_equals_measure(account: Account, data: st.DataObject) -> None:
    at = data.draw(instants(account))
    with scratch() as tmp:
        source = DuckDbSource.create(Path(tmp) / "t.duckdb")
        assert source.add_tickets(account[2]) == len(account[2])
        check(source, account, at)


@fewer(2)
@given(accounts().map(without_histories), st.data())
def test_parquet_push_down_equals_measure(account: Account, data: st.DataObject) -> None:
    at = data.draw(instants(account))
    items = account[2]
    with scratch() as tmp:
        # Two files, read as one table through a glob.
        write_parquet(Path(tmp) / "a.parquet", items[: len(items) // 2])
        write_parquet(Path(tmp) / "b.parquet", items[len(items) // 2 :])
        check(DuckDbSource.parquet(f"{tmp}/*.parquet"), account, at)


# -- examples ---------------------------------------------------------------------------

ACCOUNT = AccountSettings()
YEAR = calendar_year(2026, ACCOUNT)


def day(month: int, d: int) -> datetime:
    return datetime(2026, month, d, tzinfo=UTC)


def monthly_goal() -> Goal:
    return Goal.create(
        id="g",
        name="closed",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.MONTHLY,
        span=YEAR,
        settings=ACCOUNT,
        contributors=[User("u1", "Ada")],
        targets={"u1": 5},
    )


def test_a_ticket_closed_after_at_is_still_open(tmp_path: Path) -> None:
    source = DuckDbSource.create(tmp_path / "t.duckdb")
    source.add_tickets(
        [
            Ticket("a", day(3, 1), "support", owner_id="u1", closed_at=day(3, 2)),
            Ticket("b", day(3, 1), "support", owner_id="u1", closed_at=day(3, 20)),
        ]
    )
    goal = monthly_goal()
    assert isinstance(source, AggregatingSource)
    assert source.measure([goal])[("g", "u1", 2)] == Measurement(2, 0)
    assert source.measure([goal], at=day(3, 10))[("g", "u1", 2)] == Measurement(1, 0)
    # Exactly at the closing instant it counts.
    assert source.measure([goal], at=day(3, 20))[("g", "u1", 2)] == Measurement(2, 0)


def test_nothing_is_stored_when_one_ticket_fails(tmp_path: Path) -> None:
    source = DuckDbSource.create(tmp_path / "t.duckdb")
    ticket = Ticket("a", day(3, 1), "support", owner_id="u1")
    source.add_tickets([ticket])
    with pytest.raises(DataSourceError, match="nothing was stored"):
        source.add_tickets([Ticket("b", day(3, 1), "support"), ticket])
    assert [t.id for t in source.tickets()] == ["a"]


def test_bad_sources_fail_cleanly(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="cannot open"):
        DuckDbSource(tmp_path / "missing.duckdb")
    assert not (tmp_path / "missing.duckdb").exists()
    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    with pytest.raises(DataSourceError, match="no 'tickets' table"):
        DuckDbSource(tmp_path / "empty.duckdb")
    connection = duckdb.connect(str(tmp_path / "narrow.duckdb"))
    connection.execute("CREATE TABLE tickets (id VARCHAR, created_at BIGINT)")
    connection.close()
    with pytest.raises(DataSourceError, match="pipeline, owner_id"):
        DuckDbSource(tmp_path / "narrow.duckdb")
    with pytest.raises(DataSourceError, match="cannot open"):
        DuckDbSource.parquet(tmp_path / "none-*.parquet")
    with raises(InvalidInput, "parquet"):
        DuckDbSource.parquet([])
    with raises(InvalidInput, "at"):
        DuckDbSource.create(tmp_path / "t.duckdb").measure(
            [monthly_goal()], at=datetime(2026, 3, 1)
        )
    assert CSV_COLUMNS[0] == "id"


def test_parquet_sources_are_read_only(tmp_path: Path) -> None:
    write_parquet(tmp_path / "a.parquet", [])
    source = DuckDbSource.parquet([tmp_path / "a.parquet"])
    assert list(source.tickets()) == []
    with pytest.raises(DataSourceError, match="read-only"):
        source.add_tickets([])


def test_a_ticket_with_history_is_refused_not_dropped(tmp_path: Path) -> None:
    source = DuckDbSource.create(tmp_path / "tickets.duckdb")
    opened = datetime(2026, 3, 2, 9, tzinfo=UTC)
    reopened = Ticket(
        "t1",
        opened,
        "support",
        owner_id="ada",
        closed_at=opened + timedelta(days=3),
        reopens=[Reopen(opened + timedelta(days=1), opened + timedelta(days=2))],
    )
    with raises(InvalidInput, "tickets[0]", "t1"):
        source.add_tickets([reopened])
    assert list(source.tickets()) == []
