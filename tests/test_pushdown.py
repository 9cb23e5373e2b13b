"""Aggregate push-down equals measure() on generated goals and tickets.

For SQLite (both of its query shapes), for SQLAlchemy on SQLite and for
SQLAlchemy on a real PostgreSQL server that the ``postgres_url`` fixture starts.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from clocks import with_history, with_policies
from servicegoals import (
    AVG_RESOLUTION_TIME,
    AVG_RESPONSE_TIME,
    CLOSED_TICKETS,
    AccountSettings,
    AggregatingSource,
    Cadence,
    DataSourceError,
    Directory,
    Goal,
    InMemorySource,
    Measurement,
    Reopen,
    SqliteSource,
    Target,
    Team,
    Ticket,
    TicketQuery,
    Unit,
    User,
    calendar_year,
    measure,
)
from servicegoals._validate import from_us
from servicegoals.pushdown import PushDownPlan
from servicegoals.sql import SqlAlchemySource
from servicegoals.testing import PIPELINES, account_settings, directories, goals, periods, tickets

#: Ids and pipeline names that would break SQL built by pasting values into it.
TRICKY = ("x'); DROP TABLE tickets;--", "' OR 1=1 --", "%", "_", 'a "b"', "c\\d", "ü")
TRICKY_DIRECTORY = Directory(
    users=[User(name, "user") for name in TRICKY],
    teams=[
        Team("T" + name, "team", parent_id=None if i < 2 else "T" + TRICKY[i // 2])
        for i, name in enumerate(TRICKY)
    ],
)

Account = tuple[Directory | None, list[Goal], list[Ticket], datetime | None]


@st.composite
def accounts(draw: st.DrawFn) -> Account:
    """A directory, goals (some sharing a span) and tickets aimed at them."""
    if draw(st.booleans()):
        directory = draw(directories(max_users=5, max_teams=4).filter(lambda d: d.users or d.teams))
        pipelines = PIPELINES
    else:
        directory, pipelines = TRICKY_DIRECTORY, TRICKY[:4]
    settings_ = draw(account_settings())
    shared = draw(periods(settings_, max_days=400, min_start=datetime(2020, 1, 1).date()))
    goal = st.one_of(
        goals(settings_, directory=directory, span=shared, pipelines=pipelines),
        goals(directory=directory, max_days=400, pipelines=pipelines),
    )
    drawn = draw(st.lists(goal, min_size=1, max_size=4, unique_by=lambda g: g.id))
    if draw(st.booleans()):
        drawn[0] = _vary_pipelines(draw, drawn[0], pipelines)
    # Some goals time tickets under a clock policy: a working-time clock makes
    # the SQL sources measure by streaming their own tickets.
    drawn = [draw(with_policies(g)) if draw(st.booleans()) else g for g in drawn]
    found: dict[str, Ticket] = {}
    for g in drawn:
        for t in draw(st.lists(tickets(g, directory=directory), max_size=12)):
            found[t.id] = t
        for t in _aimed(draw, g, directory):
            found[t.id] = t
    items = list(found.values())
    if draw(st.booleans()):  # histories: the sources measure by streaming
        items = [
            draw(with_history(t)) if draw(st.booleans()) else _reopened(draw, t) for t in items
        ]
    return (
        (directory if draw(st.booleans()) else None),
        drawn,
        items,
        draw(as_of_instants(drawn, items)),
    )


def _reopened(draw: st.DrawFn, ticket: Ticket) -> Ticket:
    """``ticket`` created earlier and closed once before its close, often a milestone before."""
    if ticket.closed_us is None:
        return ticket
    created = ticket.created_us - draw(st.integers(0, 60 * 86_400 * 10**6))
    close = draw(st.integers(created, ticket.closed_us))
    again = draw(st.integers(close, ticket.closed_us))
    return attrs.evolve(
        ticket, created_at=from_us(created), reopens=[Reopen(from_us(close), from_us(again))]
    )


def as_of_instants(drawn: list[Goal], items: list[Ticket]) -> st.SearchStrategy[datetime | None]:
    """None (every event), or an instant near a ticket's event, a bound or anywhere in a span."""
    events = [
        e
        for t in items
        for e in (t.first_response_us, t.closed_us, *(x for r in t.reopens_us for x in r))
        if e is not None
    ]
    bounds = [m.period.start_us for g in drawn for m in g.milestones]
    spans = st.sampled_from(drawn).flatmap(
        lambda g: st.integers(g.span.start_us - 10**9, g.span.end_us + 10**9)
    )
    near = st.sampled_from(events + bounds).flatmap(lambda e: st.sampled_from([e - 1, e, e + 1]))
    return st.none() | st.one_of(near, spans).map(from_us)


