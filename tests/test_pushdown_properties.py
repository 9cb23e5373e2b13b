"""Custom KPIs push down: SQL equals in-memory `measure`, errors included.

Random custom KPIs (every event, contribution and aggregation, `where` filters)
over tickets with properties, on a real SQLite file, SQLAlchemy on SQLite and
SQLAlchemy on a real PostgreSQL server.  Whatever part of a goal set SQL cannot
express streams; the result, or the class of the error, is `measure`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clocks import with_history, with_policies
from servicegoals import (
    CLOSED_TICKETS,
    MEDIAN_RESPONSE_TIME,
    RESPONDED_WITHIN_TARGET,
    AggregatingSource,
    Aggregation,
    Cadence,
    Contribution,
    Direction,
    Goal,
    InvalidInput,
    Kpi,
    Measurement,
    SqliteSource,
    Ticket,
    TicketEvent,
    TicketQuery,
    Unit,
    User,
    measure,
)
from servicegoals._validate import from_us
from servicegoals.pushdown import PushDownPlan
from servicegoals.sql import SqlAlchemySource
from servicegoals.testing import PIPELINES, account_settings, directories, goals, periods, tickets
from test_pushdown import (
    ACCOUNT,
    TRICKY,
    TRICKY_DIRECTORY,
    YEAR,
    Account,
    _aimed,
    as_of_instants,
    fewer,
    replace_all,
    scratch,
)

PRIORITIES: tuple[str | int, ...] = ("low", "high", "urgent", 1, 2)
AMOUNTS = (0, 5, 100, 250, 2**62)
BAD_AMOUNTS: tuple[str | int, ...] = (*AMOUNTS, -3, "7", "lots")
CHANNELS = ("email", "chat", "x'); DROP TABLE tickets;--")
STARTS = (
    TicketEvent.CREATED,
    TicketEvent.FIRST_RESPONSE,
    TicketEvent.CLOSED,
    TicketEvent.FIRST_CLOSE,
)


@st.composite
def custom_kpis(draw: st.DrawFn) -> Kpi:
    """Any valid custom KPI over the properties `tagged` gives tickets."""
    contribution = draw(
        st.sampled_from([*Contribution, Contribution.DURATION, Contribution.PROPERTY])
    )
    events = [
        e for e in TicketEvent if contribution is Contribution.ONE or e is not TicketEvent.REOPENED
    ]
    event = draw(st.sampled_from(events))
    if contribution is Contribution.ONE:
        aggregation = Aggregation.COUNT
    else:
        aggregation = draw(st.sampled_from([a for a in Aggregation if a is not Aggregation.COUNT]))
    duration = contribution is Contribution.DURATION
    unit = (
        Unit.PERCENT
        if aggregation is Aggregation.SHARE
        else Unit.DURATION
        if duration
        else Unit.COUNT
    )
    threshold: int | timedelta | None = None
    if aggregation is Aggregation.SHARE:
        # Values equal to the threshold must count as within it: draw ones that occur.
        threshold = (
            timedelta(microseconds=draw(st.sampled_from([0, 1]) | st.integers(0, 10**11)))
            if duration
            else draw(st.sampled_from([*AMOUNTS, 0, 1, 2**63, 2**70]))
        )
    where = {}
    if draw(st.booleans()):
        # One to three priorities (an empty set is refused).
        where["priority"] = frozenset(
            draw(st.lists(st.sampled_from(PRIORITIES), min_size=draw(st.sampled_from([1, 2, 3]))))
        )
    if draw(st.booleans()):
        where["channel"] = frozenset(draw(st.lists(st.sampled_from(CHANNELS), min_size=1)))
    return Kpi(
        "custom",
        "Custom",
        unit,
        draw(st.sampled_from(Direction)),
        event,
        contribution,
        aggregation,
        start=draw(st.sampled_from(STARTS)) if duration else TicketEvent.CREATED,
        threshold=threshold,
        percentile=draw(st.fractions(Fraction(1, 10), 100).filter(lambda p: p > 0))
        if aggregation is Aggregation.PERCENTILE
        else None,
        value_property="amount" if contribution is Contribution.PROPERTY else None,
        event_property="due" if event is TicketEvent.PROPERTY else None,
        where=where,
    )


def tagged(draw: st.DrawFn, ticket: Ticket, complete: bool) -> Ticket:
    """``ticket`` with properties: all of them when ``complete``, else any."""
    found: dict[str, str | int | datetime] = {}
    if complete or draw(st.booleans()):
        found["priority"] = draw(st.sampled_from(PRIORITIES))
    if complete or draw(st.booleans()):
        found["channel"] = draw(st.sampled_from(CHANNELS))
    if complete:
        found["amount"] = draw(st.sampled_from(AMOUNTS))
    elif draw(st.booleans()):
        found["amount"] = draw(st.sampled_from(BAD_AMOUNTS))
    if draw(st.booleans()):
        found["due"] = from_us(ticket.created_us) + timedelta(hours=draw(st.integers(0, 2_000)))
    return attrs.evolve(ticket, properties=found)


@st.composite
def custom_accounts(draw: st.DrawFn) -> Account:
    """Like test_pushdown's accounts, with custom KPIs (and a template) over tagged tickets."""
    if draw(st.booleans()):
        directory = draw(directories(max_users=5, max_teams=4).filter(lambda d: d.users or d.teams))
        pipelines = PIPELINES
    else:
        directory, pipelines = TRICKY_DIRECTORY, TRICKY[:4]
    settings_ = draw(account_settings())
    shared = draw(periods(settings_, max_days=400, min_start=datetime(2020, 1, 1).date()))
    kpis = draw(st.lists(custom_kpis(), min_size=1, max_size=3))
    if draw(st.booleans()):  # a template beside them keeps its own queries
        kpis.append(CLOSED_TICKETS)
    goal = st.one_of(
        goals(settings_, directory=directory, span=shared, pipelines=pipelines, kpis=kpis),
        goals(directory=directory, max_days=400, pipelines=pipelines, kpis=kpis),
    )
    drawn = draw(st.lists(goal, min_size=1, max_size=4, unique_by=lambda g: g.id))
    # A working-time clock makes a duration KPI stream: now and then.
    drawn = [draw(with_policies(g)) if draw(st.integers(0, 3)) == 0 else g for g in drawn]
    complete = draw(st.integers(0, 4)) > 0  # errors are the exception
    found: dict[str, Ticket] = {}
    for g in drawn:
        for t in draw(st.lists(tickets(g, directory=directory), max_size=12)):
            found[t.id] = t
        for t in _aimed(draw, g, directory):
            found[t.id] = t
    items = [tagged(draw, t, complete) for t in found.values()]
    if draw(st.integers(0, 9)) == 0:  # histories: the sources measure by streaming
        items = [draw(with_history(t)) for t in items]
    return (
        (directory if draw(st.booleans()) else None),
        drawn,
        items,
        None if draw(st.booleans()) else draw(as_of_instants(drawn, items)),
    )


