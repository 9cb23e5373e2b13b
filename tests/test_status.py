"""The status calculator: the rules of docs/progress.md, worked examples and properties."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicegoals import (
    AVG_RESOLUTION_TIME,
    AVG_RESPONSE_TIME,
    CLOSED_TICKETS,
    AccountSettings,
    Cadence,
    Direction,
    Directory,
    Goal,
    GoalReport,
    InvalidInput,
    Kpi,
    Measurement,
    NotFound,
    Period,
    Progress,
    Status,
    Target,
    Team,
    Ticket,
    Unit,
    User,
    date_range,
    evaluate,
    measure,
    score,
)
from servicegoals.testing import goals

UTC_ACCOUNT = AccountSettings()
Q1 = date_range(date(2026, 1, 1), date(2026, 3, 31), UTC_ACCOUNT)
HOUR = 3_600_000_000


def day(month: int, d: int, hour: int = 0) -> datetime:
    return datetime(2026, month, d, hour, tzinfo=UTC)


def q1_goal(kpi: Kpi = CLOSED_TICKETS, **kwargs: object) -> Goal:
    fields: dict[str, object] = {
        "id": "g",
        "name": "Q1",
        "kpi": kpi,
        "cadence": Cadence.MONTHLY,
        "span": Q1,
        "settings": UTC_ACCOUNT,
        "contributors": [User("u1", "Ada")],
    }
    fields.update(kwargs)
    return Goal.create(**fields)  # type: ignore[arg-type]


def cells(
    goal_id: str, by_contributor: dict[str, list[Measurement]]
) -> dict[tuple[str, str, int], Measurement]:
    return {(goal_id, cid, j): m for cid, ms in by_contributor.items() for j, m in enumerate(ms)}


# -- worked examples -----------------------------------------------------------------


def test_a_worked_monthly_closed_tickets_goal() -> None:
    goal = q1_goal(
        contributors=[User("u1", "Ada"), User("u2", "Bob")], targets={"u1": 10, "u2": 10}
    )
    measured = cells(
        "g",
        {
            "u1": [Measurement(10), Measurement(12), Measurement(3)],
            "u2": [Measurement(7), Measurement(0), Measurement(0)],
        },
    )
    report = evaluate(goal, measured, at=day(3, 15))
    u1 = [report.row("u1", j) for j in range(3)]
    assert [r.status for r in u1] == [Status.ACHIEVED, Status.EXCEEDED, Status.IN_PROGRESS]
    assert [r.attainment for r in u1] == [1, Fraction(6, 5), Fraction(3, 10)]
    assert [r.percent_text for r in u1] == ["100%", "120%", "30%"]
    assert [r.value for r in u1] == [10, 12, 3]
    u2 = [report.row("u2", j) for j in range(3)]
    assert [r.status for r in u2] == [Status.MISSED, Status.MISSED, Status.IN_PROGRESS]
    assert [r.percent_text for r in u2] == ["70%", "0%", "0%"]

    whole = report.whole_goal("u1")
    assert (whole.target, whole.value, whole.attainment) == (30, Fraction(25), Fraction(5, 6))
    assert whole.status is Status.IN_PROGRESS
    january = report.total(0)
    assert (january.target, january.value, january.status) == (20, Fraction(17), Status.MISSED)
    assert report.total(1).attainment == Fraction(12, 20)

    before = evaluate(goal, measured, at=day(1, 1) - timedelta(microseconds=1))
    assert {r.status for r in before.rows + before.contributor_rows + before.milestone_rows} == {
        Status.PENDING
    }
    after = evaluate(goal, measured, at=Q1.end)
    assert after.row("u1", 2).status is Status.MISSED
    assert after.whole_goal("u1").status is Status.MISSED
    assert after.whole_goal("u2").attainment == Fraction(7, 30)


def test_a_pooled_average_differs_from_the_mean_of_monthly_averages() -> None:
    goal = q1_goal(
        AVG_RESPONSE_TIME,
        span=date_range(date(2026, 1, 1), date(2026, 2, 28), UTC_ACCOUNT),
        targets={"u1": timedelta(hours=4)},
    )
    # January: one answer in 2 h; February: nine answers in 6 h on average.
    measured = cells("g", {"u1": [Measurement(1, 2 * HOUR), Measurement(9, 54 * HOUR)]})
    report = evaluate(goal, measured, at=day(3, 1))
    jan, feb = report.rows
    assert (jan.value, jan.attainment, jan.status) == (
        Fraction(2 * HOUR),
        Fraction(2),
        Status.EXCEEDED,
    )
    assert (feb.value, feb.attainment, feb.status) == (
        Fraction(6 * HOUR),
        Fraction(2, 3),
        Status.MISSED,
    )
    # The mean of the monthly averages is 4 h, exactly the target, but ten
    # answers took 56 h: the pooled average is 5.6 h, against 40 h allowed.
    whole = report.whole_goal("u1")
    assert whole.value == Fraction(56 * HOUR, 10)
    assert whole.target == 4 * HOUR
    assert whole.attainment == Fraction(40, 56)
    assert whole.status is Status.MISSED


def test_pooled_averages_weigh_each_milestones_target_by_its_tickets() -> None:
    goal = q1_goal(
        AVG_RESOLUTION_TIME,
        targets={"u1": [timedelta(hours=2), timedelta(hours=6), timedelta(hours=1)]},
    )
    # Allowed: 2 h x 3 + 6 h x 1 = 12 h (March has no tickets); used: 9 h + 2 h.
    measured = cells("g", {"u1": [Measurement(3, 9 * HOUR), Measurement(1, 2 * HOUR)]})
    whole = evaluate(goal, measured, at=day(4, 1)).whole_goal("u1")
    assert whole.attainment == Fraction(12, 11)
    assert whole.target == 3 * HOUR  # 12 h allowed over 4 tickets
    assert whole.value == Fraction(11 * HOUR, 4)
    assert whole.status is Status.EXCEEDED


def test_team_attribution_through_a_child_team() -> None:
    directory = Directory(
        users=[User("u1", "Ada", team_ids={"tier2"})],
        teams=[Team("support", "Support"), Team("tier2", "Tier 2", parent_id="support")],
    )
    goal = q1_goal(contributors=[Team("support", "Support")], targets={"support": 2})
    tickets = [
        Ticket("t1", day(1, 2), "s", team_id="tier2", closed_at=day(1, 3)),
        Ticket("t2", day(1, 2), "s", team_id="support", closed_at=day(1, 4)),
        Ticket("t3", day(1, 2), "s", team_id="other", closed_at=day(1, 4)),
    ]
    measured = measure([goal], tickets, directory=directory)
    report = evaluate(goal, measured, at=day(2, 1), directory=directory)
    assert report.row("support", 0).measurement == Measurement(2)
    assert report.row("support", 0).status is Status.ACHIEVED


def test_a_per_cell_pipeline() -> None:
    goal = q1_goal(
        pipelines={"support", "billing"},
        targets={"u1": [Target(1, pipeline="billing"), 1, 1]},
    )
    tickets = [
        Ticket("t1", day(1, 2), "support", owner_id="u1", closed_at=day(1, 3)),
        Ticket("t2", day(2, 2), "support", owner_id="u1", closed_at=day(2, 3)),
    ]
    report = evaluate(goal, measure([goal], tickets), at=day(4, 1))
    # January counts billing only; February counts both of the goal's pipelines.
    assert [r.status for r in report.rows] == [Status.MISSED, Status.ACHIEVED, Status.MISSED]


def test_a_zero_average_is_infinitely_good() -> None:
    goal = q1_goal(AVG_RESPONSE_TIME, targets={"u1": timedelta(minutes=30)})
    measured = cells("g", {"u1": [Measurement(3, 0), Measurement(2, 0)]})
    report = evaluate(goal, measured, at=day(2, 10))
    jan, feb, mar = report.rows
    assert (jan.status, jan.attainment, jan.infinite) == (Status.EXCEEDED, None, True)
    assert (jan.value, jan.percent, jan.percent_text) == (Fraction(0), None, "∞")
    assert (feb.status, feb.infinite) == (Status.IN_PROGRESS, True)
    assert (mar.status, mar.infinite, mar.percent_text) == (Status.PENDING, False, "–")
    assert report.total(0).infinite
    assert report.whole_goal("u1").infinite
    assert report.whole_goal("u1").status is Status.IN_PROGRESS


def test_no_tickets_means_missed() -> None:
    counted = evaluate(q1_goal(targets={"u1": 5}), {}, at=day(4, 1))
    assert {(r.status, r.attainment, r.percent_text) for r in counted.rows} == {
        (Status.MISSED, Fraction(0), "0%")
    }
    timed = evaluate(q1_goal(AVG_RESPONSE_TIME, targets={"u1": timedelta(hours=1)}), {}, at=Q1.end)
    row = timed.row("u1", 0)
    assert (row.status, row.value, row.attainment, row.infinite) == (
        Status.MISSED,
        None,
        None,
        False,
    )
    assert row.percent_text == "–"
    assert timed.whole_goal("u1").target == HOUR


def test_a_missing_measurement_cell_counts_as_no_tickets() -> None:
    goal = q1_goal(targets={"u1": 5})
    with_zero = evaluate(goal, measure([goal], []), at=day(2, 10))
    assert evaluate(goal, {}, at=day(2, 10)) == with_zero


def test_rows_without_a_target_have_no_row_and_roll_ups_span_the_targeted_ones() -> None:
    goal = q1_goal(
        contributors=[User("u1", "Ada"), User("u2", "Bob")],
        targets={"u1": [None, 5, None], "u2": None},
    )
    report = evaluate(goal, cells("g", {"u1": [Measurement(9), Measurement(6)]}), at=day(1, 20))
    assert [(r.contributor_id, r.milestone_index) for r in report.rows] == [("u1", 1)]
    assert report.find_row("u1", 0) is None
    with pytest.raises(NotFound):
        report.whole_goal("u2")
    assert [r.milestone_index for r in report.milestone_rows] == [1]
    # The whole goal is pending until February starts and final when it ends.
    assert report.whole_goal("u1").status is Status.PENDING
    assert report.whole_goal("u1").measurement == Measurement(6)
    march = evaluate(goal, cells("g", {"u1": [Measurement(9), Measurement(6)]}), at=day(3, 2))
    assert march.whole_goal("u1").status is Status.EXCEEDED


def test_display_percent_rounds_down() -> None:
    goal = q1_goal(cadence=Cadence.CUSTOM, targets={"u1": 1000})

    def shown(count: int) -> str:
        return evaluate(goal, {("g", "u1", 0): Measurement(count)}, at=Q1.end).rows[0].percent_text

    assert (shown(999), shown(1000), shown(1009), shown(1010)) == ("99%", "100%", "100%", "101%")
    three = q1_goal(cadence=Cadence.CUSTOM, targets={"u1": 3})
    row = evaluate(three, {("g", "u1", 0): Measurement(2)}, at=Q1.end).rows[0]
    assert (row.percent, row.percent_text) == (Fraction(200, 3), "66%")


def test_other_directions_are_scored_by_the_same_rules() -> None:
    complaints = Kpi("complaints", "Complaints", Unit.COUNT, Direction.LOWER_IS_BETTER)
    assert score(complaints, [(4, Measurement(2))]).attainment == 2
    assert score(complaints, [(4, Measurement(0))]).infinite
    uptime = Kpi("talk_time", "Talk time", Unit.DURATION, Direction.HIGHER_IS_BETTER)
    assert score(uptime, [(10, Measurement(2, 30))]).attainment == Fraction(30, 20)
    assert score(uptime, [(10, Measurement(2, 0))]).attainment == 0


# -- the report and its helpers --------------------------------------------------------


def test_report_helpers_find_rows_and_milestones() -> None:
    goal = q1_goal(contributors=[User("u1", "Ada"), Team("t1", "Support")], targets={"u1": 1})
    report = evaluate(goal, {}, at=day(2, 1))
    assert report.calculated_at == day(2, 1)
    assert report.row("u1", 1) is report.find_row("u1", 1)
    assert report.milestone_at(day(2, 28, 23)).label == "2026-02"
    assert report.milestone_at(Q1.start).index == 0
    assert report.row_at("u1", day(3, 31, 23)) is report.row("u1", 2)
    assert report.total_at(day(1, 5)) is report.total(0)
    assert report.rows_of("u1") == report.rows
    assert report.rows_of("t1") == ()
    assert report.whole_goal("u1").is_whole_goal
    assert report.total(2).is_total
    with pytest.raises(NotFound, match=r"^row: .*\('t1', 0\)"):
        report.row("t1", 0)
    with pytest.raises(NotFound, match=r"^row: .*\('t1', None\)"):
        report.whole_goal("t1")
    with pytest.raises(NotFound, match="instant"):
        report.milestone_at(Q1.end)
    with pytest.raises(NotFound, match="instant"):
        report.milestone_at(Q1.start - timedelta(microseconds=1))
    with pytest.raises(InvalidInput, match="instant"):
        report.milestone_at(datetime(2026, 2, 1))  # naive


def test_a_report_rejects_rows_that_do_not_fit() -> None:
    report = evaluate(q1_goal(targets={"u1": 1}), {}, at=day(2, 1))
    row = report.row("u1", 0)
    fields = (report.goal_id, report.calculated_at, report.milestones)
    with pytest.raises(InvalidInput, match="duplicate"):
        GoalReport(*fields, [row, row], [], [])
    with pytest.raises(InvalidInput, match="wrong kind"):
        GoalReport(*fields, [], [row], [])
    with pytest.raises(InvalidInput, match="calculated_at"):
        GoalReport(report.goal_id, datetime(2026, 2, 1), report.milestones, [], [], [])
    rebuilt = GoalReport(*fields, report.rows, report.contributor_rows, report.milestone_rows)
    assert rebuilt == report
    assert rebuilt.total(1) == report.total(1)


# -- validation ----------------------------------------------------------------------


def test_bad_calls_are_rejected_naming_the_field() -> None:
    goal = q1_goal(targets={"u1": 1})
    report = evaluate(goal, {}, at=day(2, 1))
    other = q1_goal(id="other", targets={"u1": 1})
    with pytest.raises(InvalidInput, match=r"^at: naive"):
        evaluate(goal, {}, at=datetime(2026, 2, 1))
    with pytest.raises(InvalidInput, match=r"^at: before the previous"):
        evaluate(goal, {}, at=day(1, 31), previous=report)
    with pytest.raises(InvalidInput, match=r"^previous\.goal_id"):
        evaluate(other, {}, at=day(2, 2), previous=report)
    weekly = q1_goal(cadence=Cadence.WEEKLY, targets={"u1": 1})
    with pytest.raises(InvalidInput, match=r"^previous\.milestones"):
        evaluate(weekly, {}, at=day(2, 2), previous=report)
    with pytest.raises(InvalidInput, match=r"^previous"):
        evaluate(goal, {}, at=day(2, 2), previous="report")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"^goal"):
        evaluate("g", {}, at=day(2, 2))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"^measurements:"):
        evaluate(goal, [], at=day(2, 2))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"^measurements\[\('g', 'u1', 0\)\]"):
        evaluate(goal, {("g", "u1", 0): (1, 0)}, at=day(2, 2))  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match=r"^directory"):
        evaluate(goal, {}, at=day(2, 2), directory={})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"^measurements\[.*without tickets"):
        evaluate(goal, {("g", "u1", 0): Measurement(0, 5)}, at=day(2, 2))
    # Evaluating again at the previous report's own time is allowed.
    again = evaluate(goal, {}, at=day(2, 1), previous=report)
    assert [r.status for r in again.rows] == [r.status for r in report.rows]


def test_score_rejects_what_it_cannot_pool() -> None:
    with pytest.raises(InvalidInput, match=r"^cells"):
        score(CLOSED_TICKETS, [])
    with pytest.raises(InvalidInput, match=r"^cells\[0\]\.target"):
        score(CLOSED_TICKETS, [(0, Measurement(1))])
    with pytest.raises(InvalidInput, match=r"^cells\[1\]\.measurement"):
        score(CLOSED_TICKETS, [(1, Measurement(1)), (1, 1)])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match=r"^kpi"):
        score("closed_tickets", [(1, Measurement(1))])  # type: ignore[arg-type]


# -- properties ----------------------------------------------------------------------

ACCOUNTS = (UTC_ACCOUNT, AccountSettings("America/New_York", 4), AccountSettings("Asia/Kathmandu"))
_RANK = {Status.PENDING: 0, Status.IN_PROGRESS: 1}
_DAY_US = 86_400_000_000
_US = timedelta(microseconds=1)


def rank(status: Status) -> int:
    return _RANK.get(status, 2)


@st.composite
def measured_goals(draw: st.DrawFn) -> tuple[Goal, dict[tuple[str, str, int], Measurement]]:
    """A goal and a measurement for some of its cells, often right on the target."""
    goal = draw(goals(draw(st.sampled_from(ACCOUNTS)), max_days=200, max_contributors=3))
    duration = goal.kpi.unit is Unit.DURATION
    out: dict[tuple[str, str, int], Measurement] = {}
    for c, targets in zip(goal.contributors, goal.targets, strict=True):
        for m, t in zip(goal.milestones, targets, strict=True):
            if draw(st.integers(0, 9)) == 0:
                continue  # a missing cell
            count = draw(st.integers(0, 12))
            if not duration:
                if t is not None and draw(st.booleans()):
                    count = t.value + draw(st.integers(-1, 1))
                out[(goal.id, c.id, m.index)] = Measurement(max(count, 0))
                continue
            total = draw(st.integers(0, 10 * _DAY_US)) * (count > 0)
            if t is not None and count and draw(st.booleans()):
                total = max(t.value * count + draw(st.integers(-1, 1)), 0)
            out[(goal.id, c.id, m.index)] = Measurement(count, total)
    return goal, out


def instants(goal: Goal) -> st.SearchStrategy[datetime]:
    """Instants around the span, often exactly on a milestone boundary."""
    bounds = [m.period.start for m in goal.milestones] + [goal.span.end]
    near = st.sampled_from(bounds).flatmap(lambda b: st.sampled_from([b - _US, b, b + _US]))
    anywhere = st.integers(goal.span.start_us - 40 * _DAY_US, goal.span.end_us + 40 * _DAY_US).map(
        lambda us: datetime(1970, 1, 1, tzinfo=UTC) + us * _US
    )
    return near | anywhere


def all_rows(report: GoalReport) -> Iterator[Progress]:
    yield from report.rows
    yield from report.contributor_rows
    yield from report.milestone_rows


@given(measured_goals(), st.data())
def test_status_is_monotone_in_time(
    case: tuple[Goal, dict[tuple[str, str, int], Measurement]], data: st.DataObject
) -> None:
    goal, measured = case
    times = sorted(data.draw(st.lists(instants(goal), min_size=2, max_size=4)))
    reports = [evaluate(goal, measured, at=t) for t in times]
    for early, late in itertools.pairwise(reports):
        for a, b in zip(all_rows(early), all_rows(late), strict=True):
            assert rank(a.status) <= rank(b.status)
            if a.status.is_final:
                assert b.status is a.status  # same measurement, same verdict


@given(measured_goals(), st.data())
def test_status_follows_the_table_and_rows_follow_the_goal(
    case: tuple[Goal, dict[tuple[str, str, int], Measurement]], data: st.DataObject
) -> None:
    goal, measured = case
    at = data.draw(instants(goal))
    report = evaluate(goal, measured, at=at)
    expected_keys = [
        (c.id, m.index)
        for c, targets in zip(goal.contributors, goal.targets, strict=True)
        for m, t in zip(goal.milestones, targets, strict=True)
        if t is not None
    ]
    assert [(r.contributor_id, r.milestone_index) for r in report.rows] == expected_keys
    for r in report.rows:
        assert r.milestone_index is not None
        assert r.status is by_the_table(at, goal.milestones[r.milestone_index].period, r)
        assert r.frozen is None
        assert r.calculated_at == at


def by_the_table(at: datetime, period: Period, row: Progress) -> Status:
    """The table in docs/progress.md, "Status by time"."""
    if at < period.start:
        return Status.PENDING
    if at < period.end:
        return Status.IN_PROGRESS
    if row.infinite:
        return Status.EXCEEDED
    if row.attainment is None or row.attainment < 1:
        return Status.MISSED
    return Status.ACHIEVED if row.attainment == 1 else Status.EXCEEDED


def independent_pool(
    goal: Goal, pairs: list[tuple[int, Measurement]]
) -> tuple[Fraction | int | None, bool]:
    """Attainment and infinite flag by the formulas of docs/progress.md ("Attainment")."""
    count = sum(m.count for _, m in pairs)
    if goal.kpi.unit is Unit.COUNT:
        return Fraction(count, sum(t for t, _ in pairs)), False
    if count == 0:
        return None, False
    allowed = 0
    used = 0
    for t, m in pairs:
        if m.count:
            allowed += t * m.count
            used += m.total
    if used == 0:
        return None, True
    return Fraction(allowed, used), False


@given(measured_goals(), st.data())
def test_roll_ups_match_an_independent_recomputation(
    case: tuple[Goal, dict[tuple[str, str, int], Measurement]], data: st.DataObject
) -> None:
    goal, measured = case
    at = data.draw(instants(goal))
    report = evaluate(goal, measured, at=at)
    by_milestone: dict[int, list[tuple[int, Measurement]]] = {}
    for c, targets in zip(goal.contributors, goal.targets, strict=True):
        mine = [
            (t.value, measured.get((goal.id, c.id, j), Measurement()))
            for j, t in enumerate(targets)
            if t is not None
        ]
        for j, t in enumerate(targets):
            if t is not None:
                by_milestone.setdefault(j, []).append(
                    (t.value, measured.get((goal.id, c.id, j), Measurement()))
                )
        if not mine:
            continue
        whole = report.whole_goal(c.id)
        assert (whole.attainment, whole.infinite) == independent_pool(goal, mine)
        targeted = [m.period for m, t in zip(goal.milestones, targets, strict=True) if t]
        span = Period(targeted[0].start, targeted[-1].end)
        assert whole.status is by_the_table(at, span, whole)
        assert whole.measurement.count == sum(m.count for _, m in mine)
    assert sorted(by_milestone) == [r.milestone_index for r in report.milestone_rows]
    for j, pairs in by_milestone.items():
        total = report.total(j)
        assert (total.attainment, total.infinite) == independent_pool(goal, pairs)
        assert total.status is by_the_table(at, goal.milestones[j].period, total)
        if goal.kpi.unit is Unit.COUNT:
            assert total.target == sum(t for t, _ in pairs)


@given(
    st.sampled_from([CLOSED_TICKETS, AVG_RESPONSE_TIME, AVG_RESOLUTION_TIME]),
    st.integers(1, 10**12),
    st.integers(1, 500),
    st.integers(-1, 1),
)
def test_exactly_the_target_is_achieved_never_exceeded(
    kpi: Kpi, target: int, tickets: int, nudge: int
) -> None:
    """A count equal to the target, or a mean equal to it to the microsecond."""
    if kpi.unit is Unit.COUNT:
        target = target % 1000 + 1
        measured = Measurement(max(target + nudge, 0))
        amount: int | timedelta = target
    else:
        measured = Measurement(tickets, target * tickets + nudge)
        amount = timedelta(microseconds=target)
    goal = q1_goal(kpi, cadence=Cadence.CUSTOM, targets={"u1": amount})
    report = evaluate(goal, {("g", "u1", 0): measured}, at=Q1.end)
    better = nudge > 0 if kpi.direction is Direction.HIGHER_IS_BETTER else nudge < 0
    expected = Status.ACHIEVED if nudge == 0 else Status.EXCEEDED if better else Status.MISSED
    for row in all_rows(report):
        assert row.status is expected
        assert (row.attainment == 1) is (nudge == 0)


@given(measured_goals(), st.data())
def test_rows_built_without_validation_equal_validated_ones(
    case: tuple[Goal, dict[tuple[str, str, int], Measurement]], data: st.DataObject
) -> None:
    """evaluate builds its rows and report on a trusted path; the public constructors agree.

    Field by field and type by type (a target of 3 and of Fraction(3) are equal
    but not identical), and the report's lookups work.
    """
    goal, measured = case
    report = evaluate(goal, measured, at=data.draw(instants(goal)))
    fields = [a.name for a in attrs.fields(Progress)]
    for row in all_rows(report):
        rebuilt = Progress(**{name: getattr(row, name) for name in fields})
        assert rebuilt == row
        assert [type(getattr(row, n)) for n in fields] == [
            type(getattr(rebuilt, n)) for n in fields
        ]
        assert type(row.target) is int or row.target.denominator != 1  # never Fraction(3)
    again = GoalReport(
        report.goal_id,
        report.calculated_at,
        report.milestones,
        report.rows,
        report.contributor_rows,
        report.milestone_rows,
    )
    assert again == report
    for row in report.rows:
        assert row.contributor_id is not None
        assert row.milestone_index is not None
        assert report.row(row.contributor_id, row.milestone_index) is row
    for row in report.contributor_rows:
        assert row.contributor_id is not None
        assert report.whole_goal(row.contributor_id) is row
    for row in report.milestone_rows:
        assert row.milestone_index is not None
        assert report.total(row.milestone_index) is row
        assert report.milestone_at(goal.milestones[row.milestone_index].period.start).index == (
            row.milestone_index
        )
