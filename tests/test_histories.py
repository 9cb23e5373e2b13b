"""Ticket histories (status intervals, reopens) and clock policies.

measure() under any policy agrees with a literal re-computation on datetimes
that cuts paused intervals out of each span; example tests pin the rules.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clocks import OFFICE, OfficeHours, policies, with_history, with_policies
from servicegoals import (
    AVG_RESOLUTION_TIME,
    AVG_RESPONSE_TIME,
    CLOSED_TICKETS,
    DEFAULT_POLICY,
    AccountSettings,
    Cadence,
    ClockPolicy,
    ContributorKind,
    Directory,
    Goal,
    GoalFileError,
    InvalidInput,
    Kpi,
    Measurement,
    Reopen,
    Resolution,
    StatusInterval,
    Ticket,
    TicketEvent,
    Unit,
    User,
    date_range,
    dump_goals,
    load_goals,
    measure,
    ticket_times,
)
from servicegoals._validate import from_us, to_us
from servicegoals.clock import close_as_of
from servicegoals.errors import BadRow
from servicegoals.sources import CsvSource, InMemorySource, SqliteSource, TicketQuery
from servicegoals.sql import SqlAlchemySource
from servicegoals.testing import directories, goals, raises, tickets
from servicegoals.worktime import CALENDAR

Result = dict[tuple[str, str, int], Measurement]


# -- a literal reference ------------------------------------------------------------


def event_of(ticket: Ticket, goal: Goal, at: datetime | None) -> datetime | None:
    """The instant that places ``ticket`` for ``goal``, as of ``at``, on datetimes."""
    if goal.kpi.event is TicketEvent.FIRST_RESPONSE:
        when = ticket.first_response_at
        return None if when is None or (at is not None and when > at) else when
    closes: list[tuple[datetime, datetime | None]] = [
        (r.closed_at, r.reopened_at) for r in ticket.reopens
    ]
    if ticket.closed_at is not None:
        closes.append((ticket.closed_at, None))
    if goal.clock_policy.resolution is Resolution.FIRST_CLOSE:
        first = closes[0][0] if closes else None
        return None if first is None or (at is not None and first > at) else first
    if at is None:
        return ticket.closed_at
    # Closed at ``at`` when a close happened by then and its reopen had not.
    for close, reopen in closes:
        if close <= at and (reopen is None or reopen > at):
            return close
    return None


def duration_of(ticket: Ticket, policy: ClockPolicy, end: datetime) -> int:
    """Working µs from creation to ``end``: the clock over the unpaused pieces."""
    clock = dict(policy.team_clocks).get(ticket.team_id or "", policy.clock)
    pieces = [(to_us(ticket.created_at), to_us(end))]
    for interval in ticket.statuses:
        if interval.status not in policy.paused_statuses:
            continue
        cut_start = to_us(interval.start)
        cut_end = 2**70 if interval.end is None else to_us(interval.end)
        pieces = [
            piece
            for a, b in pieces
            for piece in ((a, min(b, cut_start)), (max(a, cut_end), b))
            if piece[0] < piece[1]
        ]
    return sum(clock.working_us(a, b) for a, b in pieces)


def reference(
    goal_list: Sequence[Goal],
    ticket_list: Sequence[Ticket],
    directory: Directory | None,
    at: datetime | None,
) -> Result:
    out: Result = {}
    for goal in goal_list:
        for c in goal.contributors:
            team = c.kind is ContributorKind.TEAM
            ids = directory.descendants(c.id) if team and directory else {c.id}
            for m in goal.milestones:
                pipes = goal.effective_pipelines(c.id, m.index)
                count = total = 0
                for t in ticket_list:
                    if (t.team_id if team else t.owner_id) not in ids:
                        continue
                    when = event_of(t, goal, at)
                    if when is None or when not in m.period:
                        continue
                    if pipes and t.pipeline not in pipes:
                        continue
                    count += 1
                    if goal.kpi.unit is Unit.DURATION:
                        total += duration_of(t, goal.clock_policy, when)
                out[(goal.id, c.id, m.index)] = Measurement(count, total)
    return out


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[Goal], list[Ticket], Directory | None, datetime | None]:
    directory = draw(st.none() | directories().filter(lambda d: bool(d.users or d.teams)))
    plain = goals(AccountSettings(), directory=directory, max_days=60)
    goal_list = draw(
        st.lists(plain.flatmap(with_policies), min_size=1, max_size=3, unique_by=lambda g: g.id)
    )
    aimed = st.one_of(
        *(tickets(g, directory=directory, max_delay=timedelta(days=10)) for g in goal_list)
    )
    plain_tickets = draw(st.lists(aimed, min_size=1, max_size=15, unique_by=lambda t: t.id))
    ticket_list = [draw(with_history(t)) if draw(st.booleans()) else t for t in plain_tickets]
    span = goal_list[0].span
    anywhere = st.integers(span.start_us - 10**11, span.end_us + 10**11)
    at = draw(st.none() | (anywhere | near_events(ticket_list)).map(from_us))
    return goal_list, ticket_list, directory, at


def near_events(ticket_list: Sequence[Ticket]) -> st.SearchStrategy[int]:
    """An instant at, or a microsecond beside, one of the tickets' events."""
    events = [
        e
        for t in ticket_list
        for e in (t.first_response_us, t.closed_us, *(x for pair in t.reopens_us for x in pair))
        if e is not None
    ]
    if not events:
        return st.nothing()
    return st.sampled_from(events).flatmap(lambda e: st.sampled_from([e - 1, e, e + 1]))


