"""Ticket sources: in memory, CSV files (good and bad rows) and SQLite files."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete

from servicegoals import (
    AVG_RESOLUTION_TIME,
    CLOSED_TICKETS,
    AccountSettings,
    AggregatingSource,
    Cadence,
    CsvSource,
    DataSourceError,
    Directory,
    Goal,
    InMemorySource,
    InvalidInput,
    Measurement,
    Period,
    SqliteSource,
    Target,
    Team,
    Ticket,
    TicketQuery,
    TicketSource,
    User,
    calendar_year,
    measure,
)
from servicegoals.errors import BadRow
from servicegoals.sources import CSV_COLUMNS
from servicegoals.sql import SqlAlchemySource
from servicegoals.testing import raises, tickets

HEADER = ",".join(CSV_COLUMNS)
ACCOUNT = AccountSettings()
YEAR = calendar_year(2026, ACCOUNT)
#: Strings that would break SQL built by pasting values into it.
SQL_LOOKING = ("x'); DROP TABLE tickets;--", "' OR '1'='1", "%", "_", 'say "hi"', "a\\b")


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def ticket(id: str, **changes: object) -> Ticket:
    fields: dict[str, object] = {
        "created_at": at(1, 5, 9),
        "pipeline": "support",
        "owner_id": "u1",
        "closed_at": at(1, 5, 11),
    }
    fields.update(changes)
    return Ticket(id, **fields)  # type: ignore[arg-type]


SAMPLE = (
    ticket("t1"),
    ticket("t2", pipeline="billing", owner_id=None, team_id="tier1", closed_at=None),
    ticket("t3", owner_id="u2", team_id="tier1", first_response_at=at(2, 1), closed_at=at(3, 1)),
    ticket("t4", created_at=at(6, 1), owner_id=None, closed_at=None),
)


def write(path: Path, *lines: str, encoding: str = "utf-8") -> Path:
    path.write_bytes("".join(f"{line}\n" for line in lines).encode(encoding))
    return path


def sqlite_source(tmp_path: Path, items: tuple[Ticket, ...] = SAMPLE) -> SqliteSource:
    source = SqliteSource.create(tmp_path / "tickets.db")
    source.add_tickets(items)
    return source


Build = Callable[[tuple[Ticket, ...]], TicketSource]
SQL_KINDS = ["sqlite", "sqlalchemy-sqlite", "postgres"]


@pytest.fixture(scope="module")
def postgres_tickets(postgres_url: str) -> Iterator[SqlAlchemySource]:
    with SqlAlchemySource.create(postgres_url, table="source_tickets") as source:
        yield source


def _builder(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Build]:
    opened: list[SqlAlchemySource] = []

    def build(items: tuple[Ticket, ...]) -> TicketSource:
        kind = request.param
        if kind == "memory":
            return InMemorySource(items)
        if kind == "csv":
            return CsvSource.write(tmp_path / "t.csv", items)
        if kind == "sqlite":
            return sqlite_source(tmp_path, items)
        if kind == "postgres":
            source: SqlAlchemySource = request.getfixturevalue("postgres_tickets")
            with source.engine.begin() as connection:
                connection.execute(delete(source.table))
        else:
            source = SqlAlchemySource.create(f"sqlite:///{tmp_path}/t.db")
            opened.append(source)
        source.add_tickets(items)
        return source

    yield build
    for source in opened:
        source.close()


@pytest.fixture(params=["memory", "csv", *SQL_KINDS])
def make_source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Build]:
    """Every ticket source, holding the given tickets."""
    yield from _builder(request, tmp_path)


@pytest.fixture(params=SQL_KINDS)
def make_sql_source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Build]:
    """Every SQL ticket source (SQLite, SQLAlchemy on SQLite and on PostgreSQL)."""
    yield from _builder(request, tmp_path)


# -- queries and in-memory -------------------------------------------------------------


def test_sources_satisfy_their_protocols(tmp_path: Path) -> None:
    memory = InMemorySource(SAMPLE)
    assert isinstance(memory, TicketSource)
    assert isinstance(memory, AggregatingSource)  # measures its own tickets
    assert isinstance(CsvSource.write(tmp_path / "t.csv", SAMPLE), TicketSource)
    assert isinstance(sqlite_source(tmp_path), AggregatingSource)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (None, ["t1", "t2", "t3", "t4"]),
        (TicketQuery(), ["t1", "t2", "t3", "t4"]),
        (TicketQuery(pipelines=["billing"]), ["t2"]),
        (TicketQuery(owner_ids=["u1"]), ["t1", "t4"][:1]),
        # owners OR teams: a contributor filter
        (TicketQuery(owner_ids=["u1"], team_ids=["tier1"]), ["t1", "t2", "t3"]),
        (TicketQuery(team_ids=["tier1"]), ["t2", "t3"]),
        (TicketQuery(owner_ids=[]), []),
        # the window holds a first response or a closing
        (TicketQuery(window=Period(at(2, 1), at(2, 2))), ["t3"]),
        (TicketQuery(window=Period(at(3, 1), at(4, 1))), ["t3"]),
        (TicketQuery(window=Period(at(1, 1), at(2, 1))), ["t1"]),
        (TicketQuery(window=Period(at(6, 1), at(7, 1))), []),
        # half-open: an event at the end is outside, one at the start inside
        (TicketQuery(window=Period(at(1, 1), at(1, 5, 11))), []),
        (TicketQuery(window=Period(at(1, 5, 11), at(1, 6))), ["t1"]),
        (TicketQuery(window=Period(at(1, 20), at(2, 1))), []),
        (TicketQuery(window=Period(at(2, 1), at(2, 1, 13))), ["t3"]),
    ],
)
def test_queries_filter_alike_in_every_source(
    make_source: Build, query: TicketQuery | None, expected: list[str]
) -> None:
    assert sorted(t.id for t in make_source(SAMPLE).tickets(query)) == expected


def test_query_rejects_bad_filters() -> None:
    with raises(InvalidInput, "owner_ids", "u1"):
        TicketQuery(owner_ids="u1")
    with raises(InvalidInput, "pipelines", ""):
        TicketQuery(pipelines=[""])
    with raises(InvalidInput, "window", "2026"):
        TicketQuery(window="2026")  # type: ignore[arg-type]


def test_in_memory_source_rejects_non_tickets_and_duplicate_ids() -> None:
    with raises(InvalidInput, "tickets[1]", "t9"):
        InMemorySource([SAMPLE[0], "t9"])  # type: ignore[list-item]
    with raises(InvalidInput, "tickets[1].id", "t1"):
        InMemorySource([SAMPLE[0], SAMPLE[0]])


def test_query_for_goals_is_narrow() -> None:
    directory = Directory(teams=[Team("tier1", "Tier 1"), Team("tier2", "Tier 2", "tier1")])
    goal = Goal.create(
        id="g",
        name="Close",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.MONTHLY,
        span=YEAR,
        settings=ACCOUNT,
        contributors=[User("u1", "Ada"), Team("tier1", "Tier 1")],
        pipelines=["support", "billing"],
        targets={"u1": Target(5, "support")},
    )
    query = TicketQuery.for_goals([goal], directory)
    assert query == TicketQuery(
        window=YEAR,
        pipelines={"support", "billing"},
        owner_ids={"u1"},
        team_ids={"tier1", "tier2"},
    )
    assert TicketQuery.for_goals([]) == TicketQuery(owner_ids=(), team_ids=())


# -- CSV: good files -----------------------------------------------------------------------


def test_csv_reads_offsets_empty_cells_extra_columns_and_a_bom(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.csv",
        "\ufeffclosed_at,id,created_at,pipeline,owner_id,team_id,first_response_at,note",
        "2026-01-05T11:00:00Z,t1,2026-01-05T10:00:00+01:00,support,u1,,,first",
        "",
        ',"t,2",2026-01-05 09:00:00-05:00,billing,,tier1,2026-01-05T15:00:00+01:00,"multi',
        'line"',
        encoding="utf-8",
    )
    assert list(CsvSource(path).tickets()) == [
        Ticket(
            "t1",
            datetime(2026, 1, 5, 9, tzinfo=UTC),
            "support",
            owner_id="u1",
            closed_at=datetime(2026, 1, 5, 11, tzinfo=UTC),
        ),
        Ticket(
            "t,2",
            datetime(2026, 1, 5, 14, tzinfo=UTC),
            "billing",
            team_id="tier1",
            first_response_at=datetime(2026, 1, 5, 14, tzinfo=UTC),
        ),
    ]


@given(st.lists(tickets(), max_size=20, unique_by=lambda t: t.id))
def test_csv_write_then_read_gives_the_same_tickets(items: list[Ticket]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        source = CsvSource.write(Path(tmp) / "t.csv", items)
        assert list(source.tickets()) == items
        assert source.skipped_count == 0


def test_csv_header_only_has_no_tickets(tmp_path: Path) -> None:
    assert list(CsvSource(write(tmp_path / "t.csv", HEADER)).tickets()) == []


def test_csv_streams_rows_before_reading_the_whole_file(tmp_path: Path) -> None:
    good = "t{},2026-01-05T10:00:00Z,support,u1,,,"
    path = write(tmp_path / "t.csv", HEADER, *(good.format(i) for i in range(3)), "t9,oops")
    read = CsvSource(path).tickets()
    assert next(read).id == "t0"  # yielded before the bad last line is reached
    with pytest.raises(BadRow, match="line 5"):
        list(read)


def test_csv_write_is_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    CsvSource.write(path, SAMPLE)
    with raises(InvalidInput, "tickets[1]", "oops"):
        CsvSource.write(path, [SAMPLE[0], "oops"])  # type: ignore[list-item]
    assert [t.id for t in CsvSource(path).tickets()] == ["t1", "t2", "t3", "t4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]
    with pytest.raises(DataSourceError, match=r"t\.csv: cannot write the file"):
        CsvSource.write(tmp_path / "no-such-dir" / "t.csv", SAMPLE)


# -- CSV: bad rows -------------------------------------------------------------------------

GOOD_ROW = "t0,2026-01-05T10:00:00+00:00,support,u1,,,2026-01-05T12:00:00+00:00"
BAD_ROWS = {
    "too few fields": ("t1,2026-01-05T10:00:00Z,support", None, "expected 7 fields"),
    "too many fields": (GOOD_ROW.replace("t0", "t1") + ",extra", None, "found 8"),
    "unterminated quote": ('t1,"2026-01-05T10:00:00Z,support,u1,,,', None, "found 2"),
    "not a timestamp": ("t1,yesterday,support,u1,,,", "created_at", "ISO-8601"),
    "a number, not a timestamp": ("t1,1767607200,support,u1,,,", "created_at", "ISO-8601"),
    "naive timestamp": ("t1,2026-01-05T10:00:00,support,u1,,,", "created_at", "naive"),
    "naive close": ("t1,2026-01-05T10:00Z,support,u1,,,2026-01-06 10:00", "closed_at", "naive"),
    "closed before created": (
        "t1,2026-01-05T10:00:00Z,support,u1,,,2026-01-05T09:59:59Z",
        "closed_at",
        "closed before it was created",
    ),
    "answered before created": (
        "t1,2026-01-05T10:00:00+01:00,support,u1,,2026-01-05T09:30:00+01:00,",
        "first_response_at",
        "answered before it was created",
    ),
    "no id": (",2026-01-05T10:00:00Z,support,u1,,,", "id", "non-empty"),
    "no pipeline": ("t1,2026-01-05T10:00:00Z,,u1,,,", "pipeline", "non-empty"),
    "no creation time": ("t1,,support,u1,,,", "created_at", "aware datetime"),
    "field too large": (f"t1,2026-01-05T10:00:00Z,{'x' * 200_000},u1,,,", None, "malformed"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_csv_bad_row_names_file_line_column_and_value(tmp_path: Path, case: str) -> None:
    row, column, reason = BAD_ROWS[case]
    path = write(tmp_path / "bad.csv", HEADER, GOOD_ROW, row)
    with pytest.raises(BadRow) as caught:
        list(CsvSource(path).tickets())
    error = caught.value
    assert isinstance(error, DataSourceError)
    assert error.column == column
    assert reason in str(error)
    assert str(error).startswith(f"{path}, line 3")
    if column is not None:
        value = row.split(",")[CSV_COLUMNS.index(column)]
        assert error.value == value
        assert f"column {column!r}" in str(error)
        assert repr(value) in str(error)


def test_csv_skip_mode_skips_and_records_every_bad_row(tmp_path: Path) -> None:
    # An unterminated quote runs to the end of the file, so it comes last.
    cases = sorted(BAD_ROWS, key=lambda c: (c == "unterminated quote", c))
    bad = [BAD_ROWS[c][0] for c in cases]
    path = write(tmp_path / "bad.csv", HEADER, GOOD_ROW, *bad[:-1], "z" + GOOD_ROW[2:], bad[-1])
    source = CsvSource(path, on_error="skip")
    assert [t.id for t in source.tickets()] == ["t0", "z"]
    assert source.skipped_count == len(BAD_ROWS)
    lines = [*range(3, 2 + len(BAD_ROWS)), 3 + len(BAD_ROWS)]
    assert [line for line, _ in source.skipped] == lines
    assert all(message.startswith(f"{path}, line ") for _, message in source.skipped)
    # Every read starts its own record.
    assert len(list(source.tickets(TicketQuery(owner_ids=["nobody"])))) == 0
    assert source.skipped_count == len(BAD_ROWS)


def test_csv_non_utf8_bytes_name_the_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        f"{HEADER}\n{GOOD_ROW}\nt1,2026-01-05T10:00:00Z,support,Jos\xe9,,,\n".encode("latin-1")
    )
    with pytest.raises(BadRow, match=r"line 3, column 'owner_id': not valid UTF-8") as caught:
        list(CsvSource(path).tickets())
    assert caught.value.value == b"Jos\xe9"
    skipping = CsvSource(path, on_error="skip")
    assert [t.id for t in skipping.tickets()] == ["t0"]
    assert skipping.skipped_count == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file; expected a header with the columns id, created_at"),
        (b"\n", "empty file"),
        (b"id,created_at,pipeline,owner_id\n", "lacks the column(s) team_id, first_response_at"),
        (b"ID,Created,pipeline\n", "lacks the column(s) id, created_at, owner_id"),
        (f"{HEADER},id\n".encode(), "repeats a column"),
    ],
)
def test_csv_bad_header_is_an_error_when_opening(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(DataSourceError, match=str(path)) as caught:
        CsvSource(path)
    assert message in str(caught.value)


def test_csv_missing_or_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=r"missing\.csv: no such file"):
        CsvSource(tmp_path / "missing.csv")
    with pytest.raises(DataSourceError, match="cannot read the file"):
        CsvSource(tmp_path)
    path = write(tmp_path / "t.csv", HEADER, GOOD_ROW)
    source = CsvSource(path)
    path.unlink()
    with pytest.raises(DataSourceError, match="no such file"):
        list(source.tickets())


def test_csv_rejects_bad_options() -> None:
    with raises(InvalidInput, "on_error", "ignore"):
        CsvSource("t.csv", on_error="ignore")  # type: ignore[arg-type]
    with raises(InvalidInput, "path", 42):
        CsvSource(42)  # type: ignore[arg-type]


# -- SQLite ----------------------------------------------------------------------------


@given(st.lists(tickets(), max_size=20, unique_by=lambda t: t.id))
def test_sqlite_round_trip(items: list[Ticket]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        source = SqliteSource.create(Path(tmp) / "t.db")
        assert source.add_tickets(iter(items)) == len(items)
        assert sorted(source.tickets(), key=lambda t: t.id) == sorted(items, key=lambda t: t.id)


def test_sqlite_schema_stores_epoch_microseconds(tmp_path: Path) -> None:
    source = sqlite_source(tmp_path)
    with sqlite3.connect(source.path) as db:
        row = db.execute("SELECT * FROM tickets WHERE id = 't3'").fetchone()
        indexes = {r[1] for r in db.execute("PRAGMA index_list(tickets)")}
    assert row == (
        "t3",
        1767603600000000,
        "support",
        "u2",
        "tier1",
        1769947200000000,
        1772366400000000,
    )
    assert {"tickets_owner_closed", "tickets_team_response"} <= indexes


def test_sql_add_is_all_or_nothing(make_sql_source: Build) -> None:
    source = make_sql_source(SAMPLE)
    assert isinstance(source, (SqliteSource, SqlAlchemySource))
    for clash in ([ticket("new"), ticket("t1"), ticket("newer")], [ticket("a"), ticket("a")]):
        with pytest.raises(DataSourceError, match="nothing was stored") as caught:
            source.add_tickets(clash)
        assert repr(clash[1].id) in str(caught.value)
        assert "replace=True" in str(caught.value)
    with raises(InvalidInput, "tickets[1]", "oops"):
        source.add_tickets([ticket("new"), "oops"])  # type: ignore[list-item]
    assert sorted(t.id for t in source.tickets()) == ["t1", "t2", "t3", "t4"]
    assert source.add_tickets([]) == 0


def test_sqlite_names_the_ticket_it_cannot_store(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=r"tickets\[1\]: cannot store ticket 't1'"):
        sqlite_source(tmp_path).add_tickets([ticket("new"), ticket("t1")])


def test_sql_replace_updates_stored_tickets(make_sql_source: Build) -> None:
    source = make_sql_source(SAMPLE)
    assert isinstance(source, (SqliteSource, SqlAlchemySource))
    closed = ticket("t2", pipeline="billing", owner_id=None, team_id="tier1", closed_at=at(2, 2))
    assert source.add_tickets([ticket("t2"), closed, ticket("t5")], replace=True) == 3
    stored = {t.id: t for t in source.tickets()}
    assert stored["t2"] == closed  # the last of equal ids wins
    assert len(stored) == 5


def test_sql_looking_strings_are_stored_and_matched_literally(make_sql_source: Build) -> None:
    items = tuple(
        ticket(f"t-{text}", pipeline=text, owner_id=text, team_id=text) for text in SQL_LOOKING
    ) + tuple(ticket(text) for text in SQL_LOOKING)
    source = make_sql_source(items)
    assert isinstance(source, AggregatingSource)
    assert sorted(source.tickets(), key=lambda t: t.id) == sorted(items, key=lambda t: t.id)
    for text in SQL_LOOKING:
        for query in (
            TicketQuery(owner_ids=[text]),
            TicketQuery(team_ids=[text]),
            TicketQuery(pipelines=[text]),
        ):
            assert [t.id for t in source.tickets(query)] == [f"t-{text}"]
    goal = Goal.create(
        id="g",
        name="Resolve",
        kpi=AVG_RESOLUTION_TIME,
        cadence=Cadence.MONTHLY,
        span=YEAR,
        settings=ACCOUNT,
        contributors=[User(t, t) for t in SQL_LOOKING] + [Team("t" + t, "team") for t in "%_"],
        pipelines=SQL_LOOKING,
    )
    expected = measure([goal], items)
    assert source.measure([goal]) == expected
    assert expected[("g", SQL_LOOKING[0], 0)] == Measurement(1, 2 * 3_600_000_000)
    assert len(list(source.tickets())) == len(items)  # the table is still there


def test_sqlite_missing_or_foreign_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=r"missing\.db: cannot open the database: no such"):
        SqliteSource(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    text_file = write(tmp_path / "notes.db", "this is not a database" * 100)
    with pytest.raises(DataSourceError, match=r"notes\.db: not an SQLite database"):
        SqliteSource(text_file)
    sqlite3.connect(tmp_path / "empty.db").close()
    with pytest.raises(DataSourceError, match="no 'tickets' table; create one"):
        SqliteSource(tmp_path / "empty.db")
    with sqlite3.connect(tmp_path / "other.db") as db:
        db.execute("CREATE TABLE tickets (id TEXT, created_at INTEGER)")
    with pytest.raises(DataSourceError, match=r"lacks the column\(s\) pipeline, owner_id"):
        SqliteSource(tmp_path / "other.db")
    with pytest.raises(DataSourceError, match="cannot create the database"):
        SqliteSource.create(tmp_path / "no-such-dir" / "t.db")


def bad_table(tmp_path: Path, row: tuple[object, ...]) -> SqliteSource:
    """A tickets table made without the checks of SqliteSource.create()."""
    with sqlite3.connect(tmp_path / "foreign.db") as db:
        db.execute(f"CREATE TABLE tickets ({', '.join(CSV_COLUMNS)})")
        db.execute("INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    return SqliteSource(tmp_path / "foreign.db")


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [
        (("t1", "2026-01-05", "s", None, None, None, None), "created_at", "2026-01-05"),
        (
            ("t1", 0, "s", None, None, None, -5),
            "closed_at",
            datetime(1969, 12, 31, 23, 59, 59, 999995, tzinfo=UTC),
        ),
        (("t1", 0, "s", None, None, 1.5, None), "first_response_at", 1.5),
        (("t1", 0, None, None, None, None, None), "pipeline", None),
        (("t1", 2**62, "s", None, None, None, None), "created_at", 2**62),
    ],
)
def test_sqlite_bad_stored_row_names_ticket_column_and_value(
    tmp_path: Path, row: tuple[object, ...], column: str, value: object
) -> None:
    source = bad_table(tmp_path, row)
    with pytest.raises(BadRow) as caught:
        list(source.tickets())
    assert caught.value.place == "ticket 't1'"
    assert caught.value.column == column
    assert caught.value.value == value
    assert str(caught.value).startswith(f"{source.path}, ticket 't1', column {column!r}")


def test_sqlite_push_down_reports_negative_totals_of_foreign_tables(tmp_path: Path) -> None:
    start = YEAR.start_us
    source = bad_table(tmp_path, ("t1", start + 10, "s", "u1", None, None, start + 5))
    goal = Goal.create(
        id="g",
        name="Resolve",
        kpi=AVG_RESOLUTION_TIME,
        cadence=Cadence.CUSTOM,
        span=YEAR,
        settings=ACCOUNT,
        contributors=[User("u1", "Ada")],
    )
    with pytest.raises(DataSourceError, match=r"negative duration total -5"):
        source.measure([goal])


def test_every_source_yields_instants_equal_to_the_originals(make_source: Build) -> None:
    oslo = timezone(timedelta(hours=1))
    item = ticket("t1", created_at=datetime(2026, 1, 5, 9, 30, 0, 123456, tzinfo=oslo))
    (read,) = make_source((item,)).tickets()
    assert read == item
    assert read.created_us == item.created_us


def test_sqlalchemy_source_errors_name_the_database(tmp_path: Path) -> None:
    with raises(InvalidInput, "engine_or_url", 42):
        SqlAlchemySource(42)  # type: ignore[arg-type]
    with raises(InvalidInput, "engine_or_url", "nosuchdb://host/db"):
        SqlAlchemySource("nosuchdb://host/db")
    url = f"sqlite:///{tmp_path}/t.db"
    with pytest.raises(DataSourceError, match=r"t\.db table 'tickets': cannot read the table"):
        SqlAlchemySource(url)
    with sqlite3.connect(tmp_path / "t.db") as db:
        db.execute("CREATE TABLE partial (id TEXT, created_at INTEGER)")
    with pytest.raises(DataSourceError, match=r"table 'partial': the table lacks the column\(s\)"):
        SqlAlchemySource(url, table="partial")
    with pytest.raises(DataSourceError, match="cannot create table 'tickets'"):
        SqlAlchemySource.create(f"sqlite:///{tmp_path}/no-such-dir/t.db")
