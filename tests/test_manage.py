"""Managing goals: every filter criterion alone and combined, details, and every edit rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import attrs
import pytest

from servicegoals import (
    AVG_RESOLUTION_TIME,
    AVG_RESPONSE_TIME,
    CLOSED_TICKETS,
    Account,
    AccountSettings,
    Actor,
    Cadence,
    Contributor,
    Directory,
    FrozenReason,
    Goal,
    GoalFilter,
    ImmutableField,
    InvalidInput,
    Measurement,
    MilestoneType,
    NotFound,
    NotificationSettings,
    Plan,
    Seat,
    Status,
    Target,
    Team,
    User,
    add_contributor,
    change_pipelines,
    copy_goal_for,
    create_goal,
    date_range,
    delete_contributor,
    edit_notifications,
    edit_target,
    evaluate,
    fiscal_year,
    goal_details,
    list_goals,
    milestone_type,
    rename_goal,
    select_goals,
)
from servicegoals.testing import raises

SETTINGS = AccountSettings(timezone="UTC", fiscal_year_start_month=4)
DIRECTORY = Directory(
    users=[
        User("u1", "Ada", team_ids={"t1"}),
        User("u2", "Bob", team_ids={"t2"}),
        User("u3", "Cy"),
    ],
    teams=[Team("t1", "Support"), Team("t2", "Tier 2", parent_id="t1"), Team("t3", "Billing")],
)
ACCOUNT = Account(Plan.ENTERPRISE, settings=SETTINGS, directory=DIRECTORY)
MANAGER = Actor("boss", Seat.PAID)
AT = datetime(2026, 2, 15, tzinfo=UTC)
CREATED = datetime(2025, 1, 1, tzinfo=UTC)
HOUR = 3_600_000_000
FEBRUARY = date_range(date(2026, 2, 1), date(2026, 2, 28), SETTINGS)


def _goal(**kwargs: object) -> Goal:
    return create_goal(MANAGER, ACCOUNT, created_at=CREATED, **kwargs)  # type: ignore[arg-type]


# g1: monthly closed tickets, Jan-Mar 2026.  Jan ended, Feb in progress, Mar pending.
G1 = _goal(
    id="g1",
    name="Close tickets",
    kpi=CLOSED_TICKETS,
    cadence=Cadence.MONTHLY,
    span=date_range(date(2026, 1, 1), date(2026, 3, 31), SETTINGS),
    contributors=[User("u1", "Ada"), User("u2", "Bob")],
    pipelines={"support", "billing"},
    targets={"u1": Target(10, "support"), "u2": [5, 5, None]},
)
# g2: a team's response time by fiscal quarter of FY2026 (Q4 = Jan-Mar 2026).
G2 = _goal(
    id="g2",
    name="Respond fast",
    kpi=AVG_RESPONSE_TIME,
    cadence=Cadence.QUARTERLY,
    span=fiscal_year(2026, SETTINGS),
    align_to_fiscal_year=True,
    contributors=[Team("t1", "Support")],
    targets={"t1": timedelta(hours=4)},
)
# g3: a custom February with a user and a team.
G3 = _goal(
    id="g3",
    name="Resolve in February",
    kpi=AVG_RESOLUTION_TIME,
    cadence=Cadence.CUSTOM,
    span=FEBRUARY,
    contributors=[User("u3", "Cy"), Team("t3", "Billing")],
    targets={"u3": timedelta(days=1), "t3": timedelta(days=2)},
)
# g4: a fiscal year that has not started.
G4 = _goal(
    id="g4",
    name="Yearly billing",
    kpi=CLOSED_TICKETS,
    cadence=Cadence.YEARLY,
    span=fiscal_year(2027, SETTINGS),
    align_to_fiscal_year=True,
    contributors=[User("u2", "Bob")],
    pipelines={"billing"},
    targets={"u2": 100},
)
# g5: no report yet.
G5 = _goal(
    id="g5",
    name="Weekly closing",
    kpi=CLOSED_TICKETS,
    cadence=Cadence.WEEKLY,
    span=FEBRUARY,
    contributors=[User("u1", "Ada")],
    targets={"u1": 1},
)
GOALS = (G1, G2, G3, G4, G5)
MEASURED = {
    ("g1", "u1", 0): Measurement(10),  # 100 %, achieved
    ("g1", "u1", 1): Measurement(3),  # 30 %, in progress
    ("g1", "u2", 0): Measurement(7),  # 140 %, exceeded
    ("g2", "t1", 0): Measurement(2, 6 * HOUR),  # 3 h against 4 h: 133 %, exceeded
    ("g2", "t1", 1): Measurement(1, 8 * HOUR),  # 50 %, missed
    ("g2", "t1", 3): Measurement(1, 0),  # an average of zero: infinite, in progress
    ("g3", "u3", 0): Measurement(1, 24 * HOUR),  # 100 %, in progress
}
REPORTS = tuple(evaluate(g, MEASURED, at=AT, directory=DIRECTORY) for g in GOALS[:4])

Cells = dict[str, set[tuple[str, int]]]


def picked(goal_filter: GoalFilter, *, directory: Directory | None = DIRECTORY) -> Cells:
    """The listed goals and the (contributor, milestone) of their matching rows."""
    found = select_goals(GOALS, REPORTS, goal_filter, directory=directory)
    return {
        m.goal.id: {(r.contributor_id or "", r.milestone_index or 0) for r in m.rows} for m in found
    }


ALL_ROWS: Cells = {
    "g1": {("u1", 0), ("u1", 1), ("u1", 2), ("u2", 0), ("u2", 1)},
    "g2": {("t1", 0), ("t1", 1), ("t1", 2), ("t1", 3)},
    "g3": {("u3", 0), ("t3", 0)},
    "g4": {("u2", 0)},
    "g5": set(),
}


def test_the_scenario_has_the_statuses_the_tests_rely_on() -> None:
    r1, r2, r3, r4 = REPORTS
    assert [r1.row("u1", j).status for j in range(3)] == [
        Status.ACHIEVED,
        Status.IN_PROGRESS,
        Status.PENDING,
    ]
    assert [r2.row("t1", j).status for j in range(4)] == [
        Status.EXCEEDED,
        Status.MISSED,
        Status.MISSED,
        Status.IN_PROGRESS,
    ]
    assert r2.row("t1", 3).infinite
    assert r2.row("t1", 2).attainment is None
    assert r3.row("t3", 0).attainment is None
    assert r4.row("u2", 0).status is Status.PENDING


# -- every criterion alone ---------------------------------------------------------


def test_no_criteria_lists_every_goal_with_all_rows_even_without_a_report() -> None:
    assert picked(GoalFilter()) == ALL_ROWS


def test_date_range_selects_rows_whose_milestone_overlaps_it() -> None:
    assert picked(GoalFilter(period=FEBRUARY)) == {
        "g1": {("u1", 1), ("u2", 1)},
        "g2": {("t1", 3)},
        "g3": {("u3", 0), ("t3", 0)},
    }


def test_date_range_is_half_open() -> None:
    # A range that ends where February starts touches January only.
    january = date_range(date(2026, 1, 31), date(2026, 1, 31), SETTINGS)
    assert picked(GoalFilter(period=january)) == {"g1": {("u1", 0), ("u2", 0)}, "g2": {("t1", 3)}}


@pytest.mark.parametrize(
    ("kpis", "expected"),
    [
        ({CLOSED_TICKETS}, {"g1", "g4", "g5"}),
        ({"avg_response_time"}, {"g2"}),
        ({AVG_RESPONSE_TIME, "avg_resolution_time"}, {"g2", "g3"}),
    ],
)
def test_kpis(kpis: set[object], expected: set[str]) -> None:
    found = picked(GoalFilter(kpis=kpis))  # type: ignore[arg-type]
    assert found == {g: ALL_ROWS[g] for g in expected}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("RESP", {"g2"}), ("close", {"g1"}), (" ly ", {"g4", "g5"}), ("nothing", set())],
)
def test_name_is_a_case_insensitive_substring(name: str, expected: set[str]) -> None:
    assert set(picked(GoalFilter(name=name))) == expected


@pytest.mark.parametrize(
    ("cadences", "expected"),
    [
        ({Cadence.QUARTERLY}, {"g2"}),
        ({Cadence.CUSTOM, Cadence.YEARLY}, {"g3", "g4"}),
        ({"weekly"}, {"g5"}),
    ],
)
def test_duration(cadences: set[object], expected: set[str]) -> None:
    assert set(picked(GoalFilter(cadences=cadences))) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        ({MilestoneType.FISCAL_QUARTER}, {"g2"}),
        ({MilestoneType.QUARTER}, set()),
        ({MilestoneType.FISCAL_YEAR, MilestoneType.MONTH}, {"g1", "g4"}),
        ({"week", "custom"}, {"g3", "g5"}),
    ],
)
def test_milestone_type(types: set[object], expected: set[str]) -> None:
    assert set(picked(GoalFilter(milestone_types=types))) == expected  # type: ignore[arg-type]


def test_milestone_type_tells_calendar_from_fiscal_units() -> None:
    assert [milestone_type(g) for g in GOALS] == [
        MilestoneType.MONTH,
        MilestoneType.FISCAL_QUARTER,
        MilestoneType.CUSTOM,
        MilestoneType.FISCAL_YEAR,
        MilestoneType.WEEK,
    ]
    calendar_quarters = attrs.evolve(G2, align_to_fiscal_year=False)
    assert milestone_type(calendar_quarters) is MilestoneType.QUARTER


def test_users_select_rows_of_those_user_contributors() -> None:
    assert picked(GoalFilter(users={"u2"})) == {"g1": {("u2", 0), ("u2", 1)}, "g4": {("u2", 0)}}
    # A team id is not a user.
    assert picked(GoalFilter(users={"t1"})) == {}


def test_teams_select_the_team_its_child_teams_and_their_members() -> None:
    assert picked(GoalFilter(teams={"t1"})) == {
        "g1": ALL_ROWS["g1"],  # u1 is in t1, u2 in its child team t2
        "g2": ALL_ROWS["g2"],  # the team itself
        "g4": ALL_ROWS["g4"],
    }
    # A child team does not cover its parent.
    assert picked(GoalFilter(teams={"t2"})) == {"g1": {("u2", 0), ("u2", 1)}, "g4": {("u2", 0)}}
    assert picked(GoalFilter(teams={"t3"})) == {"g3": {("t3", 0)}}


def test_teams_without_a_directory_select_only_the_team_contributors() -> None:
    assert picked(GoalFilter(teams={"t1"}), directory=None) == {"g2": ALL_ROWS["g2"]}


def test_pipelines_use_each_rows_effective_pipelines() -> None:
    # u1's cells count "support" only; u2's count the goal's two pipelines.
    assert picked(GoalFilter(pipelines={"support"})) == {
        "g1": {("u1", 0), ("u1", 1), ("u1", 2), ("u2", 0), ("u2", 1)}
    }
    assert picked(GoalFilter(pipelines={"billing"})) == {
        "g1": {("u2", 0), ("u2", 1)},
        "g4": {("u2", 0)},
    }
    # Goals that count every pipeline are not "for" a particular one.
    assert picked(GoalFilter(pipelines={"onboarding"})) == {}


def test_several_statuses_are_ored() -> None:
    assert picked(GoalFilter(statuses={Status.MISSED, "exceeded"})) == {
        "g1": {("u2", 0)},
        "g2": {("t1", 0), ("t1", 1), ("t1", 2)},
    }
    assert picked(GoalFilter(statuses={Status.PENDING})) == {
        "g1": {("u1", 2)},
        "g4": {("u2", 0)},
    }


def test_progress_minimum_is_inclusive_and_counts_infinite_as_above() -> None:
    assert picked(GoalFilter(min_percent=100)) == {
        "g1": {("u1", 0), ("u2", 0)},
        "g2": {("t1", 0), ("t1", 3)},  # 133 % and infinitely good
        "g3": {("u3", 0)},
    }
    assert picked(GoalFilter(min_percent=Fraction(400, 3))) == {
        "g1": {("u2", 0)},
        "g2": {("t1", 0), ("t1", 3)},  # exactly 133 1/3 %
    }


def test_progress_maximum_is_inclusive_and_skips_rows_without_attainment() -> None:
    assert picked(GoalFilter(max_percent=50)) == {
        "g1": {("u1", 1), ("u1", 2), ("u2", 1)},
        "g2": {("t1", 1)},  # exactly 50 %; no tickets (t1, 2) and infinite (t1, 3) are out
        "g4": {("u2", 0)},
    }


def test_progress_range_with_equal_bounds() -> None:
    exactly = GoalFilter(min_percent=100, max_percent=100)
    assert picked(exactly) == {"g1": {("u1", 0)}, "g3": {("u3", 0)}}


# -- combined criteria ---------------------------------------------------------------


def test_criteria_are_anded() -> None:
    combined = GoalFilter(kpis={CLOSED_TICKETS}, statuses={Status.IN_PROGRESS}, users={"u1"})
    assert picked(combined) == {"g1": {("u1", 1)}}
    assert picked(GoalFilter(teams={"t1"}, users={"u1"})) == {
        "g1": {("u1", 0), ("u1", 1), ("u1", 2)}
    }
    in_february_and_done = GoalFilter(period=FEBRUARY, min_percent=100)
    assert picked(in_february_and_done) == {"g2": {("t1", 3)}, "g3": {("u3", 0)}}


def test_a_goal_matches_when_one_row_passes_every_criterion_at_once() -> None:
    # g1 has a row in February and an achieved row, but not one row that is both.
    assert "g1" not in picked(GoalFilter(period=FEBRUARY, statuses={Status.ACHIEVED}))
    assert picked(GoalFilter(name="close", cadences={Cadence.YEARLY})) == {}


def test_goal_level_criteria_alone_list_goals_without_rows() -> None:
    assert picked(GoalFilter(name="weekly")) == {"g5": set()}
    # Any row criterion needs a row.
    assert picked(GoalFilter(name="weekly", statuses={Status.PENDING})) == {}


def test_rows_of_deleted_contributors_are_history_not_listed() -> None:
    deletion = delete_contributor(MANAGER, ACCOUNT, G1, "u2")
    assert deletion.goal is not None
    later = evaluate(deletion.goal, MEASURED, at=AT, previous=REPORTS[0])
    assert any(r.contributor_id == "u2" for r in later.rows)  # carried forward, frozen
    found = select_goals([deletion.goal], [later], GoalFilter(users={"u2"}))
    assert found == ()


def test_list_goals_uses_the_accounts_directory_and_ignores_other_reports() -> None:
    found = list_goals(MANAGER, ACCOUNT, [G1, G2], REPORTS, GoalFilter(teams={"t2"}))
    assert [m.goal.id for m in found] == ["g1"]
    assert found[0].report is REPORTS[0]


@pytest.mark.parametrize(
    ("kwargs", "field", "value"),
    [
        ({"min_percent": 12.5}, "min_percent", 12.5),
        ({"max_percent": True}, "max_percent", True),
        ({"min_percent": 60, "max_percent": 50}, "max_percent", Fraction(50)),
        ({"users": "u1"}, "users", "u1"),
        ({"teams": ["t1", ""]}, "teams", ""),
        ({"statuses": ["done"]}, "statuses", "done"),
        ({"kpis": ["closed"]}, "kpis", "closed"),
        ({"cadences": [3]}, "cadences", 3),
        ({"name": "  "}, "name", "  "),
        ({"period": (1, 2)}, "period", (1, 2)),
    ],
)
def test_bad_filters_are_refused(kwargs: dict[str, object], field: str, value: object) -> None:
    with raises(InvalidInput, field, value):
        GoalFilter(**kwargs)  # type: ignore[arg-type]


def test_select_refuses_duplicate_goals_and_reports() -> None:
    with raises(InvalidInput, "goals[1].id", "g1"):
        select_goals([G1, G1])
    with raises(InvalidInput, "reports[1].goal_id", "g1"):
        select_goals([G1], [REPORTS[0], REPORTS[0]])


# -- details -------------------------------------------------------------------------


def test_details_show_every_milestone_with_target_row_and_total() -> None:
    details = goal_details(MANAGER, ACCOUNT, G1, REPORTS[0], "u2")
    assert details.contributor == Contributor.user("u2")
    assert [d.milestone.label for d in details.milestones] == ["2026-01", "2026-02", "2026-03"]
    assert [d.target for d in details.milestones] == [Target(5), Target(5), None]
    assert [d.value for d in details.milestones] == [7, 0, None]
    assert [d.attainment for d in details.milestones] == [Fraction(7, 5), 0, None]
    assert [d.status for d in details.milestones] == [Status.EXCEEDED, Status.IN_PROGRESS, None]
    # The total ("all contributors") row of each milestone: u1 and u2 together.
    totals = [d.total for d in details.milestones]
    assert [t.target if t else None for t in totals] == [15, 15, 10]
    assert [t.value if t else None for t in totals] == [17, 3, 0]
    # The whole goal: 7 closed against 10 so far, in progress until March ends.
    assert details.whole_goal is not None
    assert details.whole_goal.target == 10
    assert details.whole_goal.value == 7
    assert details.whole_goal.status is Status.IN_PROGRESS


def test_details_before_the_first_report() -> None:
    details = goal_details(MANAGER, ACCOUNT, G5, None, "u1")
    assert all(d.progress is None and d.total is None for d in details.milestones)
    assert [d.target for d in details.milestones] == [Target(1)] * len(G5.milestones)
    assert details.whole_goal is None


def test_details_refuse_a_stranger_or_another_goals_report() -> None:
    with raises(NotFound, "contributor_id", "u9"):
        goal_details(MANAGER, ACCOUNT, G1, REPORTS[0], "u9")
    with raises(InvalidInput, "report.goal_id", "g2"):
        goal_details(MANAGER, ACCOUNT, G1, REPORTS[1], "u1")


# -- edits ---------------------------------------------------------------------------


def test_edit_one_milestones_target_keeps_its_pipeline() -> None:
    edited = edit_target(MANAGER, ACCOUNT, G1, "u1", 12, milestone_index=1)
    assert edited.targets[0] == (
        Target(10, "support"),
        Target(12, "support"),
        Target(10, "support"),
    )
    assert edited.targets[1] == G1.targets[1]
    assert G1.target("u1", 1) == Target(10, "support")  # goals are immutable


def test_edit_every_milestone_applies_one_amount_and_keeps_pipelines() -> None:
    edited = edit_target(MANAGER, ACCOUNT, G1, "u2", 8)
    assert edited.targets[1] == (Target(8), Target(8), Target(8))
    edited = edit_target(MANAGER, ACCOUNT, G1, "u1", 7)
    assert edited.targets[0] == (Target(7, "support"),) * 3


def test_edit_every_milestone_with_a_target_or_none() -> None:
    edited = edit_target(MANAGER, ACCOUNT, G1, "u1", Target(4, "billing"))
    assert edited.targets[0] == (Target(4, "billing"),) * 3
    cleared = edit_target(MANAGER, ACCOUNT, G1, "u1", None)
    assert cleared.targets[0] == (None, None, None)
    removed = edit_target(MANAGER, ACCOUNT, G1, "u1", None, milestone_index=2)
    assert removed.targets[0][2] is None


def test_an_edited_target_changes_a_fixed_rows_status() -> None:
    lowered = edit_target(MANAGER, ACCOUNT, G1, "u2", 7, milestone_index=0)
    later = evaluate(lowered, {}, at=AT + timedelta(days=1), previous=REPORTS[0])
    row = later.row("u2", 0)
    assert (row.status, row.frozen) == (Status.ACHIEVED, FrozenReason.EXPIRED)


@pytest.mark.parametrize(
    ("args", "error", "field", "value"),
    [
        (("u9", 3), NotFound, "contributor_id", "u9"),
        (("u1", 3, 5), NotFound, "milestone_index", 5),
        (("u1", timedelta(hours=1)), InvalidInput, "targets.u1[0].amount", timedelta(hours=1)),
        (("u1", 0, 0), InvalidInput, "targets.u1[0]", 0),
        (("u1", Target(3, "onboarding")), InvalidInput, "targets.u1[0].pipeline", "onboarding"),
    ],
)
def test_bad_target_edits_are_refused(
    args: tuple[object, ...], error: type[InvalidInput], field: str, value: object
) -> None:
    contributor, amount, *index = args
    with raises(error, field, value):
        edit_target(
            MANAGER,
            ACCOUNT,
            G1,
            contributor,  # type: ignore[arg-type]
            amount,  # type: ignore[arg-type]
            milestone_index=index[0] if index else None,  # type: ignore[arg-type]
        )


def test_rename_strips_and_checks_the_name() -> None:
    assert rename_goal(MANAGER, ACCOUNT, G1, "  Close more  ").name == "Close more"
    with raises(InvalidInput, "name", "x" * 201):
        rename_goal(MANAGER, ACCOUNT, G1, "x" * 201)


def test_edit_notifications() -> None:
    settings = NotificationSettings(on_missed=True, progress_percents=[75, 50])
    edited = edit_notifications(MANAGER, ACCOUNT, G1, settings)
    assert edited.notifications.progress_percents == (50, 75)
    assert attrs.evolve(edited, notifications=G1.notifications) == G1


@pytest.mark.parametrize("pipelines", [{"support"}, {"support", "billing"}, set()])
def test_pipelines_can_never_change(pipelines: set[str]) -> None:
    with raises(ImmutableField, "pipelines", sorted(pipelines)):
        change_pipelines(MANAGER, ACCOUNT, G1, pipelines)


def test_adding_a_contributor_is_refused_and_points_to_copy_for() -> None:
    with raises(ImmutableField, "contributors", "u3") as caught:
        add_contributor(MANAGER, ACCOUNT, G1, User("u3", "Cy"))
    assert "Goal.copy_for" in str(caught.error)


def test_copy_goal_for_gives_a_new_member_the_same_settings() -> None:
    new = copy_goal_for(MANAGER, ACCOUNT, G1, User("u3", "Cy"), id="g1-u3", targets=6)
    assert new.contributors == (Contributor.user("u3"),)
    assert new.targets == ((Target(6),) * 3,)
    assert (new.kpi, new.milestones, new.pipelines) == (G1.kpi, G1.milestones, G1.pipelines)
    assert new.created_by == "boss"


def test_deleting_a_contributor_removes_its_cells() -> None:
    deletion = delete_contributor(MANAGER, ACCOUNT, G1, "u1")
    assert not deletion.goal_deleted
    assert deletion.goal is not None
    assert deletion.goal.contributor_ids == ("u2",)
    assert deletion.goal.targets == (G1.targets[1],)
    assert (deletion.goal_id, deletion.contributor_id) == ("g1", "u1")


def test_deleting_the_last_contributor_deletes_the_goal() -> None:
    deletion = delete_contributor(MANAGER, ACCOUNT, G4, "u2")
    assert deletion.goal_deleted
    assert deletion.goal is None
    assert deletion.goal_id == "g4"


def test_deleting_a_stranger_is_refused() -> None:
    with raises(NotFound, "contributor_id", "u9"):
        delete_contributor(MANAGER, ACCOUNT, G1, "u9")


def test_create_goal_uses_the_accounts_calendar_and_the_actor() -> None:
    goal = create_goal(
        Actor("u5", Seat.FREE),
        ACCOUNT,
        id="new",
        name="Quarterly",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.QUARTERLY,
        span=fiscal_year(2027, SETTINGS),
        align_to_fiscal_year=True,
        contributors=[User("u1", "Ada")],
        targets={"u1": 30},
    )
    assert [m.label for m in goal.milestones] == [f"FY2027-Q{q}" for q in range(1, 5)]
    assert goal.created_by == "u5"