@given(scenarios())
def test_measure_under_any_policy_equals_a_literal_recomputation(
    scenario: tuple[list[Goal], list[Ticket], Directory | None, datetime | None],
) -> None:
    goal_list, ticket_list, directory, at = scenario
    expected = reference(goal_list, ticket_list, directory, at)
    assert measure(goal_list, ticket_list, directory=directory, at=at) == expected
    # The narrow query keeps every ticket that counts, earlier closes included.
    query = TicketQuery.for_goals(goal_list, directory)
    kept = InMemorySource(ticket_list).tickets(query)
    assert measure(goal_list, kept, directory=directory, at=at) == expected


@given(tickets().flatmap(with_history), policies(), st.data())
def test_ticket_times_agree_with_the_reference(
    ticket: Ticket, policy: ClockPolicy, data: st.DataObject
) -> None:
    near = near_events([ticket]).map(from_us)
    at = data.draw(st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)), near, near))
    times = ticket_times(ticket, policy, at=at)
    closes = attrs.evolve(goal(AVG_RESOLUTION_TIME), clock_policy=policy)
    responses = attrs.evolve(goal(AVG_RESPONSE_TIME), clock_policy=policy)
    assert times.resolved_at == event_of(ticket, closes, at)
    assert times.responded_at == event_of(ticket, responses, at)
    for when, working, calendar in (
        (times.resolved_at, times.resolution, times.resolution_calendar),
        (times.responded_at, times.response, times.response_calendar),
    ):
        if when is None:
            assert working is None
            assert calendar is None
            continue
        assert working == timedelta(microseconds=duration_of(ticket, policy, when))
        assert calendar == when - ticket.created_at
        assert working <= calendar  # a clock never counts more than wall-clock time


@given(tickets())
def test_the_default_policy_times_tickets_as_before(ticket: Ticket) -> None:
    times = ticket_times(ticket)
    for when, working in (
        (ticket.closed_at, times.resolution),
        (ticket.first_response_at, times.response),
    ):
        assert working == (None if when is None else when - ticket.created_at)


# -- examples -------------------------------------------------------------------------

ACCOUNT = AccountSettings()
Q1 = date_range(date(2026, 1, 1), date(2026, 3, 31), ACCOUNT)
HOUR = timedelta(hours=1)