def _vary_pipelines(draw: st.DrawFn, goal: Goal, pipelines: tuple[str, ...]) -> Goal:
    """Give one contributor pipelines that change from milestone to milestone.

    Its cells take turns between the goal's pipelines (or one pipeline and
    "every pipeline" when the goal has fewer than two).
    """
    names: list[str | None] = list(sorted(goal.pipelines) or pipelines[:1])
    if len(names) < 2:
        names.append(None)
    amount = timedelta(hours=1) if goal.kpi.unit is Unit.DURATION else 1
    shift = draw(st.integers(0, len(names) - 1))
    row = [Target(amount, names[(j + shift) % len(names)]) for j in range(len(goal.milestones))]
    return goal.with_targets(draw(st.sampled_from(goal.contributor_ids)), row)


def _aimed(draw: st.DrawFn, goal: Goal, directory: Directory) -> Iterator[Ticket]:
    """Tickets of the goal's contributors, in its pipelines and a few others.

    Their events fall inside a milestone, or exactly on (or a microsecond
    before) a milestone bound.
    """
    bounds = [m.period.start_us for m in goal.milestones] + [goal.span.end_us]
    people = [c.id for c in goal.contributors] + [t.id for t in directory.teams]
    named = {t.pipeline for row in goal.targets for t in row if t and t.pipeline}
    pipelines = sorted(goal.pipelines | named | {"support", "other"})
    for n in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            at = draw(st.sampled_from(bounds)) - draw(st.sampled_from([0, 1]))
        else:
            j = draw(st.integers(0, len(bounds) - 2))
            at = draw(st.integers(bounds[j], bounds[j + 1] - 1))
        created = at - draw(st.integers(0, 10**10))
        yield Ticket(
            f"aimed-{goal.id}-{n}",
            from_us(created),
            draw(st.sampled_from(pipelines)),
            owner_id=draw(st.sampled_from(people)),
            team_id=draw(st.sampled_from(people)),
            first_response_at=from_us(at) if draw(st.booleans()) else None,
            closed_at=from_us(at + draw(st.sampled_from([0, 1]))),
        )


def check(source: AggregatingSource, account: Account) -> None:
    directory, drawn, items, at = account
    expected = measure(drawn, items, directory=directory, at=at)
    assert source.measure(drawn, directory=directory, at=at) == expected
    # And the narrow query yields every ticket that counts.
    query = TicketQuery.for_goals(drawn, directory)
    assert measure(drawn, source.tickets(query), directory=directory, at=at) == expected


def scratch() -> tempfile.TemporaryDirectory[str]:
    """A temporary directory, in memory where the system has one (tmpfs).

    Real SQLite files still, but the many tiny transactions of property tests
    then do not wait for a busy disk.
    """
    return tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)


