"""forecast(): projections, pace and at-risk rows (pure, exact, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import attrs
from attrs import frozen
from hypothesis import given
from hypothesis import strategies as st

from servicegoals import (
    AVG_RESPONSE_TIME,
    CLOSED_TICKETS,
    AccountSettings,
    Cadence,
    Direction,
    Directory,
    ForecastMethod,
    Goal,
    InvalidInput,
    Kpi,
    Measurement,
    NoForecastReason,
    NotFound,
    NotificationSettings,
    RowForecast,
    Status,
    Ticket,
    Unit,
    User,
    date_range,
    evaluate,
    forecast,
    forecast_text,
    measure,
    pace_text,
)
from servicegoals.measure import CellKey
from servicegoals.testing import goals, raises, tickets
from servicegoals.worktime import CALENDAR, WorkingClock

ACCOUNT = AccountSettings()
APRIL = date_range(date(2026, 4, 1), date(2026, 4, 30), ACCOUNT)  # 30 days, from a Wednesday
HOUR = 3600 * 10**6
DAY_US = 24 * HOUR
ADA = User("ada", "Ada")
BOB = User("bob", "Bob")


def figures(row: RowForecast, *names: str) -> tuple[object, ...]:
    """Some of a row's attributes, to compare with hand-computed figures."""
    return tuple(getattr(row, name) for name in names)


def on(day: int, hour: int = 0, month: int = 4) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def closing(
    targets: dict[str, Any] | None = None,
    *,
    span: Any = APRIL,
    cadence: Cadence = Cadence.MONTHLY,
    notifications: NotificationSettings | None = None,
    pipelines: Sequence[str] = (),
    kpi: Kpi = CLOSED_TICKETS,
) -> Goal:
    targets = {"ada": 30, "bob": 30} if targets is None else targets
    return Goal.create(
        id="g",
        name="Close tickets",
        kpi=kpi,
        cadence=cadence,
        span=span,
        settings=ACCOUNT,
        contributors=[u for u in (ADA, BOB) if u.id in targets],
        targets=targets,
        pipelines=pipelines,
        notifications=notifications,
        created_at=on(1, month=1),
    )


def cells(goal: Goal, **counts: int) -> dict[CellKey, Measurement]:
    return {(goal.id, who, 0): Measurement(n) for who, n in counts.items()}


# -- test-local working clocks ------------------------------------------------------


@frozen
class Weekdays:
    """Working time is Monday to Friday, whole UTC days."""

    def working_us(self, start_us: int, end_us: int) -> int:
        found = 0
        day = start_us // DAY_US
        while day * DAY_US < end_us:
            if (day + 3) % 7 < 5:  # 1970-01-01 was a Thursday: day 0 is weekday 3
                found += max(0, min(end_us, (day + 1) * DAY_US) - max(start_us, day * DAY_US))
            day += 1
        return found


@frozen
class StopsAt:
    """Working time ends at ``end_us``: a milestone is fully worked from then on."""

    stop_us: int

    def working_us(self, start_us: int, end_us: int) -> int:
        return max(0, min(end_us, self.stop_us) - start_us)


@frozen
class Never:
    """No working time at all."""

    def working_us(self, start_us: int, end_us: int) -> int:
        return 0


@frozen
class Broken:
    """Returns whatever it is told to, to test that forecast() checks clocks."""

    answer: Any

    def working_us(self, start_us: int, end_us: int) -> Any:
        return self.answer


def test_the_clocks_implement_the_protocol() -> None:
    for clock in (CALENDAR, Weekdays(), StopsAt(0), Never()):
        assert isinstance(clock, WorkingClock)
    assert Weekdays().working_us(APRIL.start_us, APRIL.end_us) == 22 * DAY_US


# -- hand-computed examples ---------------------------------------------------------