def on(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def goal(kpi: Kpi = CLOSED_TICKETS, policy: ClockPolicy = DEFAULT_POLICY) -> Goal:
    return Goal.create(
        id="g",
        name="Q1",
        kpi=kpi,
        cadence=Cadence.MONTHLY,
        span=Q1,
        settings=ACCOUNT,
        contributors=[User("ada", "Ada")],
        clock_policy=policy,
    )


REOPENED = Ticket(
    "t1",
    on(1, 5),
    "support",
    owner_id="ada",
    closed_at=on(2, 3),
    reopens=[Reopen(on(1, 10), on(1, 12))],
)
FIRST = ClockPolicy(resolution=Resolution.FIRST_CLOSE)


def months(result: Result) -> list[int]:
    return [result[("g", "ada", j)].count for j in range(3)]


def test_a_reopened_ticket_moves_to_the_milestone_of_its_final_close() -> None:
    assert months(measure([goal()], [REOPENED])) == [0, 1, 0]
    assert months(measure([goal(policy=FIRST)], [REOPENED])) == [1, 0, 0]


def test_as_of_an_instant_a_reopened_ticket_is_open_until_closed_again() -> None:
    assert months(measure([goal()], [REOPENED], at=on(1, 11))) == [1, 0, 0]  # closed then
    assert months(measure([goal()], [REOPENED], at=on(1, 20))) == [0, 0, 0]  # reopened
    assert months(measure([goal()], [REOPENED], at=on(2, 3))) == [0, 1, 0]
    assert months(measure([goal(policy=FIRST)], [REOPENED], at=on(1, 20))) == [1, 0, 0]
    assert close_as_of(REOPENED, Resolution.FINAL_CLOSE, to_us(on(1, 12))) is not None
    assert close_as_of(REOPENED, Resolution.FINAL_CLOSE, to_us(on(1, 12)) + 1) is None


PAUSED = Ticket(
    "t2",
    on(1, 5, 10),
    "support",
    owner_id="ada",
    first_response_at=on(1, 5, 16),
    closed_at=on(1, 6, 11),
    statuses=[
        StatusInterval("waiting on customer", on(1, 5, 11), on(1, 5, 15)),
        StatusInterval("open", on(1, 5, 15), on(1, 6, 11)),
    ],
)
WAITING = ClockPolicy(paused_statuses={"waiting on customer"})


def test_paused_statuses_stop_the_clock() -> None:
    times = ticket_times(PAUSED, WAITING)
    assert (times.response, times.response_calendar) == (2 * HOUR, 6 * HOUR)
    assert (times.resolution, times.resolution_calendar) == (21 * HOUR, 25 * HOUR)
    result = measure([goal(AVG_RESOLUTION_TIME, WAITING)], [PAUSED])
    assert result[("g", "ada", 0)] == Measurement(1, 21 * 3600 * 10**6)


def test_working_time_clocks_count_only_working_time() -> None:
    office = ClockPolicy(OFFICE, paused_statuses={"waiting on customer"})
    times = ticket_times(PAUSED, office)
    # 10-11 and 15-16 on the 5th: 2 h; to 11:00 on the 6th: 1 + 2 + 2 = 5 h.
    assert (times.response, times.resolution) == (2 * HOUR, 5 * HOUR)
    assert ticket_times(PAUSED, ClockPolicy(OFFICE)).resolution == 9 * HOUR
    by_team = ClockPolicy(team_clocks={"night": OFFICE})
    at_night = attrs.evolve(PAUSED, team_id="night")
    assert ticket_times(at_night, by_team).resolution == 9 * HOUR
    assert ticket_times(PAUSED, by_team).resolution == 25 * HOUR


def test_a_pause_still_running_stops_the_clock_to_the_event() -> None:
    ticket = Ticket(
        "t3",
        on(1, 5, 10),
        "s",
        owner_id="ada",
        closed_at=on(1, 5, 13),
        statuses=[StatusInterval("waiting on customer", on(1, 5, 12))],
    )
    assert ticket_times(ticket, WAITING).resolution == 2 * HOUR


def test_the_default_policy_ignores_statuses() -> None:
    assert ticket_times(PAUSED).resolution == 25 * HOUR
    assert ClockPolicy(CALENDAR, (), Resolution.FINAL_CLOSE, {}) == DEFAULT_POLICY
    assert goal().clock_policy == DEFAULT_POLICY
    assert ClockPolicy(OfficeHours()) == ClockPolicy(OFFICE)


def test_tickets_without_history_are_unchanged() -> None:
    plain = Ticket("t", on(1, 1), "s", closed_at=on(1, 2))
    assert plain.statuses == ()
    assert plain.reopens == ()
    assert not plain.has_history
    assert plain.first_closed_us == plain.closed_us
    assert REOPENED.has_history
    assert REOPENED.first_closed_us == to_us(on(1, 10))


def bad(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "t",
        "created_at": on(1, 5),
        "pipeline": "s",
        "closed_at": on(2, 1),
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"statuses": [StatusInterval("hold", on(1, 7), on(1, 6))]}, "statuses[0].end", "left"),
        (
            {
                "statuses": [
                    StatusInterval("hold", on(1, 6), on(1, 9)),
                    StatusInterval("waiting", on(1, 8), on(1, 10)),
                ]
            },
            "statuses[1].start",
            "overlaps",
        ),
        (
            {
                "statuses": [
                    StatusInterval("waiting", on(1, 8), on(1, 10)),
                    StatusInterval("hold", on(1, 6)),
                ]
            },
            "statuses[0].start",
            "overlaps",
        ),
        ({"statuses": [StatusInterval("hold", on(1, 4))]}, "statuses[0].start", "before it was"),
        ({"reopens": [Reopen(on(1, 9), on(1, 8))]}, "reopens[0].reopened_at", "reopened before"),
        (
            {"reopens": [Reopen(on(1, 9), on(1, 10)), Reopen(on(1, 8), on(1, 11))]},
            "reopens[1].closed_at",
            "out of order",
        ),
        ({"reopens": [Reopen(on(1, 4), on(1, 6))]}, "reopens[0].closed_at", "out of order"),
        ({"reopens": [Reopen(on(1, 9), on(2, 2))]}, "closed_at", "last reopen"),
        ({"reopens": "soon"}, "reopens", "sequence"),
        ({"statuses": [("hold", on(1, 6), None)]}, "statuses[0]", "StatusInterval"),
    ],
)
def test_bad_histories_are_located_one_line_errors(
    changes: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        Ticket(**bad(**changes))  # type: ignore[arg-type]
    assert raised.value.field == field
    assert reason in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: StatusInterval("hold", datetime(2026, 1, 1)), "start"),
        (lambda: StatusInterval("hold", on(1, 1), datetime(2026, 1, 2)), "end"),
        (lambda: StatusInterval("", on(1, 1)), "status"),
        (lambda: Reopen(datetime(2026, 1, 1), on(1, 2)), "closed_at"),
        (lambda: Reopen(on(1, 1), datetime(2026, 1, 2)), "reopened_at"),
        (lambda: ClockPolicy(clock="calendar"), "clock"),  # type: ignore[arg-type]
        (lambda: ClockPolicy(paused_statuses="hold"), "paused_statuses"),
        (lambda: ClockPolicy(resolution="final_close"), "resolution"),  # type: ignore[arg-type]
        (lambda: ClockPolicy(team_clocks={"t": 3}), "team_clocks.t"),
        (lambda: ticket_times(REOPENED, at=datetime(2026, 1, 1)), "at"),
        (lambda: ticket_times(REOPENED, "policy"), "policy"),  # type: ignore[arg-type]
        (lambda: goal(policy="default"), "clock_policy"),  # type: ignore[arg-type]
    ],
)
def test_bad_parts_are_refused(make: object, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        make()  # type: ignore[operator]
    assert raised.value.field == field


# -- goal files -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_clock_policies_round_trip_through_goal_files(tmp_path: Path, suffix: str) -> None:
    policy = ClockPolicy(paused_statuses={"on hold", "waiting"}, resolution=FIRST.resolution)
    written = [goal(AVG_RESOLUTION_TIME, policy), attrs.evolve(goal(), id="plain")]
    dump_goals(written, tmp_path / f"goals{suffix}")
    text = (tmp_path / f"goals{suffix}").read_text()
    assert text.count("paused_statuses") == 1  # the default policy writes nothing
    assert load_goals(tmp_path / f"goals{suffix}") == tuple(written)


def test_only_schedules_are_written_as_clocks(tmp_path: Path) -> None:
    # OFFICE is a test clock of our own, not a Schedule: it has no plain-data form.
    with pytest.raises(InvalidInput, match="only a Schedule"):
        dump_goals([goal(policy=ClockPolicy(OFFICE))], tmp_path / "goals.toml")
    assert not (tmp_path / "goals.toml").exists()


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        ('resolution = "last"', "goals[0].clock.resolution", "last"),
        ('paused_statuses = "hold"', "goals[0].clock.paused_statuses", "hold"),
        ('paused_statuses = [""]', "goals[0].clock.paused_statuses", ""),
        ('schedul = "office"', "goals[0].clock.schedul", "schedul"),
    ],
)
def test_bad_clock_tables_are_located(tmp_path: Path, line: str, field: str, value: str) -> None:
    path = tmp_path / "goals.toml"
    dump_goals([goal(AVG_RESOLUTION_TIME, WAITING)], path)
    written = 'paused_statuses = ["waiting on customer"]\nresolution = "final_close"'
    assert written in path.read_text()
    text = path.read_text().replace(written, line)
    path.write_text(text)
    with raises(GoalFileError, field, value):
        load_goals(path)


