"""Goals and contributors: creation, validation, edits and the team tree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import servicegoals
from servicegoals import (
    AVG_RESOLUTION_TIME,
    AVG_RESPONSE_TIME,
    CLOSED_TICKETS,
    AccountSettings,
    Cadence,
    Contributor,
    ContributorKind,
    Directory,
    Goal,
    ImmutableField,
    InvalidInput,
    Milestone,
    NotFound,
    NotificationSettings,
    Period,
    Target,
    Team,
    Unit,
    User,
    date_range,
    fiscal_year,
    milestones,
)
from servicegoals.testing import directories, goals, raises

#: The library as an untyped caller sees it: wrong types get past mypy to the checks.
sg: Any = servicegoals

ACCOUNT = AccountSettings(timezone="Europe/Oslo", fiscal_year_start_month=4)
FY2027 = fiscal_year(2027, ACCOUNT)
CREATED = datetime(2026, 3, 20, 12, tzinfo=UTC)
NAIVE = datetime(2026, 3, 20, 12)

ADA = User("ada", "Ada", email="ada@example.com", team_ids={"tier2"})
BOB = User("bob", "Bob", team_ids={"support"})
CY = User("cy", "Cy", active=False, team_ids={"tier3"})
DAN = User("dan", "Dan")
SUPPORT = Team("support", "Support")
TIER2 = Team("tier2", "Tier 2", parent_id="support")
TIER3 = Team("tier3", "Tier 3", parent_id="tier2")
BILLING = Team("billing", "Billing")
DIRECTORY = Directory([ADA, BOB, CY, DAN], [SUPPORT, TIER2, TIER3, BILLING])


def make(**changes: Any) -> Goal:
    """A quarterly fiscal-year goal for Ada and the support team, with ``changes``."""
    options: dict[str, Any] = {
        "id": "g1",
        "name": "Close tickets",
        "kpi": CLOSED_TICKETS,
        "cadence": Cadence.QUARTERLY,
        "span": FY2027,
        "settings": ACCOUNT,
        "align_to_fiscal_year": True,
        "contributors": [ADA, SUPPORT],
        "targets": {"ada": 10, "support": [30, 30, None, 40]},
        "created_at": CREATED,
    }
    return Goal.create(**(options | changes))


GOAL = make()


# -- creation ---------------------------------------------------------------------------


def test_create_fixes_the_milestones_from_the_account_settings() -> None:
    assert GOAL.milestones == milestones(
        Cadence.QUARTERLY, FY2027, ACCOUNT, align_to_fiscal_year=True
    )
    assert [m.label for m in GOAL.milestones] == [
        "FY2027-Q1",
        "FY2027-Q2",
        "FY2027-Q3",
        "FY2027-Q4",
    ]
    assert GOAL.contributors == (Contributor.user("ada"), Contributor.team("support"))
    assert GOAL.contributor_ids == ("ada", "support")
    assert GOAL.targets == (
        (Target(10), Target(10), Target(10), Target(10)),
        (Target(30), Target(30), None, Target(40)),
    )
    assert GOAL.target("support", 2) is None
    assert GOAL.target("support", 3) == Target(40)
    assert GOAL.contributor("support").kind is ContributorKind.TEAM
    assert GOAL.pipelines == frozenset()
    assert GOAL.created_at == CREATED
    assert GOAL.created_by is None


def test_contributors_without_targets_get_no_cells() -> None:
    goal = make(targets={"ada": 5})
    assert goal.targets[1] == (None, None, None, None)
    assert make(targets=None).targets == ((None,) * 4, (None,) * 4)


def test_notifications_default_to_off() -> None:
    assert GOAL.notifications == NotificationSettings()
    off = NotificationSettings()
    flags = (off.on_achieved, off.on_exceeded, off.on_missed, off.on_milestone_start)
    assert flags == (False, False, False, False)
    assert off.progress_percents == ()


def test_created_at_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    goal = make(created_at=None)
    assert before <= goal.created_at <= datetime.now(UTC)


def test_names_are_stripped_and_up_to_200_characters() -> None:
    assert make(name="  Close tickets \n").name == "Close tickets"
    assert make(name=" " + "x" * 200 + " ").name == "x" * 200
    assert make(name="x").name == "x"


def test_duration_goals_take_timedelta_targets() -> None:
    goal = make(
        kpi=AVG_RESPONSE_TIME,
        targets={"ada": timedelta(hours=4), "support": [timedelta(hours=8), None, None, None]},
    )
    assert goal.target("ada", 0) == Target(timedelta(hours=4))
    assert goal.target("ada", 0).value == 4 * 3_600_000_000  # type: ignore[union-attr]
    assert Target(7).value == 7


def test_cells_may_have_their_own_pipeline() -> None:
    goal = make(
        pipelines={"support", "billing"},
        targets={"ada": [Target(5, "billing"), Target(5), None, 6]},
    )
    assert goal.effective_pipelines("ada", 0) == frozenset({"billing"})
    assert goal.effective_pipelines("ada", 1) == frozenset({"support", "billing"})
    assert goal.effective_pipelines("ada", 2) == frozenset({"support", "billing"})
    assert goal.effective_pipelines("support", 0) == frozenset({"support", "billing"})


def test_no_pipelines_means_every_pipeline_and_cells_may_pick_any() -> None:
    goal = make(targets={"ada": Target(5, "sales")})
    assert goal.effective_pipelines("ada", 0) == frozenset({"sales"})
    assert goal.effective_pipelines("support", 0) == frozenset()  # empty = all


@pytest.mark.parametrize(
    ("pipelines", "cadence", "expected"),
    [
        ((), Cadence.MONTHLY, True),
        (("support",), Cadence.QUARTERLY, True),
        (("support",), Cadence.WEEKLY, True),
        ((), Cadence.CUSTOM, True),
        (("support", "billing"), Cadence.MONTHLY, False),
        ((), Cadence.YEARLY, False),
        (("support",), Cadence.YEARLY, False),
    ],
)
def test_can_forecast(pipelines: tuple[str, ...], cadence: Cadence, expected: bool) -> None:
    goal = make(pipelines=pipelines, cadence=cadence, align_to_fiscal_year=False, targets=None)
    assert goal.can_forecast is expected


def test_can_forecast_counts_only_the_goals_own_pipelines() -> None:
    # Two cells on two pipelines, but the goal itself has none (= all): allowed.
    goal = make(targets={"ada": [Target(1, "support"), Target(1, "billing"), None, None]})
    assert goal.can_forecast


# -- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"id": ""}, "id", ""),
        ({"name": ""}, "name", ""),
        ({"name": "   \t"}, "name", "   \t"),
        ({"name": "x" * 201}, "name", "x" * 201),
        ({"name": 5}, "name", 5),
        ({"kpi": "closed_tickets"}, "kpi", "closed_tickets"),
        ({"cadence": "quarterly"}, "cadence", "quarterly"),
        ({"span": (CREATED, CREATED)}, "span", (CREATED, CREATED)),
        ({"settings": None}, "settings", None),
        ({"align_to_fiscal_year": "yes"}, "align_to_fiscal_year", "yes"),
        ({"cadence": Cadence.CUSTOM}, "align_to_fiscal_year", True),
        ({"contributors": [], "targets": None}, "contributors", ()),
        ({"contributors": "ada"}, "contributors", "ada"),
        ({"contributors": ["ada"]}, "contributors", "ada"),
        ({"contributors": [ADA, User("ada", "Two")], "targets": None}, "contributors[1].id", "ada"),
        (
            {"contributors": [ADA, Team("ada", "Team")], "targets": None},
            "contributors[1].id",
            "ada",
        ),
        ({"targets": [("ada", 5)]}, "targets", [("ada", 5)]),
        ({"targets": {"zed": 5}}, "targets.zed", "zed"),
        ({"targets": {"ada": 0}}, "targets.ada", 0),
        ({"targets": {"ada": -3}}, "targets.ada", -3),
        ({"targets": {"ada": True}}, "targets.ada", True),
        ({"targets": {"ada": 2.5}}, "targets.ada", 2.5),
        ({"targets": {"ada": "10"}}, "targets.ada", "10"),
        ({"targets": {"ada": [1, 2, 3]}}, "targets.ada", [1, 2, 3]),
        ({"targets": {"ada": [1, 2, 3, 0]}}, "targets.ada[3]", 0),
        (
            {"targets": {"ada": timedelta(hours=1)}},
            "targets.ada[0].amount",
            timedelta(hours=1),
        ),
        ({"kpi": AVG_RESOLUTION_TIME, "targets": {"ada": 5}}, "targets.ada[0].amount", 5),
        (
            {"kpi": AVG_RESOLUTION_TIME, "targets": {"ada": timedelta(0)}},
            "targets.ada",
            timedelta(0),
        ),
        (
            {"kpi": AVG_RESOLUTION_TIME, "targets": {"ada": [None, -timedelta(seconds=1), None]}},
            "targets.ada",
            [None, -timedelta(seconds=1), None],
        ),
        (
            {
                "kpi": AVG_RESOLUTION_TIME,
                "targets": {"ada": [None, -timedelta(seconds=1), None, None]},
            },
            "targets.ada[1]",
            -timedelta(seconds=1),
        ),
        ({"pipelines": "support"}, "pipelines", "support"),
        ({"pipelines": [""]}, "pipelines", ""),
        ({"pipelines": [None]}, "pipelines", None),
        (
            {"pipelines": {"support"}, "targets": {"ada": Target(5, "sales")}},
            "targets.ada[0].pipeline",
            "sales",
        ),
        ({"notifications": {"on_missed": True}}, "notifications", {"on_missed": True}),
        ({"created_at": NAIVE}, "created_at", NAIVE),
        ({"created_by": ""}, "created_by", ""),
    ],
)
def test_goal_validation(changes: dict[str, Any], field: str, value: object) -> None:
    with raises(InvalidInput, field, value):
        make(**changes)


def test_a_span_over_twenty_years_is_refused() -> None:
    span = date_range(FY2027.start.date(), FY2027.start.date().replace(year=2047), ACCOUNT)
    with raises(InvalidInput, "span", span):
        make(span=span)


def shifted(period: Period, hours: int) -> Period:
    return Period(period.start + timedelta(hours=hours), period.end)


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"milestones": ()}, "milestones", ()),
        ({"milestones": GOAL.milestones[1:]}, "milestones[0]", GOAL.milestones[1]),
        (
            {"milestones": (*GOAL.milestones[:3], attrs.evolve(GOAL.milestones[3], index=4))},
            "milestones[3]",
            attrs.evolve(GOAL.milestones[3], index=4),
        ),
        (
            {
                "milestones": (
                    GOAL.milestones[0],
                    attrs.evolve(GOAL.milestones[1], period=shifted(GOAL.milestones[1].period, 1)),
                    *GOAL.milestones[2:],
                )
            },
            "milestones[1].period.start",
            GOAL.milestones[1].period.start + timedelta(hours=1),
        ),
        ({"span": Period(FY2027.start, CREATED + timedelta(days=999))}, "milestones", FY2027.end),
        ({"cadence": Cadence.CUSTOM}, "milestones", 4),
        ({"milestones": "FY2027"}, "milestones", "FY2027"),
        ({"contributors": (ADA, SUPPORT)}, "contributors[0]", ADA),
        ({"targets": GOAL.targets[:1]}, "targets", 1),
        ({"targets": (GOAL.targets[0][:2], GOAL.targets[1])}, "targets.ada", GOAL.targets[0][:2]),
        ({"targets": ([10, 10, 10, 10], GOAL.targets[1])}, "targets.ada", [10, 10, 10, 10]),
        ({"targets": ((5, None, None, None), GOAL.targets[1])}, "targets.ada[0]", 5),
        ({"kpi": None}, "kpi", None),
        ({"span": None}, "span", None),
        ({"align_to_fiscal_year": 1}, "align_to_fiscal_year", 1),
    ],
)
def test_the_constructor_checks_that_the_parts_fit(
    changes: dict[str, Any], field: str, value: object
) -> None:
    with raises(InvalidInput, field, value):
        attrs.evolve(GOAL, **changes)


# -- edits ------------------------------------------------------------------------------


def test_edits_return_new_goals_and_leave_the_original_alone() -> None:
    renamed = GOAL.with_name("  Close more  ")
    assert renamed.name == "Close more"
    assert renamed.id == GOAL.id
    assert GOAL.name == "Close tickets"
    loud = NotificationSettings(on_missed=True, progress_percents=[100, 50, 50])
    noisy = GOAL.with_notifications(loud)
    assert noisy.notifications.progress_percents == (50, 100)
    assert GOAL.notifications == NotificationSettings()
    with raises(InvalidInput, "name", ""):
        GOAL.with_name("")
    with raises(InvalidInput, "notifications", None):
        sg.Goal.with_notifications(GOAL, None)


def test_with_target_sets_keeps_pipeline_replaces_or_removes_one_cell() -> None:
    goal = make(pipelines={"support", "billing"}, targets={"ada": Target(10, "billing")})
    more = goal.with_target("ada", 1, 12)
    assert more.target("ada", 1) == Target(12, "billing")  # an amount keeps the pipeline
    assert more.target("ada", 0) == Target(10, "billing")
    other = goal.with_target("ada", 1, Target(12))
    assert other.target("ada", 1) == Target(12)  # a Target replaces both
    gone = goal.with_target("ada", 1, None)
    assert gone.target("ada", 1) is None
    new = goal.with_target("support", 2, 7)
    assert new.target("support", 2) == Target(7)
    assert goal.target("ada", 1) == Target(10, "billing")


@pytest.mark.parametrize(
    ("call", "kind", "field", "value"),
    [
        (lambda: GOAL.with_target("zed", 0, 5), NotFound, "contributor_id", "zed"),
        (lambda: GOAL.with_target("ada", 4, 5), NotFound, "milestone_index", 4),
        (lambda: GOAL.with_target("ada", -1, 5), NotFound, "milestone_index", -1),
        (lambda: sg.Goal.with_target(GOAL, "ada", True, 5), NotFound, "milestone_index", True),
        (lambda: GOAL.with_target("ada", 1, 0), InvalidInput, "targets.ada[1]", 0),
        (
            lambda: GOAL.with_target("ada", 1, timedelta(hours=1)),
            InvalidInput,
            "targets.ada[1].amount",
            timedelta(hours=1),
        ),
        (lambda: GOAL.target("ada", 9), NotFound, "milestone_index", 9),
        (lambda: GOAL.with_targets("zed", 5), NotFound, "contributor_id", "zed"),
        (lambda: GOAL.with_targets("ada", [1, 2]), InvalidInput, "targets.ada", [1, 2]),
        (lambda: GOAL.apply_target(5, ["ada", "zed"]), NotFound, "contributor_id", "zed"),
        (lambda: GOAL.apply_target(5, "ada"), InvalidInput, "contributor_ids", "ada"),
        (lambda: GOAL.apply_target(0), InvalidInput, "targets.ada", 0),
        (lambda: GOAL.apply_pipeline("support", "ada"), InvalidInput, "contributor_ids", "ada"),
        (lambda: GOAL.without_contributor("zed"), NotFound, "contributor_id", "zed"),
        (lambda: GOAL.copy_for(DAN, id="g2", targets=[1]), InvalidInput, "targets.dan", [1]),
        (lambda: GOAL.copy_for(DAN, id=""), InvalidInput, "id", ""),
        (lambda: sg.Goal.copy_for(GOAL, "dan", id="g2"), InvalidInput, "contributors", "dan"),
        (
            lambda: GOAL.with_pipelines({"support", "billing"}),
            ImmutableField,
            "pipelines",
            ["billing", "support"],
        ),
        (lambda: GOAL.with_contributor(DAN), ImmutableField, "contributors", "dan"),
        (
            lambda: GOAL.with_contributor(Contributor.team("billing")),
            ImmutableField,
            "contributors",
            "billing",
        ),
    ],
)
def test_edit_errors_name_the_field_and_the_value(
    call: Any, kind: type[servicegoals.ServiceGoalsError], field: str, value: object
) -> None:
    with raises(kind, field, value):
        call()


def test_with_targets_replaces_a_whole_row() -> None:
    goal = GOAL.with_targets("support", 20)
    assert goal.targets[1] == (Target(20),) * 4
    goal = goal.with_targets("support", [None, 1, Target(2), None])
    assert goal.targets[1] == (None, Target(1), Target(2), None)
    assert goal.with_targets("support", None).targets[1] == (None,) * 4
    assert goal.targets[0] == GOAL.targets[0]


def test_apply_target_sets_every_milestone_and_keeps_cell_pipelines() -> None:
    goal = make(
        pipelines={"support", "billing"},
        targets={"ada": [Target(1, "billing"), None, Target(3), None], "support": 9},
    )
    applied = goal.apply_target(15, ["ada"])
    assert applied.targets[0] == (Target(15, "billing"), Target(15), Target(15), Target(15))
    assert applied.targets[1] == goal.targets[1]
    everyone = goal.apply_target(20)
    assert everyone.targets[1] == (Target(20),) * 4
    assert everyone.target("ada", 0) == Target(20, "billing")


def test_apply_pipeline_sets_the_pipeline_of_every_target() -> None:
    goal = make(pipelines={"support", "billing"}, targets={"ada": [1, None, 3, 4]})
    applied = goal.apply_pipeline("billing", ["ada"])
    assert applied.targets[0] == (
        Target(1, "billing"),
        None,
        Target(3, "billing"),
        Target(4, "billing"),
    )
    assert applied.effective_pipelines("ada", 0) == frozenset({"billing"})
    assert applied.effective_pipelines("ada", 1) == frozenset({"support", "billing"})
    with raises(InvalidInput, "targets.ada[0].pipeline", "sales"):
        goal.apply_pipeline("sales")


def test_without_contributor_deletes_the_contributor_and_its_cells() -> None:
    goal = GOAL.without_contributor("ada")
    assert goal.contributor_ids == ("support",)
    assert goal.targets == (GOAL.targets[1],)
    assert GOAL.contributor_ids == ("ada", "support")
    with raises(InvalidInput, "contributors", "support"):
        goal.without_contributor("support")  # the last one: delete the goal instead


def test_copy_for_creates_a_new_goal_for_a_new_member() -> None:
    goal = make(pipelines={"support"}, notifications=NotificationSettings(on_achieved=True))
    later = CREATED + timedelta(days=3)
    copy = goal.copy_for(DAN, id="g2", targets=12, created_at=later, created_by="ada")
    assert copy.id == "g2"
    assert copy.contributors == (Contributor.user("dan"),)
    assert copy.targets == ((Target(12),) * 4,)
    for same in ("name", "kpi", "cadence", "span", "align_to_fiscal_year", "milestones"):
        assert getattr(copy, same) == getattr(goal, same)
    assert copy.pipelines == goal.pipelines
    assert copy.notifications == goal.notifications
    assert copy.created_by == "ada"
    assert copy.created_at == later
    assert goal.copy_for(BILLING, id="g3").targets == ((None,) * 4,)


# -- people -----------------------------------------------------------------------------


def test_team_members_are_users_in_the_team_or_a_descendant() -> None:
    assert DIRECTORY.descendants("support") == {"support", "tier2", "tier3"}
    assert DIRECTORY.descendants("tier3") == {"tier3"}
    assert DIRECTORY.descendants("nobody") == {"nobody"}
    assert DIRECTORY.members("support") == (ADA, BOB, CY)
    assert DIRECTORY.members("tier2") == (ADA, CY)
    assert DIRECTORY.members("billing") == ()
    assert DIRECTORY.find_user("ada") is ADA
    assert DIRECTORY.find_user("zed") is None
    assert DIRECTORY.find_team("tier2") is TIER2
    assert DIRECTORY.find_team("zed") is None


def test_is_active() -> None:
    assert DIRECTORY.is_active(Contributor.of(ADA))
    assert not DIRECTORY.is_active(Contributor.of(CY))  # deactivated
    assert not DIRECTORY.is_active(Contributor.user("zed"))  # unknown
    assert DIRECTORY.is_active(Contributor.of(SUPPORT))
    assert not DIRECTORY.is_active(Contributor.team("zed"))


def test_users_and_contributors() -> None:
    assert DAN.team_ids == frozenset()
    assert DAN.active
    assert User("u", "U", team_ids=["a", "b", "a"]).team_ids == {"a", "b"}
    assert Contributor.of(Contributor.user("x")) == Contributor.user("x")
    assert Contributor.of(SUPPORT) == Contributor(ContributorKind.TEAM, "support")


@pytest.mark.parametrize(
    ("make_it", "field", "value"),
    [
        (lambda: sg.User("", "Ada"), "user.id", ""),
        (lambda: sg.User("u1", ""), "user.name", ""),
        (lambda: sg.User("u1", "Ada", email=""), "user.email", ""),
        (lambda: sg.User("u1", "Ada", active="yes"), "user.active", "yes"),
        (lambda: sg.User("u1", "Ada", team_ids="support"), "user.team_ids", "support"),
        (lambda: sg.User("u1", "Ada", team_ids=[""]), "user.team_ids", ""),
        (lambda: sg.User("u1", "Ada", team_ids=5), "user.team_ids", 5),
        (lambda: sg.Team("", "Support"), "team.id", ""),
        (lambda: sg.Team("t1", None), "team.name", None),
        (lambda: sg.Team("t1", "Support", parent_id=""), "team.parent_id", ""),
        (lambda: sg.Contributor("user", "u1"), "contributor.kind", "user"),
        (lambda: sg.Contributor.user(""), "contributor.id", ""),
        (lambda: sg.Contributor.of("ada"), "contributors", "ada"),
        (lambda: sg.Directory(users="ada"), "users", "ada"),
        (lambda: sg.Directory(teams=5), "teams", 5),
        (lambda: sg.Directory([ADA, "bob"]), "users[1]", "bob"),
        (lambda: sg.Directory([ADA, User("ada", "Ada Two")]), "users[1].id", "ada"),
        (lambda: sg.Directory(teams=[SUPPORT, SUPPORT]), "teams[1].id", "support"),
        (lambda: sg.Directory(teams=[SUPPORT, None]), "teams[1]", None),
        (lambda: sg.Directory(teams=[TIER2]), "teams[0].parent_id", "support"),
        (
            lambda: sg.Directory(teams=[Team("a", "A", parent_id="b"), Team("b", "B", "a")]),
            "teams.parent_id",
            "a",
        ),
        (lambda: sg.Directory(teams=[Team("a", "A", parent_id="a")]), "teams.parent_id", "a"),
        (lambda: sg.Target(0), "target.amount", 0),
        (lambda: sg.Target(-1), "target.amount", -1),
        (lambda: sg.Target(True), "target.amount", True),
        (lambda: sg.Target(1.5), "target.amount", 1.5),
        (lambda: sg.Target("3"), "target.amount", "3"),
        (lambda: sg.Target(timedelta(0)), "target.amount", timedelta(0)),
        (lambda: sg.Target(timedelta(hours=-1)), "target.amount", timedelta(hours=-1)),
        (lambda: sg.Target(5, ""), "target.pipeline", ""),
        (lambda: sg.NotificationSettings(on_achieved="yes"), "on_achieved", "yes"),
        (lambda: sg.NotificationSettings(on_exceeded=None), "on_exceeded", None),
        (lambda: sg.NotificationSettings(on_missed=0), "on_missed", 0),
        (lambda: sg.NotificationSettings(on_milestone_start=1), "on_milestone_start", 1),
        (
            lambda: sg.NotificationSettings(progress_percents=[50, 0]),
            "notifications.progress_percents",
            0,
        ),
        (
            lambda: sg.NotificationSettings(progress_percents=[True]),
            "notifications.progress_percents",
            True,
        ),
        (
            lambda: sg.NotificationSettings(progress_percents=50),
            "notifications.progress_percents",
            50,
        ),
    ],
)
def test_people_targets_and_settings_validation(make_it: Any, field: str, value: object) -> None:
    with raises(InvalidInput, field, value):
        make_it()


@pytest.mark.parametrize(
    "thing",
    [GOAL, ADA, SUPPORT, Target(5), NotificationSettings(), DIRECTORY, Contributor.of(ADA)],
    ids=lambda thing: type(thing).__name__,
)
def test_goals_and_people_are_immutable(thing: Any) -> None:
    name = attrs.fields(type(thing))[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(thing, name, getattr(thing, name))


# -- properties -------------------------------------------------------------------------


def amounts(goal: Goal) -> st.SearchStrategy[int | timedelta]:
    if goal.kpi.unit is Unit.DURATION:
        return st.timedeltas(timedelta(seconds=1), timedelta(days=3))
    return st.integers(1, 1000)


@given(goal=goals(max_days=400))
def test_generated_goals_hold_every_invariant(goal: Goal) -> None:
    assert attrs.evolve(goal) == goal  # the constructor accepts it again
    assert goal.milestones[0].period.start == goal.span.start
    assert goal.milestones[-1].period.end == goal.span.end
    assert len(set(goal.contributor_ids)) == len(goal.contributors) >= 1
    assert len(goal.targets) == len(goal.contributors)
    assert all(len(row) == len(goal.milestones) for row in goal.targets)
    for cid in goal.contributor_ids:
        for j in range(len(goal.milestones)):
            pipes = goal.effective_pipelines(cid, j)
            if goal.pipelines:  # a cell's own pipeline is one of the goal's
                assert pipes
                assert pipes <= goal.pipelines
    assert goal.can_forecast is (len(goal.pipelines) <= 1 and goal.cadence is not Cadence.YEARLY)


@given(goal=goals(max_days=400), data=st.data())
def test_edits_keep_goals_valid(goal: Goal, data: st.DataObject) -> None:
    amount = data.draw(amounts(goal))
    cid = data.draw(st.sampled_from(goal.contributor_ids))
    applied = goal.apply_target(amount, [cid])
    i = goal.contributor_index(cid)
    for old, new in zip(goal.targets[i], applied.targets[i], strict=True):
        assert new is not None
        assert new.amount == amount
        assert new.pipeline == (old.pipeline if old else None)
    for k, row in enumerate(goal.targets):
        if k != i:
            assert applied.targets[k] == row
    if len(goal.contributors) > 1:
        smaller = goal.without_contributor(cid)
        assert cid not in smaller.contributor_ids
        assert len(smaller.targets) == len(goal.targets) - 1
    copy = goal.copy_for(Contributor.user("newcomer"), id="copy", targets=amount)
    assert copy.milestones == goal.milestones
    assert copy.targets == ((Target(amount),) * len(goal.milestones),)
    assert attrs.evolve(copy) == copy


@given(directory=directories())
def test_team_members_follow_the_team_tree(directory: Directory) -> None:
    def ancestors(team_id: str) -> set[str]:
        found = set()
        current: str | None = team_id
        while current is not None:
            found.add(current)
            team = directory.find_team(current)
            current = team.parent_id if team else None
        return found

    for team in directory.teams:
        below = directory.descendants(team.id)
        assert team.id in below
        assert all(team.id in ancestors(d) for d in below)
        expected = tuple(
            u for u in directory.users if any(team.id in ancestors(t) for t in u.team_ids)
        )
        assert directory.members(team.id) == expected


@given(directory=directories(), data=st.data())
def test_goals_from_a_directory_measure_its_people(
    directory: Directory, data: st.DataObject
) -> None:
    if not (directory.users or directory.teams):
        with raises(InvalidInput, "directory", directory):
            data.draw(goals(directory=directory))
        return
    goal = data.draw(goals(directory=directory, max_days=120))
    for c in goal.contributors:
        found = (
            directory.find_user(c.id)
            if c.kind is ContributorKind.USER
            else directory.find_team(c.id)
        )
        assert found is not None


def test_milestones_are_fixed_at_creation() -> None:
    oslo = make()
    # The same dates in another zone give other instants; the goal keeps its own.
    other = AccountSettings(timezone="America/New_York", fiscal_year_start_month=4)
    assert oslo.milestones != milestones(
        Cadence.QUARTERLY, fiscal_year(2027, other), other, align_to_fiscal_year=True
    )
    assert all(isinstance(m, Milestone) for m in oslo.milestones)