def test_a_count_projects_by_the_elapsed_share_of_calendar_time() -> None:
    goal = closing()
    report = evaluate(goal, cells(goal, ada=12, bob=6), at=on(11))  # 10 of 30 days
    f = forecast(goal, report)
    ada = f.row("ada", 0)
    assert ada.method is ForecastMethod.ELAPSED_SHARE
    assert ada.reason is None
    assert figures(ada, "elapsed", "value", "attainment", "tickets") == (
        Fraction(1, 3),
        36,
        Fraction(6, 5),
        12,
    )
    assert figures(ada, "today_target", "pace_gap", "at_risk") == (10, 2, False)
    assert ada.percent_text == "120%"
    bob = f.row("bob", 0)
    assert figures(bob, "value", "attainment", "today_target", "pace_gap") == (
        18,
        Fraction(3, 5),
        10,
        -4,
    )
    assert bob.at_risk
    assert f.at_risk == (bob,)
    # The total pools the cells: 18 tickets, 54 projected of 60.
    total = f.total(0)
    assert figures(total, "value", "attainment", "today_target", "pace_gap") == (
        54,
        Fraction(9, 10),
        20,
        -2,
    )
    assert total.at_risk


def test_a_working_clock_projects_by_the_elapsed_share_of_working_time() -> None:
    goal = closing({"ada": 30})
    report = evaluate(goal, cells(goal, ada=12), at=on(11))
    # 1-10 April has 8 weekdays; April has 22: 12 tickets in 8/22 -> 33.
    ada = forecast(goal, report, clock=Weekdays()).row("ada", 0)
    assert figures(ada, "elapsed", "value", "attainment") == (Fraction(4, 11), 33, Fraction(11, 10))
    assert ada.today_target == Fraction(120, 11)
    # Over the weekend the share stands still, so the forecast does too.
    sunday = evaluate(goal, cells(goal, ada=12), at=on(12, 23))
    assert forecast(goal, sunday, clock=Weekdays()).row("ada", 0).value == 33


def test_at_risk_waits_for_the_minimum_share_and_follows_the_threshold() -> None:
    goal = closing({"ada": 30})
    early = forecast(goal, evaluate(goal, {}, at=on(7)))  # 6 of 30 days: 20%
    ada = early.row("ada", 0)
    assert figures(ada, "value", "attainment", "at_risk") == (0, 0, False)
    # At 25% (8 days in) the same row is at risk.
    assert forecast(goal, evaluate(goal, {}, at=on(8, 12))).row("ada", 0).at_risk
    # 27 projected of 30 is 90%: at risk below 100%, not below 90%.
    nine = cells(goal, ada=9)
    assert forecast(goal, evaluate(goal, nine, at=on(11))).row("ada", 0).at_risk
    lenient = closing({"ada": 30}, notifications=NotificationSettings(at_risk_below_percent=90))
    assert not forecast(lenient, evaluate(lenient, nine, at=on(11))).row("ada", 0).at_risk
    # A fractional threshold and minimum share are exact: 1/3 of the month is 33 1/3 %.
    exact = NotificationSettings(
        at_risk_below_percent=Fraction(181, 2), at_risk_after_percent=Fraction(100, 3)
    )
    strict = closing({"ada": 30}, notifications=exact)
    assert forecast(strict, evaluate(strict, nine, at=on(11))).row("ada", 0).at_risk
    just_before = evaluate(strict, nine, at=on(11) - timedelta(microseconds=1))
    assert not forecast(strict, just_before).row("ada", 0).at_risk


def answering(target: timedelta = timedelta(hours=4)) -> Goal:
    return closing({"ada": target}, kpi=AVG_RESPONSE_TIME)


def test_an_average_projects_its_current_value() -> None:
    goal = answering()
    fast = evaluate(goal, cells_of(goal, 3, 6 * HOUR), at=on(11))  # 2 h on average
    ada = forecast(goal, fast).row("ada", 0)
    assert ada.method is ForecastMethod.CURRENT_VALUE
    assert figures(ada, "value", "attainment", "tickets", "at_risk") == (2 * HOUR, 2, 3, False)
    # The pace of an average is the target itself; the gap is the time in hand.
    assert figures(ada, "today_target", "pace_gap") == (4 * HOUR, 2 * HOUR)
    slow = evaluate(goal, cells_of(goal, 2, 10 * HOUR), at=on(11))  # 5 h on average
    ada = forecast(goal, slow).row("ada", 0)
    assert figures(ada, "attainment", "pace_gap", "at_risk") == (Fraction(4, 5), -HOUR, True)


