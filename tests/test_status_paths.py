"""The calculator's fast paths give what its general rules give.

`evaluate` pools plain cells with integer sums written out in its loop, stores
in an average row's value and attainment the shared rules that reading them turns
into `Fraction`s, builds a report's look-up index on the first look-up and tells
`reevaluate` where each contributor's rows are.  Each of these is checked here
against the general path: `score`, the validating constructors, a report without
that layout.
"""

from __future__ import annotations

import pickle
from datetime import timedelta
from fractions import Fraction

import attrs
from hypothesis import given
from hypothesis import strategies as st

from servicegoals import (
    KPI_TEMPLATES,
    MEDIAN_RESPONSE_TIME,
    AccountSettings,
    Cadence,
    Goal,
    GoalReport,
    InvalidInput,
    Measurement,
    Progress,
    Ticket,
    User,
    evaluate,
    measure,
    reevaluate,
    score,
)
from servicegoals._convert import report_from_dict, report_to_dict
from servicegoals.testing import goals, raises
from test_incremental import SCENARIOS, SPAN, Scenario, batches, start
from test_incremental import goal as incremental_goal
from test_status import all_rows, instants

HOUR = timedelta(hours=1)
Cells = dict[tuple[str, str, int], Measurement]
_DAY_US = 86_400_000_000


@st.composite
def measurements(draw: st.DrawFn, shape: str) -> Measurement:
    """A valid measurement: plain, maybe with a share and extremes ("fields"), or with
    every value ("values": pooling values needs them in every cell)."""
    count = draw(st.integers(0, 6))
    total = draw(st.integers(0, 10 * _DAY_US)) if count else 0
    if shape == "plain" or (shape == "fields" and draw(st.booleans())):
        return Measurement(count, total)
    values = draw(st.lists(st.integers(0, 10**9), min_size=count, max_size=count))
    return Measurement(
        count,
        total,
        within=draw(st.integers(0, count)),
        low=min(values, default=None),
        high=max(values, default=None),
        values=tuple(sorted(values)) if shape == "values" else None,
    )


@st.composite
def measured(draw: st.DrawFn) -> tuple[Goal, Cells]:
    """Any template's goal (custom KPIs included), its cells measured or missing."""
    goal = draw(goals(AccountSettings(), kpis=tuple(KPI_TEMPLATES.values()), max_days=120))
    shape = draw(st.sampled_from(["plain", "fields", "values"]))
    cells: Cells = {}
    for contributor in goal.contributors:
        for milestone in goal.milestones:
            if draw(st.integers(0, 5)):
                key = (goal.id, contributor.id, milestone.index)
                cells[key] = draw(measurements(shape))
    return goal, cells


def scored(row: Progress) -> tuple[object, ...]:
    return (row.target, row.measurement, row.value, row.attainment, row.infinite)


@given(measured(), st.data())
def test_every_row_is_the_score_of_its_cells(case: tuple[Goal, Cells], data: st.DataObject) -> None:
    """Cell rows and roll-ups equal `score` of their (target, measurement) cells,
    custom fields (within, extremes, values) pooled as `Measurement.__add__` does."""
    goal, cells = case
    report = evaluate(goal, cells, at=data.draw(instants(goal)))
    by_milestone: dict[int, list[tuple[int, Measurement]]] = {}
    for contributor, targets in zip(goal.contributors, goal.targets, strict=True):
        mine = []
        for j, target in enumerate(targets):
            if target is None:
                continue
            cell = (target.value, cells.get((goal.id, contributor.id, j), Measurement()))
            mine.append(cell)
            by_milestone.setdefault(j, []).append(cell)
            assert scored(report.row(contributor.id, j)) == attrs.astuple(
                score(goal.kpi, [cell]), recurse=False
            )
        if mine:
            assert scored(report.whole_goal(contributor.id)) == attrs.astuple(
                score(goal.kpi, mine), recurse=False
            )
    assert sorted(by_milestone) == [r.milestone_index for r in report.milestone_rows]
    for j, pooled in by_milestone.items():
        assert scored(report.total(j)) == attrs.astuple(score(goal.kpi, pooled), recurse=False)


