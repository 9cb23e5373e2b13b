"""Who may do what with goals: a pure, replaceable permission policy.

Every management function in `servicegoals.manage` asks the account's policy
before it does anything else, so a refused call has no effect and reveals
nothing.  A policy is any object with a `check` method (`PermissionPolicy`);
`ProductTierPolicy`, the default, holds the product's rules
(`docs/managing-goals.md` has the table):

* everyone may create a goal;
* listing, viewing details, editing and deleting need a paid seat
  (rule `paid_seat`);
* creating or editing a goal on a service template (the three service KPIs)
  needs Service Hub Professional or Enterprise (rule `service_templates`);
* creating or editing a goal with both user and team contributors needs
  Professional or Enterprise in the Service or the Sales hub (rule
  `mixed_contributors`).

The plan rules guard what a goal may *become*; an account that moved to a
lower plan can still list, view and delete the goals it has.  A tool without
subscription tiers gives its accounts `OpenPolicy()` or a policy of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from attrs import field, frozen

from ._validate import checked, instance_of, optional, require, text
from .calendar import AccountSettings
from .errors import InvalidInput, PermissionDenied
from .goals import Contributor, ContributorKind, Directory, Goal
from .kpis import SERVICE_TEMPLATES, Kpi

__all__ = [
    "Account",
    "Action",
    "Actor",
    "GoalShape",
    "OpenPolicy",
    "PermissionPolicy",
    "Plan",
    "ProductTierPolicy",
    "Rule",
    "Seat",
    "check_permission",
    "is_allowed",
]


class Plan(enum.Enum):
    """A hub's subscription tier."""

    STARTER = "starter"
    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"

    @property
    def professional_or_above(self) -> bool:
        """True for Professional and Enterprise."""
        return self is not Plan.STARTER


class Seat(enum.Enum):
    """A user's seat: paid seats may manage goals, free seats may only create them."""

    PAID = "paid"
    FREE = "free"


class Action(enum.Enum):
    """What an actor wants to do with goals."""

    CREATE = "create"
    LIST = "list"
    VIEW = "view"
    EDIT = "edit"
    DELETE = "delete"


class Rule(enum.StrEnum):
    """The rules of the product-tier policy; `PermissionDenied` names one."""

    PAID_SEAT = "paid_seat"
    SERVICE_TEMPLATES = "service_templates"
    MIXED_CONTRIBUTORS = "mixed_contributors"


@frozen
class Actor:
    """The user asking, and their seat."""

    user_id: str = field(validator=checked(text, "actor.user_id"))
    seat: Seat = field(validator=instance_of("actor.seat", Seat))


@frozen
class GoalShape:
    """What a policy may look at of the goal acted on: its KPI and contributor kinds.

    For CREATE and EDIT it describes the goal as it would be.
    """

    kpi: Kpi
    contributor_kinds: frozenset[ContributorKind]

    @classmethod
    def of(cls, goal: Goal) -> GoalShape:
        """The shape of an existing goal."""
        return cls(goal.kpi, frozenset(c.kind for c in goal.contributors))

    @classmethod
    def planned(cls, kpi: Kpi, contributors: Iterable[Contributor]) -> GoalShape:
        """The shape of a goal about to be created."""
        return cls(kpi, frozenset(c.kind for c in contributors))


@runtime_checkable
class PermissionPolicy(Protocol):
    """Decides whether an actor may do an action; replaceable per account."""

    def check(self, actor: Actor, account: Account, action: Action, goal: GoalShape | None) -> None:
        """Return when allowed; raise `PermissionDenied` naming the rule otherwise."""
        ...


_VERBS = {
    Action.CREATE: "creating goals",
    Action.LIST: "listing goals",
    Action.VIEW: "viewing goal details",
    Action.EDIT: "editing goals",
    Action.DELETE: "deleting goals",
}


@frozen
class ProductTierPolicy:
    """The product's rules: paid seats manage goals; plans unlock templates and mixes."""

    def check(self, actor: Actor, account: Account, action: Action, goal: GoalShape | None) -> None:
        """Apply the `paid_seat`, `service_templates` and `mixed_contributors` rules."""
        if action is not Action.CREATE and actor.seat is not Seat.PAID:
            raise PermissionDenied(
                Rule.PAID_SEAT.value,
                f"{_VERBS[action]} needs a paid seat; user {actor.user_id!r} has a free seat",
            )
        if goal is not None and action in (Action.CREATE, Action.EDIT):
            self._check_plan(account, goal)

    @staticmethod
    def _check_plan(account: Account, goal: GoalShape) -> None:
        kpi = goal.kpi
        if SERVICE_TEMPLATES.get(kpi.key) == kpi and not account.service_plan.professional_or_above:
            raise PermissionDenied(
                Rule.SERVICE_TEMPLATES.value,
                f"the service goal template {kpi.key!r} needs Service Hub Professional or "
                f"Enterprise; this account has Service Hub {account.service_plan.value}",
            )
        mixed = {ContributorKind.USER, ContributorKind.TEAM} <= goal.contributor_kinds
        plans = (account.service_plan, account.sales_plan)
        if mixed and not any(p is not None and p.professional_or_above for p in plans):
            raise PermissionDenied(
                Rule.MIXED_CONTRIBUTORS.value,
                "a goal with both user and team contributors needs Professional or "
                "Enterprise in the Service or Sales hub",
            )


@frozen
class OpenPolicy:
    """Everyone may do everything: for tools that have no seats or plans."""

    def check(self, actor: Actor, account: Account, action: Action, goal: GoalShape | None) -> None:
        """Always allows."""


def _policy(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, PermissionPolicy):
        raise InvalidInput("account.policy", value, "expected an object with a check() method")


@frozen
class Account:
    """An account: its hubs' plans, its calendar, its people and its permission policy.

    ``service_plan`` is the Service Hub's tier and ``sales_plan`` the Sales
    Hub's (None without one).  ``settings`` fixes new goals' milestones and
    ``directory`` tells which users are members of which teams.  ``policy``
    decides who may do what (the product's rules unless replaced).
    """

    service_plan: Plan = field(validator=instance_of("account.service_plan", Plan))
    sales_plan: Plan | None = field(
        default=None, validator=optional(instance_of("account.sales_plan", Plan))
    )
    settings: AccountSettings = field(
        factory=AccountSettings, validator=instance_of("account.settings", AccountSettings)
    )
    directory: Directory = field(
        factory=Directory, validator=instance_of("account.directory", Directory)
    )
    policy: PermissionPolicy = field(factory=ProductTierPolicy, validator=_policy)


def authorize(actor: Actor, account: Account, action: Action, goal: GoalShape | None) -> None:
    """Check the arguments, then ask the account's policy."""
    require("action", action, Action)
    require("actor", actor, Actor)
    require("account", account, Account)
    account.policy.check(actor, account, action, goal)


def check_permission(
    actor: Actor, account: Account, action: Action, goal: Goal | None = None
) -> None:
    """Raise `PermissionDenied` (naming the rule) unless ``actor`` may do ``action``.

    ``goal`` is the goal acted on (for CREATE and EDIT: the goal as it would
    be); the account's policy decides.
    """
    if goal is not None:
        require("goal", goal, Goal)
    authorize(actor, account, action, None if goal is None else GoalShape.of(goal))


def is_allowed(actor: Actor, account: Account, action: Action, goal: Goal | None = None) -> bool:
    """Whether `check_permission` lets ``actor`` do ``action`` (to show or hide buttons)."""
    try:
        check_permission(actor, account, action, goal)
    except PermissionDenied:
        return False
    return True