def cells_of(goal: Goal, count: int, total: int) -> dict[CellKey, Measurement]:
    return {(goal.id, "ada", 0): Measurement(count, total)}


def test_an_average_without_tickets_or_of_zero() -> None:
    goal = answering()
    quiet = forecast(goal, evaluate(goal, {}, at=on(20))).row("ada", 0)
    assert figures(quiet, "method", "reason", "at_risk") == (
        None,
        NoForecastReason.NO_TICKETS,
        False,
    )
    assert figures(quiet, "today_target", "pace_gap") == (4 * HOUR, None)
    instant = forecast(goal, evaluate(goal, cells_of(goal, 3, 0), at=on(20))).row("ada", 0)
    assert figures(instant, "infinite", "attainment", "at_risk") == (True, None, False)
    assert instant.percent_text == "∞"


def test_a_lower_is_better_count_uses_the_status_rules() -> None:
    reopened = Kpi("reopened", "Reopened tickets", Unit.COUNT, Direction.LOWER_IS_BETTER)
    goal = closing({"ada": 8}, kpi=reopened)
    half = on(16)  # 15 of 30 days
    two = forecast(goal, evaluate(goal, cells(goal, ada=2), at=half)).row("ada", 0)
    assert figures(two, "value", "attainment", "today_target", "pace_gap") == (4, 2, 4, 2)
    six = forecast(goal, evaluate(goal, cells(goal, ada=6), at=half)).row("ada", 0)
    assert figures(six, "value", "attainment", "pace_gap", "at_risk") == (
        12,
        Fraction(2, 3),
        -2,
        True,
    )
    none = forecast(goal, evaluate(goal, {}, at=half)).row("ada", 0)
    assert figures(none, "value", "infinite", "at_risk") == (0, True, False)


def test_goals_that_cannot_be_forecast_say_why_and_keep_their_pace() -> None:
    year = date_range(date(2026, 1, 1), date(2026, 12, 31), ACCOUNT)
    yearly = closing({"ada": 365}, span=year, cadence=Cadence.YEARLY)
    f = forecast(yearly, evaluate(yearly, cells(yearly, ada=30), at=on(2, month=2)))
    assert f.reason is NoForecastReason.YEARLY
    ada = f.row("ada", 0)
    assert figures(ada, "method", "reason", "value", "at_risk") == (None, f.reason, None, False)
    assert figures(ada, "today_target", "pace_gap") == (32, -2)  # 32 days of 365 passed
    assert ada.reason is not None
    assert ada.reason.text == "yearly goals are not forecast"
    two = closing({"ada": 30}, pipelines=["support", "billing"])
    f = forecast(two, evaluate(two, {}, at=on(11)))
    assert f.reason is NoForecastReason.MULTIPLE_PIPELINES
    assert all(r.reason is f.reason for r in (*f.rows, *f.contributor_rows, *f.milestone_rows))
    one = closing({"ada": 30}, pipelines=["support"])
    assert forecast(one, evaluate(one, {}, at=on(11))).reason is None