@given(measured(), st.data())
def test_rows_read_their_fractions_like_rows_built_with_them(
    case: tuple[Goal, Cells], data: st.DataObject
) -> None:
    """A row's value and attainment are `Fraction`s (made on the first read, then the
    same object), and its hash, repr, pickle and stored form are a built row's."""
    goal, cells = case
    report = evaluate(goal, cells, at=data.draw(instants(goal)))
    fields = [a.name for a in attrs.fields(Progress)]
    for row in all_rows(report):
        for name in ("value", "attainment"):
            read = getattr(row, name)
            assert read is None or type(read) is Fraction
            assert getattr(row, name) is read
    built = [Progress(**{name: getattr(row, name) for name in fields}) for row in all_rows(report)]
    # Fresh rows, each read first through one of hash, repr and pickling:
    for seen in (hash, repr, lambda row: pickle.loads(pickle.dumps(row))):
        fresh_rows = all_rows(evaluate(goal, cells, at=report.calculated_at))
        assert [seen(row) for row in fresh_rows] == [seen(row) for row in built]
    fresh = evaluate(goal, cells, at=report.calculated_at)
    assert report_from_dict(report_to_dict(fresh)) == report
    assert attrs.evolve(fresh) == report


@given(SCENARIOS, st.data())
def test_reevaluating_a_report_built_by_its_constructor(
    scenario: Scenario, data: st.DataObject
) -> None:
    """A report from the public constructor (say, read from a store) carries no row
    layout: `reevaluate` works it out from the goal, with the same result."""
    goal_list, _, directory, _ = scenario
    state, current = start(scenario)
    old = dict(state)
    touched = state.apply(data.draw(batches(goal_list, current, directory)))
    for goal in goal_list:
        when = data.draw(instants(goal))
        made = evaluate(goal, old, at=when, directory=directory)
        base = GoalReport(
            made.goal_id,
            made.calculated_at,
            made.milestones,
            made.rows,
            made.contributor_rows,
            made.milestone_rows,
        )
        mine = touched.get(goal.id, frozenset())
        again = reevaluate(base, goal, state, mine, directory=directory)
        assert again == evaluate(goal, state, at=when, directory=directory)
        assert again == reevaluate(made, goal, state, mine, directory=directory)


def test_reevaluate_refuses_a_report_of_other_contributors_or_targets() -> None:
    goal = incremental_goal()  # Ada and Bob, a target on each of three months
    at = SPAN.start + timedelta(days=40)
    ada, bob = goal.contributors
    for contributors in [(bob,), (attrs.evolve(ada, id="cy"), bob)]:
        rows = goal.targets[-1:] * len(contributors)
        others = attrs.evolve(goal, contributors=contributors, targets=rows)
        with raises(InvalidInput, "base"):
            reevaluate(evaluate(others, {}, at=at), goal, {}, [("g", "ada", 0)])
    fewer = attrs.evolve(goal, targets=((None, *goal.targets[0][1:]), goal.targets[1]))
    with raises(InvalidInput, "base.rows"):
        reevaluate(evaluate(fewer, {}, at=at), goal, {}, [("g", "ada", 0)])


def test_reevaluate_pools_the_values_of_a_percentile_goal_again() -> None:
    """Roll-ups of custom KPIs (here a median) cannot move by a difference of sums."""
    goal = Goal.create(
        id="g",
        name="Median response",
        kpi=MEDIAN_RESPONSE_TIME,
        cadence=Cadence.MONTHLY,
        span=SPAN,
        settings=AccountSettings(),
        contributors=[User("ada", "Ada"), User("bob", "Bob")],
        targets={"ada": timedelta(hours=2), "bob": timedelta(hours=3)},
    )

    def answered(n: int, owner: str, day: int, hours: int) -> Ticket:
        created = SPAN.start + timedelta(days=day)
        return Ticket(f"t{n}", created, "support", owner, first_response_at=created + hours * HOUR)

    before = [answered(1, "ada", 3, 1), answered(2, "ada", 4, 5), answered(3, "bob", 5, 2)]
    after = [*before, answered(4, "bob", 6, 9), answered(5, "bob", 7, 10)]
    at = SPAN.start + timedelta(days=70)
    old, new = measure([goal], before), measure([goal], after)
    base = evaluate(goal, old, at=at)
    touched = [key for key in new if new[key] != old[key]]
    again = reevaluate(base, goal, new, touched)
    assert again == evaluate(goal, new, at=at)
    # bob's month holds 2 h, 9 h and 10 h: the median is 9 h.
    assert again.whole_goal("bob").value == 9 * HOUR // timedelta(microseconds=1)