# -- CSV history files ------------------------------------------------------------------


@settings(max_examples=25)
@given(st.lists(tickets().flatmap(with_history), max_size=6, unique_by=lambda t: t.id))
def test_csv_history_files_round_trip(items: list[Ticket]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = CsvSource.write(folder / "t.csv", items, history=folder / "h.csv")
        assert list(source.tickets()) == items
        assert [t.statuses_us for t in source.tickets()] == [t.statuses_us for t in items]


def history_file(tmp_path: Path, *rows: str) -> CsvSource:
    bare = [attrs.evolve(t, statuses=(), reopens=()) for t in (REOPENED, PAUSED)]
    CsvSource.write(tmp_path / "t.csv", bare)
    (tmp_path / "h.csv").write_text("ticket_id,kind,status,start,end\n" + "".join(rows))
    return CsvSource(tmp_path / "t.csv", history=tmp_path / "h.csv")


def test_a_history_file_gives_tickets_their_history(tmp_path: Path) -> None:
    source = history_file(
        tmp_path,
        "t1,reopen,,2026-01-10T12:00:00Z,2026-01-12T12:00:00Z\n",
        "t2,status,waiting on customer,2026-01-05T11:00:00Z,2026-01-05T15:00:00Z\n",
        "t2,status,open,2026-01-05T15:00:00Z,2026-01-06T11:00:00Z\n",
    )
    assert list(source.tickets()) == [REOPENED, PAUSED]


@pytest.mark.parametrize(
    ("row", "place", "column", "reason"),
    [
        ("t1,reopen,,2026-01-10T12:00:00Z,\n", "line 2", "end", "reopen instant"),
        ("t1,pause,,2026-01-10T12:00:00Z,\n", "line 2", "kind", "expected 'status'"),
        ("t1,status,hold,2026-01-10T12:00:00,\n", "line 2", "start", "naive"),
        ("t1,status,,2026-01-10T12:00:00Z,\n", "line 2", "status", "non-empty"),
        ("t9,status,hold,2026-01-10T12:00:00Z,\n", "line 2", "ticket_id", "no such ticket"),
        (
            "t1,reopen,,2026-01-10T12:00:00Z,2026-01-09T12:00:00Z\n",
            "ticket 't1' (line 2)",
            "reopens[0].reopened_at",
            "reopened before",
        ),
    ],
)
def test_bad_history_rows_are_located(
    tmp_path: Path, row: str, place: str, column: str, reason: str
) -> None:
    source = history_file(tmp_path, row)
    with pytest.raises(BadRow) as raised:
        list(source.tickets())
    error = raised.value
    assert (error.source, error.place, error.column) == (str(tmp_path / "h.csv"), place, column)
    assert reason in error.reason
    skipping = CsvSource(tmp_path / "t.csv", history=tmp_path / "h.csv", on_error="skip")
    # A row that breaks its ticket skips the ticket; other bad rows only themselves.
    assert len(list(skipping.tickets())) == (1 if place.startswith("ticket") else 2)
    assert skipping.skipped_count == 1


def test_history_needs_a_history_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="history file"):
        CsvSource.write(tmp_path / "t.csv", [REOPENED])
    assert not (tmp_path / "t.csv").exists()
    (tmp_path / "h.csv").write_text("ticket_id,kind,start\n")
    CsvSource.write(tmp_path / "t.csv", [Ticket("t", on(1, 1), "s")])
    with pytest.raises(BadRow, match="status, end"):
        CsvSource(tmp_path / "t.csv", history=tmp_path / "h.csv")