def test_pending_final_frozen_and_whole_goal_rows_are_never_forecast() -> None:
    two_months = date_range(date(2026, 4, 1), date(2026, 5, 31), ACCOUNT)
    goal = closing({"ada": 30, "bob": 30}, span=two_months)
    measured = {("g", who, j): Measurement(10) for who in ("ada", "bob") for j in (0, 1)}
    early = evaluate(goal, measured, at=on(11))
    f = forecast(goal, early)
    assert f.row("ada", 1).reason is NoForecastReason.PENDING
    assert f.row("ada", 1).today_target is None
    whole = f.row("ada", None)
    assert figures(whole, "reason", "today_target", "tickets") == (
        NoForecastReason.WHOLE_GOAL,
        None,
        20,
    )
    # In May, April is final.  Bob, deactivated after 5 May, has frozen rows.
    may_5 = evaluate(goal, measured, at=on(5, month=5), previous=early)
    gone = Directory([ADA, attrs.evolve(BOB, active=False)])
    may = evaluate(goal, measured, at=on(11, month=5), previous=may_5, directory=gone)
    f = forecast(goal, may)
    assert f.row("ada", 0).reason is NoForecastReason.FINAL
    assert may.row("bob", 1).frozen is not None
    assert may.row("bob", 1).status is Status.IN_PROGRESS
    assert f.row("bob", 1).reason is NoForecastReason.FROZEN
    assert f.row("bob", 1).today_target is None
    # Ada's 10 tickets in 10 of May's 31 days project to 31; Bob's frozen 10 stay
    # 10 in the total: 41 of 60.
    assert f.row("ada", 1).value == 31
    assert figures(f.total(1), "value", "attainment") == (41, Fraction(41, 60))


def test_no_elapsed_time_gives_no_forecast() -> None:
    goal = closing({"ada": 30})
    start = forecast(goal, evaluate(goal, cells(goal, ada=3), at=APRIL.start)).row("ada", 0)
    assert figures(start, "reason", "elapsed", "today_target", "pace_gap") == (
        NoForecastReason.NOTHING_ELAPSED,
        0,
        0,
        3,
    )
    # A milestone that starts on Saturday 4 April has no working time by Sunday.
    weekend = date_range(date(2026, 4, 4), date(2026, 4, 10), ACCOUNT)
    week = closing({"ada": 5}, span=weekend, cadence=Cadence.CUSTOM)
    sunday = evaluate(week, cells(week, ada=1), at=on(5, 12))
    row = forecast(week, sunday, clock=Weekdays()).row("ada", 0)
    assert figures(row, "reason", "elapsed", "today_target") == (
        NoForecastReason.NOTHING_ELAPSED,
        0,
        0,
    )
    # A milestone without any working time has no share at all: no pace either.
    never = forecast(week, sunday, clock=Never()).row("ada", 0)
    assert figures(never, "reason", "elapsed", "today_target") == (
        NoForecastReason.NOTHING_ELAPSED,
        None,
        None,
    )


def test_lookups() -> None:
    goal = closing()
    report = evaluate(goal, cells(goal, ada=12), at=on(11))
    f = forecast(goal, report)
    assert f.goal_id == "g"
    assert f.calculated_at == report.calculated_at
    assert [f.of(r) for r in report.rows] == list(f.rows)
    assert f.of(report.total(0)) == f.total(0)
    assert f.find_row("cy", 0) is None
    with raises(NotFound, "row", ("cy", 0)):
        f.row("cy", 0)


def test_plain_text_cells() -> None:
    goal = closing()
    f = forecast(goal, evaluate(goal, cells(goal, ada=12, bob=6), at=on(11)))
    assert forecast_text(f.row("ada", 0), Unit.COUNT) == "36 (120%)"
    assert pace_text(f.row("ada", 0), Unit.COUNT) == "10 (+2)"
    assert forecast_text(f.row("bob", 0), Unit.COUNT) == "18 (60%) at risk"
    assert pace_text(f.row("bob", 0), Unit.COUNT) == "10 (-4)"
    assert forecast_text(f.row("ada", None), Unit.COUNT) == "–"
    assert pace_text(f.row("ada", None), Unit.COUNT) == "–"
    shown = forecast_text(f.row("ada", 0), Unit.COUNT, amount=lambda v: f"{float(v):.1f} tickets")
    assert shown == "36.0 tickets (120%)"
    avg = answering()
    slow = forecast(avg, evaluate(avg, cells_of(avg, 2, 10 * HOUR), at=on(11))).row("ada", 0)
    assert forecast_text(slow, Unit.DURATION) == "5:00:00 (80%) at risk"
    assert pace_text(slow, Unit.DURATION) == "4:00:00 (-1:00:00)"
    quiet = forecast(avg, evaluate(avg, {}, at=on(11))).row("ada", 0)
    assert (forecast_text(quiet, Unit.DURATION), pace_text(quiet, Unit.DURATION)) == (
        "–",
        "4:00:00",
    )
    with raises(InvalidInput, "unit", "count"):
        forecast_text(quiet, "count")  # type: ignore[arg-type]


