"""The permission policy as a table, and every management function checking it first."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from servicegoals import (
    CLOSED_TICKETS,
    Account,
    AccountSettings,
    Action,
    Actor,
    Cadence,
    ContributorKind,
    Direction,
    Goal,
    GoalShape,
    InvalidInput,
    Kpi,
    NotificationSettings,
    OpenPolicy,
    PermissionDenied,
    Plan,
    ProductTierPolicy,
    Rule,
    Seat,
    Team,
    TicketEvent,
    Unit,
    User,
    add_contributor,
    change_pipelines,
    check_permission,
    copy_goal_for,
    create_goal,
    date_range,
    delete_contributor,
    edit_notifications,
    edit_target,
    evaluate,
    goal_details,
    is_allowed,
    list_goals,
    rename_goal,
)

SETTINGS = AccountSettings()
SPAN = date_range(date(2026, 1, 1), date(2026, 3, 31), SETTINGS)
#: Not one of the service templates: only the contributor rule applies to it.
REOPENED = Kpi(
    "reopened", "Reopened tickets", Unit.COUNT, Direction.LOWER_IS_BETTER, TicketEvent.CLOSED
)


def _goal(kpi: Kpi, contributors: Sequence[User | Team]) -> Goal:
    return Goal.create(
        id="g",
        name="Goal",
        kpi=kpi,
        cadence=Cadence.MONTHLY,
        span=SPAN,
        settings=SETTINGS,
        contributors=contributors,
        targets={c.id: 5 for c in contributors},
        created_at=datetime(2025, 12, 1, tzinfo=UTC),
    )


USERS: list[User | Team] = [User("u1", "Ada"), User("u2", "Bob")]
MIXED: list[User | Team] = [User("u1", "Ada"), Team("t1", "Support")]
GOALS = {
    "template/users": _goal(CLOSED_TICKETS, USERS),
    "template/mixed": _goal(CLOSED_TICKETS, MIXED),
    "custom/users": _goal(REOPENED, USERS),
    "custom/mixed": _goal(REOPENED, MIXED),
}

PAID, FREE = Seat.PAID, Seat.FREE
S, P, E = Plan.STARTER, Plan.PROFESSIONAL, Plan.ENTERPRISE
C, L, V, ED, D = Action.CREATE, Action.LIST, Action.VIEW, Action.EDIT, Action.DELETE
OK = None
SEAT, TEMPLATES, MIXING = Rule.PAID_SEAT, Rule.SERVICE_TEMPLATES, Rule.MIXED_CONTRIBUTORS

# seat, service plan, sales plan, action, goal, refused by (None: allowed)
MATRIX: list[tuple[Seat, Plan, Plan | None, Action, str | None, Rule | None]] = [
    # Everyone may create a goal ...
    (FREE, S, None, C, None, OK),
    (FREE, S, None, C, "custom/users", OK),
    (PAID, S, None, C, "custom/users", OK),
    (FREE, P, None, C, "template/users", OK),
    (FREE, E, None, C, "template/mixed", OK),
    # ... but the service templates need Service Hub Professional or Enterprise,
    (FREE, S, None, C, "template/users", TEMPLATES),
    (PAID, S, E, C, "template/users", TEMPLATES),  # the Sales Hub does not count here
    (PAID, S, None, C, "template/mixed", TEMPLATES),  # the first rule that fails is named
    # ... and users with teams in one goal need Professional+ in Service or Sales.
    (FREE, S, None, C, "custom/mixed", MIXING),
    (PAID, S, S, C, "custom/mixed", MIXING),
    (PAID, S, P, C, "custom/mixed", OK),
    (PAID, P, None, C, "custom/mixed", OK),
    (PAID, P, S, C, "template/mixed", OK),
    # Listing, details, edits and deletes need a paid seat, whatever the plan.
    (FREE, E, E, L, None, SEAT),
    (FREE, E, E, V, "template/users", SEAT),
    (FREE, E, E, ED, "template/users", SEAT),
    (FREE, E, E, D, "custom/users", SEAT),
    (FREE, S, None, ED, "template/mixed", SEAT),  # the seat is checked first
    (PAID, E, None, L, None, OK),
    (PAID, E, None, V, "template/mixed", OK),
    (PAID, E, None, ED, "template/mixed", OK),
    (PAID, E, None, D, "template/mixed", OK),
    (PAID, P, None, ED, "template/users", OK),
    # An account on a lower plan keeps its goals: it may list, view and delete them,
    (PAID, S, None, L, None, OK),
    (PAID, S, None, V, "template/mixed", OK),
    (PAID, S, None, D, "template/mixed", OK),
    (PAID, S, None, D, "custom/mixed", OK),
    # ... but edits must still fit the plan.
    (PAID, S, None, ED, "template/users", TEMPLATES),
    (PAID, S, None, ED, "custom/mixed", MIXING),
    (PAID, S, None, ED, "custom/users", OK),
]


@pytest.mark.parametrize(
    ("seat", "service", "sales", "action", "goal", "refused_by"),
    MATRIX,
    ids=[f"{r[0].value}-{r[1].value}-{r[2] and r[2].value}-{r[3].value}-{r[4]}" for r in MATRIX],
)
def test_permission_matrix(
    seat: Seat,
    service: Plan,
    sales: Plan | None,
    action: Action,
    goal: str | None,
    refused_by: Rule | None,
) -> None:
    actor = Actor("someone", seat)
    account = Account(service, sales)
    target = None if goal is None else GOALS[goal]
    assert is_allowed(actor, account, action, target) is (refused_by is None)
    if refused_by is None:
        check_permission(actor, account, action, target)
        return
    with pytest.raises(PermissionDenied) as caught:
        check_permission(actor, account, action, target)
    assert caught.value.rule == refused_by
    assert repr(refused_by.value) in str(caught.value)


def test_a_paid_enterprise_seat_may_do_everything_and_a_free_one_only_create() -> None:
    for goal in [None, *GOALS.values()]:
        for action in Action:
            assert is_allowed(Actor("a", PAID), Account(E), action, goal)
            assert is_allowed(Actor("a", FREE), Account(E), action, goal) is (action is C)


# -- every management function checks first -----------------------------------------

GOAL = GOALS["template/users"]
REPORT = evaluate(GOAL, {}, at=datetime(2026, 2, 1, tzinfo=UTC))

Call = Callable[[Actor, Account], Any]
# Each call would fail for another reason too (an unknown contributor, a bad
# name, an immutable field): the permission check must come first.
PAID_ONLY: dict[str, Call] = {
    "list_goals": lambda a, acc: list_goals(a, acc, [GOAL, GOAL]),
    "goal_details": lambda a, acc: goal_details(a, acc, GOAL, REPORT, "nobody"),
    "edit_target": lambda a, acc: edit_target(a, acc, GOAL, "nobody", 5),
    "rename_goal": lambda a, acc: rename_goal(a, acc, GOAL, ""),
    "edit_notifications": lambda a, acc: edit_notifications(a, acc, GOAL, "loud"),  # type: ignore[arg-type]
    "change_pipelines": lambda a, acc: change_pipelines(a, acc, GOAL, ["x"]),
    "add_contributor": lambda a, acc: add_contributor(a, acc, GOAL, User("u9", "New")),
    "delete_contributor": lambda a, acc: delete_contributor(a, acc, GOAL, "nobody"),
}
CREATING: dict[str, Call] = {
    "create_goal": lambda a, acc: create_goal(
        a,
        acc,
        id="",  # invalid, but the plan is checked first
        name="x",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.MONTHLY,
        span=SPAN,
        contributors=[User("u1", "Ada")],
    ),
    "copy_goal_for": lambda a, acc: copy_goal_for(a, acc, GOAL, User("u9", "New"), id=""),
}


@pytest.mark.parametrize("name", PAID_ONLY)
def test_management_functions_need_a_paid_seat_before_anything_else(name: str) -> None:
    with pytest.raises(PermissionDenied) as caught:
        PAID_ONLY[name](Actor("free", FREE), Account(E))
    assert caught.value.rule == SEAT


@pytest.mark.parametrize("name", ["edit_target", "rename_goal", "edit_notifications"])
def test_edits_check_the_plan_before_the_edit(name: str) -> None:
    with pytest.raises(PermissionDenied) as caught:
        PAID_ONLY[name](Actor("paid", PAID), Account(S))
    assert caught.value.rule == TEMPLATES


@pytest.mark.parametrize("name", CREATING)
def test_creating_checks_the_plan_before_building_the_goal(name: str) -> None:
    with pytest.raises(PermissionDenied) as caught:
        CREATING[name](Actor("free", FREE), Account(S))
    assert caught.value.rule == TEMPLATES


def test_creating_a_mixed_goal_needs_a_professional_plan() -> None:
    def create(account: Account) -> Goal:
        return create_goal(
            Actor("free", FREE),
            account,
            id="g",
            name="Mixed",
            kpi=REOPENED,
            cadence=Cadence.CUSTOM,
            span=SPAN,
            contributors=MIXED,
            notifications=NotificationSettings(on_missed=True),
            created_at=datetime(2026, 1, 1, tzinfo=UTC) - timedelta(days=1),
        )

    with pytest.raises(PermissionDenied) as caught:
        create(Account(S))
    assert caught.value.rule == MIXING
    assert create(Account(S, P)).created_by == "free"


class _Recording:
    """A policy of a user's own: records what it was asked, refuses deletes."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Action, GoalShape | None]] = []

    def check(self, actor: Actor, account: Account, action: Action, goal: GoalShape | None) -> None:
        self.asked.append((actor.user_id, action, goal))
        if action is Action.DELETE:
            raise PermissionDenied("no_deletes", "deleting is switched off")