# -- SQL tables ---------------------------------------------------------------------------


def test_sqlite_keeps_histories_and_reads_old_databases(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as connection:  # a database made before histories
        connection.execute(
            "CREATE TABLE tickets (id TEXT PRIMARY KEY, created_at INTEGER, pipeline TEXT, "
            "owner_id TEXT, team_id TEXT, first_response_at INTEGER, closed_at INTEGER)"
        )
    connection.close()
    source = SqliteSource(old)
    bare = attrs.evolve(PAUSED, statuses=())
    source.add_tickets([bare])
    assert list(source.tickets()) == [bare]
    source.add_tickets([REOPENED, PAUSED], replace=True)  # adds the history table
    assert sorted(source.tickets(), key=lambda t: t.id) == [REOPENED, PAUSED]
    source.add_tickets([bare], replace=True)  # a replaced ticket's history goes too
    assert sorted(source.tickets(), key=lambda t: t.id) == [REOPENED, bare]
    # With histories the source measures by streaming, earlier closes included.
    first = goal(policy=FIRST)
    assert source.measure([first]) == measure([first], [REOPENED, bare])
    expected = measure([goal()], [REOPENED, bare], at=on(1, 11))
    assert source.measure([goal()], at=on(1, 11)) == expected
    assert expected[("g", "ada", 0)].count == 2


def test_sqlalchemy_keeps_histories(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    with SqlAlchemySource.create(url) as source:
        source.add_tickets([REOPENED, PAUSED])
        assert sorted(source.tickets(), key=lambda t: t.id) == [REOPENED, PAUSED]
        bare = attrs.evolve(PAUSED, statuses=())
        source.add_tickets([bare], replace=True)
        assert sorted(source.tickets(), key=lambda t: t.id) == [REOPENED, bare]
        first = goal(policy=FIRST)
        query = TicketQuery.for_goals([first])
        assert sorted(t.id for t in source.tickets(query)) == ["t1", "t2"]
        assert source.measure([first]) == measure([first], [REOPENED, bare])