def check(source: AggregatingSource, account: Account) -> None:
    directory, drawn, items, at = account
    try:
        expected = measure(drawn, items, directory=directory, at=at)
    except InvalidInput:
        with pytest.raises(InvalidInput):
            source.measure(drawn, directory=directory, at=at)
        # The narrow query keeps the tickets measure fails on.
        wanted = source.tickets(TicketQuery.for_goals(drawn, directory))
        with pytest.raises(InvalidInput):
            measure(drawn, wanted, directory=directory, at=at)
        return
    assert source.measure(drawn, directory=directory, at=at) == expected
    query = TicketQuery.for_goals(drawn, directory)
    assert measure(drawn, source.tickets(query), directory=directory, at=at) == expected


@settings(max_examples=settings().max_examples * 3)  # cheap, and a third of the cells are empty
@given(custom_accounts())
def test_sqlite_custom_push_down_equals_measure(account: Account) -> None:
    with scratch() as tmp:
        SqliteSource.create(Path(tmp) / "t.db").add_tickets(account[2])
        check(SqliteSource(Path(tmp) / "t.db"), account)


@fewer(4)
@given(custom_accounts())
def test_sqlalchemy_on_sqlite_custom_push_down_equals_measure(account: Account) -> None:
    with scratch() as tmp, SqlAlchemySource.create(f"sqlite:///{tmp}/t.db") as source:
        source.add_tickets(account[2])
        check(source, account)


@pytest.fixture(scope="module")
def postgres_custom(postgres_url: str) -> Iterator[SqlAlchemySource]:
    with SqlAlchemySource.create(postgres_url, table="custom") as source:
        yield source


def _replace(source: SqlAlchemySource, items: list[Ticket]) -> None:
    with source.engine.begin() as connection:
        connection.execute(source.properties.delete())
    replace_all(source, items)


@fewer(2)
@given(custom_accounts())
def test_postgres_custom_push_down_equals_measure(
    postgres_custom: SqlAlchemySource, account: Account
) -> None:
    _replace(postgres_custom, account[2])
    check(postgres_custom, account)


# -- examples ---------------------------------------------------------------------------

START = YEAR.start
ADA = User("u1", "Ada")


def _goal(kpi: Kpi, gid: str = "g", target: int | timedelta = 1) -> Goal:
    return Goal.create(
        id=gid,
        name="Goal",
        kpi=kpi,
        cadence=Cadence.MONTHLY,
        span=YEAR,
        settings=ACCOUNT,
        contributors=[ADA],
        targets={"u1": target},
    )


REFUNDS = Kpi(
    "refunds",
    "Refunded cents on urgent tickets",
    Unit.COUNT,
    Direction.LOWER_IS_BETTER,
    TicketEvent.CLOSED,
    Contribution.PROPERTY,
    Aggregation.SUM,
    value_property="refund",
    where={"priority": "urgent"},
)


def _ticket(n: int, minutes: int, **properties: str | int) -> Ticket:
    return Ticket(
        f"t{n}",
        START,
        "support",
        owner_id="u1",
        first_response_at=START + timedelta(minutes=minutes),
        closed_at=START + timedelta(minutes=2 * minutes),
        properties=properties,
    )