def fewer(divisor: int) -> settings:
    """A fraction of the active hypothesis profile's examples, for costlier tests."""
    return settings(max_examples=max(10, settings().max_examples // divisor))


@given(accounts(), st.sampled_from([0, 10**9]))
def test_sqlite_push_down_equals_measure(account: Account, up_to: int) -> None:
    """Both query shapes: per milestone (``up_to`` large) and the CASE tree (0)."""
    with scratch() as tmp:
        SqliteSource.create(Path(tmp) / "t.db").add_tickets(account[2])
        check(SqliteSource(Path(tmp) / "t.db", milestone_queries_up_to=up_to), account)
    directory, drawn, items, at = account
    kept = InMemorySource(items).tickets(TicketQuery.for_goals(drawn, directory))
    expected = measure(drawn, items, directory=directory, at=at)
    assert measure(drawn, kept, directory=directory, at=at) == expected
    assert InMemorySource(items).measure(drawn, directory=directory, at=at) == expected


@fewer(4)
@given(accounts())
def test_sqlalchemy_on_sqlite_push_down_equals_measure(account: Account) -> None:
    with scratch() as tmp, SqlAlchemySource.create(f"sqlite:///{tmp}/t.db") as source:
        source.add_tickets(account[2])
        check(source, account)


@pytest.fixture(scope="module")
def postgres_source(postgres_url: str) -> Iterator[SqlAlchemySource]:
    with SqlAlchemySource.create(postgres_url, table="pushdown") as source:
        yield source


def replace_all(source: SqlAlchemySource, items: list[Ticket]) -> None:
    with source.engine.begin() as connection:
        connection.execute(delete(source.table))
        connection.execute(delete(source.history))
    source.add_tickets(items)


@fewer(2)
@given(accounts())
def test_postgres_push_down_equals_measure(
    postgres_source: SqlAlchemySource, account: Account
) -> None:
    replace_all(postgres_source, account[2])
    check(postgres_source, account)


# -- examples ---------------------------------------------------------------------------

ACCOUNT = AccountSettings()
YEAR = calendar_year(2026, ACCOUNT)
START = YEAR.start_us


def long_open_tickets(count: int) -> list[Ticket]:
    """Tickets open for two thousand years: their durations add up beyond 64 bits."""
    created = datetime(10, 1, 1, tzinfo=UTC)
    return [
        Ticket(f"t{i}", created, "support", owner_id="u1", closed_at=from_us(START + i))
        for i in range(count)
    ]


def resolution_goal(cadence: Cadence = Cadence.MONTHLY) -> Goal:
    return Goal.create(
        id="g",
        name="Resolve",
        kpi=AVG_RESOLUTION_TIME,
        cadence=cadence,
        span=YEAR,
        settings=ACCOUNT,
        contributors=[User("u1", "Ada")],
    )


Build = Callable[[list[Ticket]], AggregatingSource]


@pytest.fixture(params=["sqlite", "sqlite-case-tree", "sqlalchemy-sqlite", "postgres"])
def stored(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Build]:
    """Store tickets in each aggregating source (and each SQLite query shape)."""
    opened: list[SqlAlchemySource] = []

    def build(items: list[Ticket]) -> AggregatingSource:
        if request.param == "postgres":
            source: SqlAlchemySource = request.getfixturevalue("postgres_source")
            replace_all(source, items)
            return source
        if request.param == "sqlalchemy-sqlite":
            source = SqlAlchemySource.create(f"sqlite:///{tmp_path}/t.db")
            opened.append(source)
            source.add_tickets(items)
            return source
        SqliteSource.create(tmp_path / "t.db").add_tickets(items)
        up_to = 0 if request.param == "sqlite-case-tree" else 10**9
        return SqliteSource(tmp_path / "t.db", milestone_queries_up_to=up_to)

    yield build
    for source in opened:
        source.close()


def test_sums_beyond_64_bits_are_exact(stored: Build) -> None:
    items = long_open_tickets(200)
    result = stored(items).measure([resolution_goal()])
    assert result == measure([resolution_goal()], items)
    assert result[("g", "u1", 0)].total > 2**63


def test_cells_with_their_own_pipelines(stored: Build) -> None:
    goal = Goal.create(
        id="g",
        name="Close",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.MONTHLY,
        span=calendar_year(2026, ACCOUNT),
        settings=ACCOUNT,
        contributors=[User("u1", "Ada"), Team("t1", "Tier 1")],
        pipelines=["support", "billing"],
        targets={"u1": [Target(1, "support"), Target(1, "billing"), *[None] * 10]},
    )
    items = [
        Ticket(f"{p}-{m}", at, p, owner_id="u1", team_id="t1", closed_at=at)
        for p in ("support", "billing", "sales")
        for m in (1, 2, 3)
        for at in [datetime(2026, m, 10, tzinfo=UTC)]
    ]
    result = stored(items).measure([goal])
    assert result == measure([goal], items)
    # u1 counts support in January, billing in February, both from March on;
    # the team counts both every month; sales is not one of the goal's pipelines.
    assert [result[("g", "u1", j)].count for j in range(4)] == [1, 1, 2, 0]
    assert [result[("g", "t1", j)].count for j in range(4)] == [2, 2, 2, 0]


def test_push_down_counts_every_cell_with_zeros(stored: Build) -> None:
    start = YEAR.start
    items = [Ticket("t1", start, "support", owner_id="u1", closed_at=start + timedelta(hours=2))]
    source = stored(items)
    result = source.measure([resolution_goal()])
    assert len(result) == 12
    assert result[("g", "u1", 0)] == Measurement(1, 7_200_000_000)
    assert all(result[("g", "u1", j)] == Measurement(0, 0) for j in range(1, 12))
    assert source.measure([]) == {}


def test_push_down_shares_queries_between_goals() -> None:
    users = [User(f"u{i}", "user") for i in range(3)]
    made = [
        Goal.create(
            id=f"g{i}",
            name="Goal",
            kpi=kpi,
            cadence=Cadence.MONTHLY,
            span=YEAR,
            settings=ACCOUNT,
            contributors=users,
        )
        for i, kpi in enumerate([CLOSED_TICKETS, AVG_RESOLUTION_TIME, AVG_RESPONSE_TIME] * 10)
    ]
    queries = PushDownPlan(made).queries
    # closed_at and first_response_at: two queries for thirty goals
    assert sorted(q.event for q in queries) == ["closed_at", "first_response_at"]
    assert all(q.match_ids == ("u0", "u1", "u2") and q.pipelines is None for q in queries)


@pytest.mark.parametrize(
    ("count", "total", "message"),
    [(-1, 0, "negative ticket count -1"), (2, -5, "negative duration total -5")],
)
def test_rows_that_no_count_could_give_are_refused(count: int, total: int, message: str) -> None:
    """A row a database returned is summed without validators: the sums are checked."""
    goal = Goal.create(
        id="g",
        name="Resolve",
        kpi=AVG_RESOLUTION_TIME,
        cadence=Cadence.MONTHLY,
        span=YEAR,
        settings=ACCOUNT,
        contributors=[User("u1", "Ada")],
    )
    plan = PushDownPlan([goal])
    plan.collect(0, [("u1", 0, None, count, total)])
    with pytest.raises(DataSourceError, match=message):
        plan.result()
