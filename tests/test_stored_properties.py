"""Ticket properties round-trip through every source that stores them.

SQLite, SQLAlchemy on SQLite and on a real PostgreSQL server keep them in a
``ticket_property`` table (one typed row per property); `CsvSource.write` writes
them as columns after the known ones, which ``CsvSource(path, properties=True)``
reads back equal.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete

from servicegoals import BadRow, CsvSource, InvalidInput, SqliteSource, Ticket
from servicegoals.pushdown import INT64_MAX, INT64_MIN
from servicegoals.sources import CSV_COLUMNS, _csv_property
from servicegoals.sql import SqlAlchemySource
from test_pushdown import fewer, scratch

OPENED = datetime(2026, 3, 2, 9, tzinfo=UTC)
PLAIN = Ticket("t1", OPENED, "support", owner_id="ada", closed_at=OPENED + timedelta(hours=2))
TAGGED = Ticket(
    "t2",
    OPENED,
    "support",
    owner_id="ada",
    properties={
        "priority": "urgent",
        "refund": 250,
        "due": datetime(2026, 3, 3, 9, tzinfo=timezone(timedelta(hours=2))),
    },
)

NAMES = st.sampled_from(["priority", "channel", "refund", "due", "x'); DROP TABLE t;--", "ü b"])
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=45))]
)
INSTANTS = st.builds(
    lambda us, zone: (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)).astimezone(
        zone
    ),
    st.integers(-(10**15), 10**17),
    ZONES,
)
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
VALUES = st.one_of(TEXT, st.integers(INT64_MIN, INT64_MAX), INSTANTS)


def _csv_text(value: object) -> bool:
    """Text that a CSV cell can carry as text (not an int, an instant or nothing)."""
    return not isinstance(value, str) or (value != "" and isinstance(_csv_property(value), str))


@st.composite
def tagged_tickets(draw: st.DrawFn, *, csv: bool = False) -> list[Ticket]:
    values = VALUES.filter(_csv_text) if csv else VALUES
    count = draw(st.integers(0, 5))
    return [
        Ticket(
            f"t{i}",
            OPENED,
            "support",
            owner_id="ada",
            properties=draw(st.dictionaries(NAMES, values, max_size=4)),
        )
        for i in range(count)
    ]


def _same(found: list[Ticket], expected: list[Ticket]) -> None:
    by_id = {t.id: t for t in found}
    assert sorted(by_id) == sorted(t.id for t in expected)
    for ticket in expected:
        assert by_id[ticket.id] == ticket
        assert dict(by_id[ticket.id].properties) == dict(ticket.properties)


@given(tagged_tickets())
def test_sqlite_round_trips_properties(items: list[Ticket]) -> None:
    with scratch() as tmp:
        source = SqliteSource.create(Path(tmp) / "t.db")
        source.add_tickets(items)
        _same(list(source.tickets()), items)


@fewer(4)
@given(tagged_tickets())
def test_sqlalchemy_on_sqlite_round_trips_properties(items: list[Ticket]) -> None:
    with scratch() as tmp, SqlAlchemySource.create(f"sqlite:///{tmp}/t.db") as source:
        source.add_tickets(items)
        _same(list(source.tickets()), items)


@pytest.fixture(scope="module")
def postgres_props(postgres_url: str) -> Iterator[SqlAlchemySource]:
    with SqlAlchemySource.create(postgres_url, table="props") as source:
        yield source


def _emptied(source: SqlAlchemySource) -> SqlAlchemySource:
    with source.engine.begin() as connection:
        connection.execute(delete(source.properties))
        connection.execute(delete(source.table))
    return source


@fewer(2)
@given(tagged_tickets())
def test_postgres_round_trips_properties(
    postgres_props: SqlAlchemySource, items: list[Ticket]
) -> None:
    _emptied(postgres_props).add_tickets(items)
    _same(list(postgres_props.tickets()), items)


@given(tagged_tickets(csv=True))
def test_csv_write_round_trips_properties(items: list[Ticket]) -> None:
    with scratch() as tmp:
        written = CsvSource.write(Path(tmp) / "t.csv", items)
        _same(list(written.tickets()), items)
        _same(list(CsvSource(Path(tmp) / "t.csv", properties=True).tickets()), items)


def test_csv_property_columns_follow_the_known_ones(tmp_path: Path) -> None:
    CsvSource.write(tmp_path / "t.csv", [PLAIN, TAGGED])
    header, plain, tagged = (tmp_path / "t.csv").read_text().splitlines()
    assert header.split(",") == [*CSV_COLUMNS, "due", "priority", "refund"]
    assert plain.endswith(",,,")
    assert tagged.endswith(",2026-03-03T09:00:00+02:00,urgent,250")


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("7", "ticket 't3'.properties['code']"),
        ("", "ticket 't3'.properties['code']"),
        ("2026-01-01T00:00:00+00:00", "ticket 't3'.properties['code']"),
    ],
)
def test_csv_refuses_text_that_would_read_back_as_another_type(
    tmp_path: Path, value: str, field: str
) -> None:
    bad = Ticket("t3", OPENED, "support", properties={"code": value})
    with pytest.raises(InvalidInput) as caught:
        CsvSource.write(tmp_path / "t.csv", [PLAIN, bad])
    assert (caught.value.field, caught.value.value) == (field, value)
    assert not (tmp_path / "t.csv").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary or spool file is left


def test_csv_refuses_a_property_named_like_a_column(tmp_path: Path) -> None:
    bad = Ticket("t3", OPENED, "support", properties={"pipeline": "x"})
    with pytest.raises(InvalidInput) as caught:
        CsvSource.write(tmp_path / "t.csv", [bad])
    assert (caught.value.field, caught.value.value) == ("ticket 't3'.properties", "pipeline")


@pytest.mark.parametrize(
    ("value", "reason"),
    [(2**63, "64 bits"), (-(2**63) - 1, "64 bits"), ("a\x00b", "NUL"), ("\udc80", "surrogate")],
)
def test_sql_sources_refuse_values_they_cannot_keep_and_store_nothing(
    tmp_path: Path, value: str | int, reason: str
) -> None:
    bad = Ticket("t3", OPENED, "support", properties={"amount": value})
    source = SqliteSource.create(tmp_path / "t.db")
    with pytest.raises(InvalidInput, match=reason) as caught:
        source.add_tickets([PLAIN, bad])
    assert caught.value.field == "ticket 't3'.properties['amount']"
    assert list(source.tickets()) == []
    with SqlAlchemySource.create(f"sqlite:///{tmp_path}/sa.db") as sa:
        with pytest.raises(InvalidInput, match=reason):
            sa.add_tickets([PLAIN, bad])
        assert list(sa.tickets()) == []


def test_replace_replaces_properties(tmp_path: Path) -> None:
    source = SqliteSource.create(tmp_path / "t.db")
    source.add_tickets([TAGGED])
    fewer_props = Ticket("t2", OPENED, "support", owner_id="ada", properties={"refund": 5})
    source.add_tickets([fewer_props], replace=True)
    assert [dict(t.properties) for t in source.tickets()] == [{"refund": 5}]
    source.add_tickets([PLAIN, Ticket("t2", OPENED, "support")], replace=True)
    assert {t.id: dict(t.properties) for t in source.tickets()} == {"t1": {}, "t2": {}}


def test_old_databases_without_the_table_read_as_no_properties(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    SqliteSource.create(path).add_tickets([PLAIN])
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE ticket_property")
    source = SqliteSource(path)
    assert list(source.tickets()) == [PLAIN]
    source.add_tickets([TAGGED])  # the table comes back with the first property
    assert {t.id: t for t in source.tickets()}["t2"].properties == TAGGED.properties


def test_a_bad_stored_property_row_is_a_located_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    SqliteSource.create(path).add_tickets([PLAIN])
    with sqlite3.connect(path) as connection:  # a table made by hand, without the checks
        connection.execute("DROP TABLE ticket_property")
        connection.execute(
            "CREATE TABLE ticket_property (ticket_id, name, text_value, int_value, instant_value)"
        )
        connection.execute("INSERT INTO ticket_property VALUES ('t1', 'due', NULL, NULL, 'soon')")
    with pytest.raises(BadRow) as caught:
        list(SqliteSource(path).tickets())
    assert (caught.value.column, caught.value.value) == ("instant_value", "soon")
    assert "property 'due' of ticket 't1'" in str(caught.value)


def test_many_tickets_read_their_properties_in_batches(tmp_path: Path) -> None:
    items = [Ticket(f"t{i:04}", OPENED, "support", properties={"n": i}) for i in range(2_500)]
    source = SqliteSource.create(tmp_path / "t.db")
    source.add_tickets(items)
    assert sorted(source.tickets(), key=lambda t: t.id) == items
    assert all(
        t.properties["n"] == i for i, t in enumerate(sorted(source.tickets(), key=lambda t: t.id))
    )


def test_postgres_reads_properties_of_many_tickets_while_streaming(
    postgres_props: SqlAlchemySource,
) -> None:
    """More tickets than one streamed batch: property reads interleave with the cursor."""
    items = [Ticket(f"t{i:04}", OPENED, "support", properties={"n": i}) for i in range(2_500)]
    _emptied(postgres_props).add_tickets(items)
    assert sorted(postgres_props.tickets(), key=lambda t: t.id) == items
