"""Hostile ids and instants: refused when they cannot be stored, else measured alike everywhere.

An id with NUL cannot be kept in PostgreSQL text (and SQLite compared it differently
from Python); a lone surrogate cannot be encoded as UTF-8.  Both are refused when the
ticket, user, team or goal is built, so every source agrees on everything else.
"""

from __future__ import annotations

import tempfile
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from servicegoals import (
    CLOSED_TICKETS,
    AccountSettings,
    Cadence,
    Contributor,
    CsvSource,
    Directory,
    Goal,
    InvalidInput,
    SqliteSource,
    Target,
    Team,
    Ticket,
    User,
    date_range,
    measure,
)
from servicegoals.errors import BadRow
from servicegoals.sources import CSV_COLUMNS, MAX_LINE_LENGTH
from servicegoals.sql import SqlAlchemySource

ACCOUNT = AccountSettings()
SPAN = date_range(date(2026, 1, 1), date(2026, 3, 31), ACCOUNT)
OPENED = datetime(2026, 1, 5, tzinfo=UTC)
CLOSED = datetime(2026, 2, 5, tzinfo=UTC)
BAD_IDS = ["a\x00b", "\x00", "a\ud800b", "\udfff"]
#: A goal, its directory and tickets.
Account = tuple[Goal, Directory, list[Ticket]]


def unstorable(value: object) -> bool:
    """True for the ids that must be refused."""
    if not isinstance(value, str) or not value or "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def close_goal(owner: str, team: str, pipeline: str, goal_id: str = "g1") -> Goal:
    return Goal.create(
        id=goal_id,
        name="Close tickets",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.MONTHLY,
        span=SPAN,
        settings=ACCOUNT,
        contributors=[User(owner, "Owner"), Team(team, "Team")],
        targets={owner: 1, team: 1},
        pipelines=[pipeline],
        created_at=datetime(2025, 12, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize("bad", BAD_IDS)
def test_unstorable_ids_are_refused_everywhere(bad: str) -> None:
    with pytest.raises(InvalidInput, match=r"^id: an id cannot contain"):
        Ticket(bad, OPENED, "support")
    for field in ("pipeline", "owner_id", "team_id"):
        parts = {"pipeline": "support", field: bad}
        with pytest.raises(InvalidInput, match=rf"^{field}: an id cannot contain"):
            Ticket("t1", OPENED, **parts)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"^user.id: "):
        User(bad, "Ada")
    with pytest.raises(InvalidInput, match=r"^user.team_ids: "):
        User("ada", "Ada", team_ids=[bad])
    with pytest.raises(InvalidInput, match=r"^team.id: "):
        Team(bad, "Support")
    with pytest.raises(InvalidInput, match=r"^team.parent_id: "):
        Team("support", "Support", parent_id=bad)
    with pytest.raises(InvalidInput, match=r"^contributor.id: "):
        Contributor.user(bad)
    with pytest.raises(InvalidInput, match=r"^target.pipeline: "):
        Target(1, pipeline=bad)
    with pytest.raises(InvalidInput, match=r"^id: "):
        goal_with(id=bad)
    with pytest.raises(InvalidInput, match=r"^pipelines: "):
        close_goal("ada", "support", bad)
    with pytest.raises(InvalidInput, match=r"^created_by: "):
        goal_with(created_by=bad)


def goal_with(**changes: Any) -> Goal:
    parts: dict[str, Any] = {
        "id": "g1",
        "name": "Close tickets",
        "kpi": CLOSED_TICKETS,
        "cadence": Cadence.MONTHLY,
        "span": SPAN,
        "settings": ACCOUNT,
        "contributors": [User("ada", "Ada")],
        "created_at": datetime(2025, 12, 1, tzinfo=UTC),
    }
    return Goal.create(**{**parts, **changes})


def test_a_lone_surrogate_never_reaches_sqlite() -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = SqliteSource.create(f"{folder}/t.db")
        with pytest.raises(InvalidInput, match="lone surrogate"):
            source.add_tickets([Ticket("t\ud800", OPENED, "support")])
        assert list(source.tickets()) == []


def test_instants_outside_the_utc_range_are_refused() -> None:
    east, west = timezone(timedelta(hours=5)), timezone(timedelta(hours=-5))
    with pytest.raises(InvalidInput, match="created_at: outside the supported range in UTC"):
        Ticket("t1", datetime(9999, 12, 31, 23, tzinfo=west), "support")
    with pytest.raises(InvalidInput, match="closed_at: outside the supported range in UTC"):
        Ticket("t1", OPENED, "support", closed_at=datetime(9999, 12, 31, 23, tzinfo=west))
    with pytest.raises(InvalidInput, match="created_at: outside the supported range in UTC"):
        Ticket("t1", datetime(1, 1, 1, 1, tzinfo=east), "support")
    last = Ticket("t1", datetime(9999, 12, 31, 23, 59, tzinfo=UTC), "support")
    with tempfile.TemporaryDirectory() as folder:
        source = SqliteSource.create(f"{folder}/t.db")
        source.add_tickets([last])
        assert list(source.tickets()) == [last]  # the last representable instants read back


# -- push-down equality over arbitrary text ids ------------------------------------------

#: Ids as people write them (NUL now and then), and hostile ones: any code point,
#: lone surrogates included (plain st.text() leaves those out).
plain_ids = st.text(min_size=1, max_size=5)
hostile_ids = st.text(st.characters(exclude_categories=()), max_size=5) | st.sampled_from(
    ["a\x00b", "\x00", "a\ud800"]
)


@st.composite
def hostile_accounts(draw: st.DrawFn) -> Account | None:
    """A goal and tickets built from arbitrary text ids; None when they were refused."""
    # At most one kind of id is hostile, so that most accounts can be built.
    hostile = draw(st.sampled_from(["owner", "team", "pipeline", "ticket", None]))

    def ids(kind: str) -> st.SearchStrategy[str]:
        return hostile_ids if kind == hostile else plain_ids

    owner, pipeline = draw(ids("owner")), draw(ids("pipeline"))
    team = "T" + draw(ids("team"))  # a goal's user and team cannot share an id
    ticket_ids = draw(st.lists(ids("ticket"), min_size=1, max_size=3, unique=True))
    try:
        goal = close_goal(owner, team, pipeline)
        directory = Directory([User(owner, "Owner", team_ids=[team])], [Team(team, "Team")])
        tickets = [
            Ticket(
                t,
                OPENED,
                draw(st.sampled_from([pipeline, "other"])),
                owner_id=draw(st.sampled_from([owner, None])),
                team_id=draw(st.sampled_from([team, None])),
                closed_at=CLOSED,
            )
            for t in ticket_ids
        ]
    except InvalidInput as exc:
        refused = exc
    else:
        return goal, directory, tickets
    assert unstorable(refused.value) or owner == team, refused
    return None


def agree(source: SqliteSource | SqlAlchemySource, account: Account) -> None:
    goal, directory, tickets = account
    expected = measure([goal], tickets, directory=directory)
    assert source.measure([goal], directory=directory) == expected
    assert sorted(t.id for t in source.tickets()) == sorted(t.id for t in tickets)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_accounts())