TICKETS = [
    _ticket(1, 30, priority="urgent", refund=100),
    _ticket(2, 150, priority="urgent", refund=250),
    _ticket(3, 90, priority="low", refund=5),
]


def test_plans_push_custom_kpis_down_per_goal() -> None:
    goals = [_goal(REFUNDS, "r"), _goal(MEDIAN_RESPONSE_TIME, "m", timedelta(hours=1))]
    sqlite_like = PushDownPlan(goals, custom=True)
    assert [q.value_property for q in sqlite_like.kpi_queries] == ["refund"]
    assert [g.id for g in sqlite_like.streamed] == ["m"]  # percentiles stream on SQLite
    postgres_like = PushDownPlan(goals, custom=True, percentiles=True)
    assert len(postgres_like.kpi_queries) == 2
    assert not postgres_like.streams
    assert [g.id for g in PushDownPlan(goals).streamed] == ["r", "m"]  # DuckDB


Build = Callable[[list[Ticket]], AggregatingSource]


@pytest.fixture(params=["sqlite", "sqlalchemy-sqlite", "postgres"])
def stored(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Build]:
    """Store tickets afresh in each aggregating source."""
    opened: list[SqlAlchemySource] = []

    def build(items: list[Ticket]) -> AggregatingSource:
        path = tmp_path / f"t{len(list(tmp_path.iterdir()))}.db"
        if request.param == "postgres":
            source: SqlAlchemySource = request.getfixturevalue("postgres_custom")
            _replace(source, items)
            return source
        if request.param == "sqlalchemy-sqlite":
            source = SqlAlchemySource.create(f"sqlite:///{path}")
            opened.append(source)
            source.add_tickets(items)
            return source
        SqliteSource.create(path).add_tickets(items)
        return SqliteSource(path)

    yield build
    for source in opened:
        source.close()


def test_filters_sums_shares_and_percentiles_in_sql(stored: Build) -> None:
    goals = [
        _goal(REFUNDS, "r"),
        _goal(RESPONDED_WITHIN_TARGET, "s", 90),
        _goal(MEDIAN_RESPONSE_TIME, "m", timedelta(hours=1)),
    ]
    result = stored(TICKETS).measure(goals)
    assert result == measure(goals, TICKETS)
    assert result[("r", "u1", 0)] == Measurement(2, 350)
    assert result[("s", "u1", 0)] == Measurement(3, 270 * 60 * 10**6, within=2)
    assert result[("m", "u1", 0)].values == (1_800_000_000, 5_400_000_000, 9_000_000_000)


@pytest.mark.parametrize(
    ("extra", "field", "value"),
    [
        (Ticket("t9", START, "support", owner_id="u1"), "ticket 't9'.properties", "priority"),
        (
            _ticket(8, 10, priority="urgent", refund="lots"),
            "ticket 't8'.properties['refund']",
            "lots",
        ),
        (_ticket(7, 10, priority="urgent"), "ticket 't7'.properties['refund']", None),
        (_ticket(6, 10, priority="urgent", refund=-1), "ticket 't6'.properties['refund']", -1),
    ],
)
def test_a_missing_or_bad_property_is_the_error_measure_raises(
    stored: Build, extra: Ticket, field: str, value: object
) -> None:
    items = [*TICKETS, extra]
    goals = [_goal(REFUNDS, "r")]
    with pytest.raises(InvalidInput) as expected:
        measure(goals, items)
    with pytest.raises(InvalidInput) as caught:
        stored(items).measure(goals)
    assert (caught.value.field, caught.value.value) == (field, value)
    assert str(caught.value) == str(expected.value)


def test_edges_threshold_ties_late_starts_and_as_of(stored: Build) -> None:
    """A value equal to the threshold is within it; a duration whose start comes after
    its event (or after `at`) does not count; exactly as `measure` says."""
    capped = Kpi(
        "capped",
        "Refunds up to 100",
        Unit.PERCENT,
        Direction.HIGHER_IS_BETTER,
        TicketEvent.CLOSED,
        Contribution.PROPERTY,
        Aggregation.SHARE,
        threshold=100,
        value_property="refund",
    )
    backwards = Kpi(
        "backwards",
        "From close to first response",
        Unit.DURATION,
        Direction.LOWER_IS_BETTER,
        TicketEvent.FIRST_RESPONSE,
        Contribution.DURATION,
        Aggregation.MAXIMUM,
        start=TicketEvent.CLOSED,
    )
    items = [
        *TICKETS,
        attrs.evolve(TICKETS[0], id="t4", closed_at=TICKETS[0].first_response_at),
    ]
    source = stored(items)
    goals = [_goal(capped, "c", 50), _goal(backwards, "b", timedelta(hours=1))]
    for at in (None, START + timedelta(minutes=60)):
        result = source.measure(goals, at=at)
        assert result == measure(goals, items, at=at)
    assert result[("c", "u1", 0)] == Measurement(2, 200, within=2)  # as of 01:00: t1, t4
    assert source.measure(goals)[("c", "u1", 0)] == Measurement(4, 455, within=3)
    assert source.measure(goals)[("b", "u1", 0)] == Measurement(1, 0, high=0)  # t4 only