def test_an_account_s_own_policy_replaces_the_product_tiers() -> None:
    policy = _Recording()
    account = Account(S, policy=policy)  # Starter: the product's rules would refuse these
    free = Actor("free", FREE)
    goal = GOALS["template/mixed"]
    assert edit_target(free, account, goal, "u1", 7).targets[0][0] is not None
    with pytest.raises(PermissionDenied) as caught:
        delete_contributor(free, account, goal, "u1")
    assert caught.value.rule == "no_deletes"
    kinds = frozenset({ContributorKind.USER, ContributorKind.TEAM})
    assert policy.asked == [
        ("free", ED, GoalShape(CLOSED_TICKETS, kinds)),
        ("free", D, GoalShape(CLOSED_TICKETS, kinds)),
    ]


def test_creating_asks_the_policy_about_the_goal_it_would_build() -> None:
    policy = _Recording()
    created = create_goal(
        Actor("free", FREE),
        Account(S, policy=policy),
        id="g",
        name="Mixed",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.CUSTOM,
        span=SPAN,
        contributors=MIXED,
        created_at=datetime(2025, 12, 1, tzinfo=UTC),
    )
    assert created.created_by == "free"
    shape = GoalShape(CLOSED_TICKETS, frozenset({ContributorKind.USER, ContributorKind.TEAM}))
    assert policy.asked[-1] == ("free", C, shape)


def test_the_open_policy_allows_everything() -> None:
    account = Account(S, policy=OpenPolicy())
    for action in Action:
        check_permission(Actor("free", FREE), account, action, GOALS["template/mixed"])
    assert is_allowed(Actor("free", FREE), account, D, GOALS["custom/mixed"])


def test_a_policy_without_check_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        Account(S, policy="everyone")  # type: ignore[arg-type]
    assert caught.value.field == "account.policy"
    assert Account(S).policy == ProductTierPolicy()