def test_sqlite_push_down_equals_measure_for_any_text_ids(
    account: Account | None,
) -> None:
    if account is None:  # refused, as the strategy checked
        return
    with tempfile.TemporaryDirectory() as folder:
        source = SqliteSource.create(f"{folder}/t.db")
        source.add_tickets(account[2])
        agree(source, account)


@pytest.fixture(scope="module")
def postgres_source(postgres_url: str) -> Iterator[SqlAlchemySource]:
    with SqlAlchemySource.create(postgres_url, table="hostile_ids") as source:
        yield source


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_accounts())
def test_postgres_push_down_equals_measure_for_any_text_ids(
    postgres_source: SqlAlchemySource, account: Account | None
) -> None:
    if account is None:  # refused, as the strategy checked
        return
    with postgres_source.engine.begin() as connection:
        connection.execute(delete(postgres_source.table))
    postgres_source.add_tickets(account[2])
    agree(postgres_source, account)


# -- hostile CSV files -------------------------------------------------------------------

HEADER = ",".join(CSV_COLUMNS) + "\n"
ROW = "t{},2026-01-05T00:00:00+00:00,support,ada,,,2026-02-05T00:00:00+00:00\n"


def test_a_csv_line_of_millions_of_commas_is_a_short_error_in_bounded_memory(
    tmp_path: Path,
) -> None:
    path = tmp_path / "commas.csv"
    path.write_text(HEADER + ROW.format(1) + "," * 3_000_000 + "\n" + ROW.format(2), "utf-8")
    source = CsvSource(path)
    tracemalloc.start()
    try:
        with pytest.raises(BadRow) as caught:
            list(source.tickets())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.place == "line 3"
    assert f"longer than {MAX_LINE_LENGTH} characters" in str(caught.value)
    assert len(str(caught.value)) < 1_000
    assert peak < 16 * MAX_LINE_LENGTH  # a few pieces of the line, never the whole of it


def test_skipping_a_too_long_line_reads_the_rows_after_it(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    long_line = "x" * (MAX_LINE_LENGTH * 2 + 5) + "\r\n"
    path.write_text(HEADER + ROW.format(1) + long_line + ROW.format(2), "utf-8", newline="")
    source = CsvSource(path, on_error="skip")
    assert [t.id for t in source.tickets()] == ["t1", "t2"]
    ((line, message),) = source.skipped
    assert line == 3
    assert "line 3: the line is longer than" in message
    assert len(message) < 1_000


def test_a_too_long_header_is_refused_when_opening(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("id," * MAX_LINE_LENGTH + "\n", "utf-8")
    with pytest.raises(BadRow, match=r"line 1: the line is longer than"):
        CsvSource(path)


def test_errors_show_a_shortened_row(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(HEADER + "a," * 50_000 + "\n", "utf-8")
    with pytest.raises(BadRow) as caught:
        list(CsvSource(path).tickets())
    assert "expected 7 fields like the header, found 50001" in str(caught.value)
    assert len(str(caught.value)) < 1_000
    assert len(caught.value.value) == 50_001  # the exception keeps the whole row