def test_bad_arguments_are_refused() -> None:
    goal = closing()
    report = evaluate(goal, {}, at=on(11))
    with raises(InvalidInput, "goal", None):
        forecast(None, report)  # type: ignore[arg-type]
    with raises(InvalidInput, "report.goal_id", "g"):
        forecast(attrs.evolve(goal, id="other"), report)
    with raises(InvalidInput, "report", None):
        forecast(goal, None)  # type: ignore[arg-type]
    with raises(InvalidInput, "clock", "calendar"):
        forecast(goal, report, clock="calendar")  # type: ignore[arg-type]
    for answer in (-1, 0.5, True, None):
        with raises(InvalidInput, "clock", answer):
            forecast(goal, report, clock=Broken(answer))
    with raises(InvalidInput, "clock", 10 * DAY_US):
        forecast(goal, report, clock=Growing())
    other_span = closing(span=date_range(date(2026, 4, 1), date(2026, 4, 29), ACCOUNT))
    with raises(InvalidInput, "report.milestones", 1):
        forecast(other_span, report)


class Growing:
    """An impossible clock: more time elapsed than the whole milestone has."""

    def working_us(self, start_us: int, end_us: int) -> int:
        return 10 * DAY_US if end_us < APRIL.end_us else DAY_US


# -- properties ----------------------------------------------------------------------

forecastable = goals(
    ACCOUNT,
    kpis=[CLOSED_TICKETS],
    cadences=[c for c in Cadence if c is not Cadence.YEARLY],
    pipelines=["support"],
    max_days=120,
)


@st.composite
def counted(draw: st.DrawFn) -> tuple[Goal, dict[CellKey, Measurement], int]:
    """A forecastable count goal with targets, measurements, and an instant in its span."""
    goal = draw(forecastable)
    goal = goal.apply_target(draw(st.integers(1, 50)))
    measured = {
        (goal.id, c, j): Measurement(draw(st.integers(0, 60)))
        for c in goal.contributor_ids
        for j in range(len(goal.milestones))
    }
    at_us = draw(st.integers(goal.span.start_us, goal.span.end_us - 1))
    return goal, measured, at_us


def at_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


@given(counted(), st.integers(0, 10**12))
def test_a_count_forecast_at_the_end_of_working_time_is_the_value(
    drawn: tuple[Goal, dict[CellKey, Measurement], int], early: int
) -> None:
    goal, measured, now_us = drawn
    report = evaluate(goal, measured, at=at_us(now_us))
    # Working time stopped at or before now: every in-progress milestone is fully worked.
    f = forecast(goal, report, clock=StopsAt(now_us - early))
    for row in report.rows:
        got = f.of(row)
        if row.status is Status.IN_PROGRESS and got.elapsed == 1:
            assert figures(got, "value", "attainment") == (row.value, row.attainment)
            assert got.today_target == row.target
        else:
            assert row.status is not Status.IN_PROGRESS or got.reason is not None


@given(counted(), st.integers(1, 10**12), st.sampled_from([CALENDAR, Weekdays()]))
def test_pace_is_monotone_in_time(
    drawn: tuple[Goal, dict[CellKey, Measurement], int], later: int, clock: WorkingClock
) -> None:
    goal, measured, now_us = drawn
    then_us = min(now_us + later, goal.span.end_us - 1)
    now = forecast(goal, evaluate(goal, measured, at=at_us(now_us)), clock=clock)
    then = forecast(goal, evaluate(goal, measured, at=at_us(then_us)), clock=clock)
    for a in now.rows:
        b = then.row(a.contributor_id, a.milestone_index)
        if a.today_target is not None and b.today_target is not None:
            assert a.today_target <= b.today_target
            assert a.pace_gap is not None
            assert b.pace_gap is not None
            assert b.pace_gap <= a.pace_gap  # the same value falls behind as time passes
            if a.value is not None and b.value is not None:
                assert b.value <= a.value  # ... and its projection shrinks


@given(counted())
def test_a_count_forecast_is_the_value_over_the_share_and_totals_add_up(
    drawn: tuple[Goal, dict[CellKey, Measurement], int],
) -> None:
    goal, measured, now_us = drawn
    report = evaluate(goal, measured, at=at_us(now_us))
    f = forecast(goal, report)
    for row in (*report.rows, *report.milestone_rows):
        got = f.of(row)
        if got.method is None:
            continue
        assert got.elapsed is not None
        assert row.value is not None
        assert 0 < got.elapsed < 1
        assert got.value == row.value / got.elapsed
        assert got.attainment == got.value / row.target
        assert got.today_target == row.target * got.elapsed
        assert got.attainment is not None
        settings = goal.notifications
        after = Fraction(settings.at_risk_after_percent, 100)
        below = Fraction(settings.at_risk_below_percent, 100)
        assert got.at_risk == (got.elapsed >= after and got.attainment < below)
    for total in f.milestone_rows:
        parts = [r for r in f.rows if r.milestone_index == total.milestone_index]
        if total.value is not None:
            assert total.value == sum(r.value or 0 for r in parts)


@given(st.data())
def test_forecasts_do_not_depend_on_ticket_order(data: st.DataObject) -> None:
    goal = data.draw(goals(ACCOUNT, pipelines=["support"], max_days=120))
    batch = data.draw(st.lists(tickets(goal), max_size=30, unique_by=lambda t: t.id))
    shuffled: list[Ticket] = data.draw(st.permutations(batch))
    now = at_us(data.draw(st.integers(goal.span.start_us, goal.span.end_us - 1)))
    clocks: list[WorkingClock] = [CALENDAR, Weekdays()]
    clock = data.draw(st.sampled_from(clocks))

    def projected(pool: list[Ticket]) -> Any:
        return forecast(goal, evaluate(goal, measure([goal], pool), at=now), clock=clock)

    assert projected(batch) == projected(shuffled)


@given(
    goals(ACCOUNT, max_days=120),
    st.data(),
    st.sampled_from([CALENDAR, Weekdays(), Never()]),
)
def test_forecast_never_divides_by_zero(
    goal: Goal, data: st.DataObject, clock: WorkingClock
) -> None:
    measured = {
        (goal.id, c, j): data.draw(st.builds(Measurement, st.integers(0, 5)).map(_timed(goal)))
        for c in goal.contributor_ids
        for j in range(len(goal.milestones))
    }
    # Milestone starts are the instants where nothing has elapsed yet.
    starts = [m.period.start for m in goal.milestones]
    anywhere = st.builds(at_us, st.integers(goal.span.start_us, goal.span.end_us))
    now = data.draw(st.sampled_from(starts) | anywhere)
    report = evaluate(goal, measured, at=now)
    f = forecast(goal, report, clock=clock)
    for row in (*f.rows, *f.contributor_rows, *f.milestone_rows):
        assert (row.method is None) != (row.reason is None)
        assert not row.at_risk or row.method is not None
        if row.method is not None:
            assert row.elapsed is not None
            assert row.elapsed > 0
        if row.elapsed == 0:
            assert row.reason in (NoForecastReason.NOTHING_ELAPSED, f.reason)


def _timed(goal: Goal) -> Any:
    def timed(m: Measurement) -> Measurement:
        if goal.kpi.unit is Unit.DURATION and m.count:
            return Measurement(m.count, m.count * HOUR)
        return m

    return timed
