"""Managing goals: creating, finding, details and edits, each checked first.

Pure: no I/O.  Every management function takes the `Actor` and the `Account`
and asks the account's permission policy (`servicegoals.permissions`) before it
does anything else, so a refused call has no effect and reveals nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, NoReturn

from attrs import field, frozen

from ._validate import by_id, require, whole
from .calendar import Cadence, Milestone, Period
from .errors import InvalidInput, NotFound
from .goals import (
    Contributor,
    ContributorKind,
    Directory,
    Goal,
    NotificationSettings,
    Target,
    TargetSpec,
    Team,
    User,
)
from .kpis import KPI_TEMPLATES, Kpi
from .permissions import (
    Account,
    Action,
    Actor,
    GoalShape,
    authorize,
    check_permission,
)
from .status import GoalReport, Progress, Status

__all__ = [
    "Deletion",
    "GoalDetails",
    "GoalFilter",
    "GoalMatch",
    "MilestoneDetail",
    "MilestoneType",
    "add_contributor",
    "change_pipelines",
    "copy_goal_for",
    "create_goal",
    "delete_contributor",
    "edit_notifications",
    "edit_target",
    "goal_details",
    "list_goals",
    "milestone_type",
    "rename_goal",
    "select_goals",
]


# == Creating =================================================================


def create_goal(
    actor: Actor,
    account: Account,
    *,
    id: str,
    name: str,
    kpi: Kpi,
    cadence: Cadence,
    span: Period,
    contributors: Iterable[User | Team | Contributor],
    targets: dict[str, TargetSpec] | None = None,
    pipelines: Iterable[str] = (),
    align_to_fiscal_year: bool = False,
    notifications: NotificationSettings | None = None,
    created_at: datetime | None = None,
) -> Goal:
    """Create a goal with the account's calendar, created by ``actor``.

    The plan rules are checked before the goal is built (see [`Goal.create`][]
    for the arguments).
    """
    refs = tuple(Contributor.of(c) for c in contributors)
    authorize(actor, account, Action.CREATE, None)  # argument and seat errors first
    require("kpi", kpi, Kpi)
    authorize(actor, account, Action.CREATE, GoalShape.planned(kpi, refs))
    return Goal.create(
        id=id,
        name=name,
        kpi=kpi,
        cadence=cadence,
        span=span,
        settings=account.settings,
        contributors=refs,
        targets=targets,
        pipelines=pipelines,
        align_to_fiscal_year=align_to_fiscal_year,
        notifications=notifications,
        created_at=created_at,
        created_by=actor.user_id,
    )


def copy_goal_for(
    actor: Actor,
    account: Account,
    goal: Goal,
    contributor: User | Team | Contributor,
    *,
    id: str,
    targets: TargetSpec = None,
    created_at: datetime | None = None,
) -> Goal:
    """A new goal with ``goal``'s settings for a new team member (see [`Goal.copy_for`][]).

    Contributors cannot be added to a goal; this is how a new member gets one.
    """
    ref = Contributor.of(contributor)
    authorize(actor, account, Action.CREATE, None)
    authorize(actor, account, Action.CREATE, GoalShape.planned(goal.kpi, (ref,)))
    return goal.copy_for(
        ref, id=id, targets=targets, created_at=created_at, created_by=actor.user_id
    )


# == Finding goals ============================================================


class MilestoneType(enum.Enum):
    """The kind of calendar unit a goal's milestones are.

    The cadence, with quarters and years split into calendar and fiscal ones;
    weeks and months are the same whether or not the goal follows the fiscal year.
    """

    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    FISCAL_QUARTER = "fiscal_quarter"
    YEAR = "year"
    FISCAL_YEAR = "fiscal_year"
    CUSTOM = "custom"


_MILESTONE_TYPES = {
    (Cadence.WEEKLY, False): MilestoneType.WEEK,
    (Cadence.WEEKLY, True): MilestoneType.WEEK,
    (Cadence.MONTHLY, False): MilestoneType.MONTH,
    (Cadence.MONTHLY, True): MilestoneType.MONTH,
    (Cadence.QUARTERLY, False): MilestoneType.QUARTER,
    (Cadence.QUARTERLY, True): MilestoneType.FISCAL_QUARTER,
    (Cadence.YEARLY, False): MilestoneType.YEAR,
    (Cadence.YEARLY, True): MilestoneType.FISCAL_YEAR,
    (Cadence.CUSTOM, False): MilestoneType.CUSTOM,
}


def milestone_type(goal: Goal) -> MilestoneType:
    """The kind of the goal's milestones (``FISCAL_QUARTER`` for ``FY2027-Q1``)."""
    return _MILESTONE_TYPES[(goal.cadence, goal.align_to_fiscal_year)]


def _to_set(name: str, kind: type, value: Any, parse: Any = None) -> frozenset[Any]:
    """A frozenset of ``kind`` (items parsed by ``parse``); a lone string is no collection."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidInput(name, value, f"expected a collection of {kind.__name__}")
    items = set()
    for item in value:
        if parse is not None:
            items.add(parse(item))
        elif isinstance(item, kind) and item != "":
            items.add(item)
        else:
            raise InvalidInput(name, item, f"expected a non-empty {kind.__name__}")
    return frozenset(items)


def _by_value(name: str, kind: type[enum.Enum]) -> Any:
    def parse(value: Any) -> enum.Enum:
        try:
            return kind(value)
        except ValueError:
            known = ", ".join(repr(m.value) for m in kind)
            raise InvalidInput(name, value, f"expected one of {known}") from None

    return parse


def _kpi_key(value: Any) -> str:
    if isinstance(value, Kpi):
        return value.key
    if isinstance(value, str) and value in KPI_TEMPLATES:
        return value
    raise InvalidInput("kpis", value, f"expected a Kpi or a KPI key ({', '.join(KPI_TEMPLATES)})")


# Named converters: the attrs plugin of mypy reads their parameter types.
def _kpis(value: Iterable[Kpi | str]) -> frozenset[str]:
    return _to_set("kpis", Kpi, value, _kpi_key)


def _cadences(value: Iterable[Cadence | str]) -> frozenset[Cadence]:
    return _to_set("cadences", Cadence, value, _by_value("cadences", Cadence))


def _milestone_types(value: Iterable[MilestoneType | str]) -> frozenset[MilestoneType]:
    return _to_set(
        "milestone_types", MilestoneType, value, _by_value("milestone_types", MilestoneType)
    )


def _statuses(value: Iterable[Status | str]) -> frozenset[Status]:
    return _to_set("statuses", Status, value, _by_value("statuses", Status))


def _users(value: Iterable[str]) -> frozenset[str]:
    return _to_set("users", str, value)


def _teams(value: Iterable[str]) -> frozenset[str]:
    return _to_set("teams", str, value)


def _pipelines(value: Iterable[str]) -> frozenset[str]:
    return _to_set("pipelines", str, value)


def _percent(name: str, value: Any) -> Fraction | None:
    if value is None or isinstance(value, Fraction):
        return value
    if whole(value):
        return Fraction(value)
    raise InvalidInput(name, value, "expected an int or a Fraction (exact, never a float)")


def _min_percent(value: int | Fraction | None) -> Fraction | None:
    return _percent("min_percent", value)


def _max_percent(value: int | Fraction | None) -> Fraction | None:
    return _percent("max_percent", value)


def _name_part(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("name", value, "expected a non-empty string (None matches any name)")
    return value.strip()


@frozen
class GoalFilter:
    """Which goals (and which of their rows) to list.

    Every criterion left empty (or None) matches everything.  Criteria are
    ANDed; the several values of one criterion are ORed.  The filter looks at a
    report's cell rows (one contributor, one milestone): a goal is listed when
    one of its rows passes every criterion.  With no row criteria (only
    ``kpis``, ``name``, ``cadences`` and ``milestone_types``) a goal that
    has no rows yet (no report, or no targets) is listed too.

    * ``period``: the row's milestone overlaps this period;
    * ``kpis``: the goal's KPI (Kpi objects or KPI keys);
    * ``name``: a case-insensitive part of the goal's name;
    * ``cadences``: the goal's duration; ``milestone_types``: see [`MilestoneType`][];
    * ``users``: rows of these user contributors;
    * ``teams``: rows of these team contributors and their child teams, and, with
      the account's directory, of users who are members of them;
    * ``pipelines``: rows whose effective pipelines include one of these (a goal
      that counts every pipeline is not "for" a particular pipeline);
    * ``statuses``: the row's status;
    * ``min_percent`` / ``max_percent``: progress (attainment × 100), inclusive,
      exact (ints or Fractions).  A row without attainment (a duration goal with
      no tickets yet) matches no progress range; an infinitely good row (an
      average of zero) is above every percentage: it passes any minimum and
      fails any maximum.
    """

    period: Period | None = field(default=None)
    kpis: frozenset[str] = field(default=frozenset(), converter=_kpis)
    name: str | None = field(default=None, converter=_name_part)
    cadences: frozenset[Cadence] = field(default=frozenset(), converter=_cadences)
    milestone_types: frozenset[MilestoneType] = field(
        default=frozenset(), converter=_milestone_types
    )
    users: frozenset[str] = field(default=frozenset(), converter=_users)
    teams: frozenset[str] = field(default=frozenset(), converter=_teams)
    pipelines: frozenset[str] = field(default=frozenset(), converter=_pipelines)
    statuses: frozenset[Status] = field(default=frozenset(), converter=_statuses)
    min_percent: Fraction | None = field(default=None, converter=_min_percent)
    max_percent: Fraction | None = field(default=None, converter=_max_percent)

    def __attrs_post_init__(self) -> None:
        if self.period is not None and not isinstance(self.period, Period):
            raise InvalidInput("period", self.period, "expected a Period")
        low, high = self.min_percent, self.max_percent
        if low is not None and high is not None and low > high:
            raise InvalidInput("max_percent", high, f"is below min_percent {low}")

    @property
    def has_row_criteria(self) -> bool:
        """True when some criterion looks at rows rather than at the goal alone."""
        return bool(
            self.period is not None
            or self.users
            or self.teams
            or self.pipelines
            or self.statuses
            or self.min_percent is not None
            or self.max_percent is not None
        )

    def matches_goal(self, goal: Goal) -> bool:
        """The goal-level criteria: KPI, name, cadence and milestone type."""
        return (
            (not self.kpis or goal.kpi.key in self.kpis)
            and (self.name is None or self.name.casefold() in goal.name.casefold())
            and (not self.cadences or goal.cadence in self.cadences)
            and (not self.milestone_types or milestone_type(goal) in self.milestone_types)
        )

    def _in_range(self, row: Progress) -> bool:
        low, high = self.min_percent, self.max_percent
        if low is None and high is None:
            return True
        if row.infinite:
            return high is None
        percent = row.percent
        if percent is None:
            return False
        return (low is None or percent >= low) and (high is None or percent <= high)


@frozen
class _Scope:
    """The contributors a team criterion covers, resolved once per listing."""

    teams: frozenset[str]
    members: frozenset[str]

    @classmethod
    def of(cls, teams: frozenset[str], directory: Directory | None) -> _Scope:
        if directory is None:
            return cls(teams, frozenset())
        below = frozenset().union(*(directory.descendants(t) for t in teams))
        members = frozenset(u.id for t in teams for u in directory.members(t))
        return cls(below, members)

    def covers(self, contributor: Contributor) -> bool:
        if contributor.kind is ContributorKind.TEAM:
            return contributor.id in self.teams
        return contributor.id in self.members


def _row_matches(
    f: GoalFilter, goal: Goal, report: GoalReport, row: Progress, scope: _Scope
) -> bool:
    cid, j = row.contributor_id, row.milestone_index
    assert cid is not None  # cell rows have both
    assert j is not None
    contributor = goal.contributor(cid)
    if f.period is not None and not report.milestones[j].period.overlaps(f.period):
        return False
    if f.users and not (contributor.kind is ContributorKind.USER and cid in f.users):
        return False
    if f.teams and not scope.covers(contributor):
        return False
    if f.pipelines and not (goal.effective_pipelines(cid, j) & f.pipelines):
        return False
    if f.statuses and row.status not in f.statuses:
        return False
    return f._in_range(row)


@frozen
class GoalMatch:
    """A listed goal, its report (None before the first calculation) and its matching rows."""

    goal: Goal
    report: GoalReport | None
    rows: tuple[Progress, ...]


def _reports_by_goal(reports: Iterable[GoalReport]) -> dict[str, GoalReport]:
    found: dict[str, GoalReport] = {}
    for i, report in enumerate(reports):
        if not isinstance(report, GoalReport):
            raise InvalidInput(f"reports[{i}]", report, "expected a GoalReport")
        if report.goal_id in found:
            raise InvalidInput(f"reports[{i}].goal_id", report.goal_id, "two reports for one goal")
        found[report.goal_id] = report
    return found


def select_goals(
    goals: Iterable[Goal],
    reports: Iterable[GoalReport] = (),
    goal_filter: GoalFilter | None = None,
    *,
    directory: Directory | None = None,
) -> tuple[GoalMatch, ...]:
    """The goals (in the given order) that ``goal_filter`` selects, with their matching rows.

    ``reports`` are the goals' latest reports (reports of other goals are
    ignored).  Rows carried forward for deleted contributors are history and
    are not listed.  ``directory`` resolves team membership for ``teams``.
    """
    f = GoalFilter() if goal_filter is None else goal_filter
    require("goal_filter", f, GoalFilter)
    by_goal = _reports_by_goal(reports)
    scope = _Scope.of(f.teams, directory)
    matches = []
    for goal in by_id("goals", goals, Goal).values():
        if not f.matches_goal(goal):
            continue
        report = by_goal.get(goal.id)
        matching: tuple[Progress, ...] = ()
        if report is not None:
            current = set(goal.contributor_ids)
            matching = tuple(
                r
                for r in report.rows
                if r.contributor_id in current and _row_matches(f, goal, report, r, scope)
            )
        if matching or not f.has_row_criteria:
            matches.append(GoalMatch(goal, report, matching))
    return tuple(matches)


def list_goals(
    actor: Actor,
    account: Account,
    goals: Iterable[Goal],
    reports: Iterable[GoalReport] = (),
    goal_filter: GoalFilter | None = None,
) -> tuple[GoalMatch, ...]:
    """[`select_goals`][] for ``actor``, with the account's directory (needs a paid seat)."""
    check_permission(actor, account, Action.LIST)
    return select_goals(goals, reports, goal_filter, directory=account.directory)


# == Details ==================================================================


def _optional_row(
    report: GoalReport | None, contributor_id: str | None, index: int | None
) -> Progress | None:
    if report is None:
        return None
    try:
        if contributor_id is None:
            assert index is not None
            return report.total(index)
        if index is None:
            return report.whole_goal(contributor_id)
        return report.row(contributor_id, index)
    except NotFound:
        return None


@frozen
class MilestoneDetail:
    """One milestone of a contributor's goal: its target, its row and the total row.

    ``progress`` is None when the milestone has no target (or no report yet);
    ``total`` is the milestone's row over all contributors.
    """

    milestone: Milestone
    target: Target | None
    progress: Progress | None
    total: Progress | None

    @property
    def value(self) -> Fraction | None:
        """The measured value: a count, or a mean in microseconds (None without tickets)."""
        return None if self.progress is None else self.progress.value

    @property
    def attainment(self) -> Fraction | None:
        return None if self.progress is None else self.progress.attainment

    @property
    def status(self) -> Status | None:
        return None if self.progress is None else self.progress.status


@frozen
class GoalDetails:
    """One contributor's goal: every milestone, and the roll-up of the whole goal."""

    goal: Goal
    contributor: Contributor
    milestones: tuple[MilestoneDetail, ...]
    whole_goal: Progress | None


def goal_details(
    actor: Actor,
    account: Account,
    goal: Goal,
    report: GoalReport | None,
    contributor_id: str,
) -> GoalDetails:
    """The product's "view details" of one contributor (needs a paid seat).

    ``report`` is the goal's latest report, or None before the first calculation.
    """
    check_permission(actor, account, Action.VIEW, goal)
    contributor = goal.contributor(contributor_id)
    if report is not None:
        require("report", report, GoalReport)
        if report.goal_id != goal.id:
            raise InvalidInput(
                "report.goal_id", report.goal_id, f"not a report of goal {goal.id!r}"
            )
    lines = tuple(
        MilestoneDetail(
            m,
            goal.target(contributor_id, m.index),
            _optional_row(report, contributor_id, m.index),
            _optional_row(report, None, m.index),
        )
        for m in goal.milestones
    )
    return GoalDetails(goal, contributor, lines, _optional_row(report, contributor_id, None))


# == Edits ====================================================================


def edit_target(
    actor: Actor,
    account: Account,
    goal: Goal,
    contributor_id: str,
    amount: int | timedelta | Target | None,
    *,
    milestone_index: int | None = None,
) -> Goal:
    """Set one contributor's target on one milestone, or on every milestone.

    With ``milestone_index`` None, an amount goes on every milestone keeping
    each cell's pipeline (the product's "apply target"); a [`Target`][]
    replaces amount and pipeline everywhere; None removes every target.
    """
    check_permission(actor, account, Action.EDIT, goal)
    if milestone_index is not None:
        return goal.with_target(contributor_id, milestone_index, amount)
    if amount is None or isinstance(amount, Target):
        return goal.with_targets(contributor_id, amount)
    goal.contributor(contributor_id)  # NotFound before anything else
    return goal.apply_target(amount, [contributor_id])


def rename_goal(actor: Actor, account: Account, goal: Goal, name: str) -> Goal:
    """The goal with a new name (1 to 200 characters after stripping)."""
    check_permission(actor, account, Action.EDIT, goal)
    return goal.with_name(name)


def edit_notifications(
    actor: Actor, account: Account, goal: Goal, notifications: NotificationSettings
) -> Goal:
    """The goal with new notification settings."""
    check_permission(actor, account, Action.EDIT, goal)
    return goal.with_notifications(notifications)


def change_pipelines(
    actor: Actor, account: Account, goal: Goal, pipelines: Iterable[str]
) -> NoReturn:
    """Always refused with [`ImmutableField`][]: pipelines are fixed at creation."""
    check_permission(actor, account, Action.EDIT, goal)
    goal.with_pipelines(pipelines)
    raise AssertionError("Goal.with_pipelines always raises")  # pragma: no cover


def add_contributor(
    actor: Actor, account: Account, goal: Goal, contributor: User | Team | Contributor
) -> NoReturn:
    """Always refused with [`ImmutableField`][] pointing to [`Goal.copy_for`][].

    Use [`copy_goal_for`][] to give a new team member a goal of their own.
    """
    check_permission(actor, account, Action.EDIT, goal)
    goal.with_contributor(contributor)
    raise AssertionError("Goal.with_contributor always raises")  # pragma: no cover


@frozen
class Deletion:
    """What deleting a contributor's goal did.

    ``goal`` is the goal without the contributor, or None when it was the last
    contributor and the whole goal was deleted (``goal_deleted``).
    """

    goal_id: str
    contributor_id: str
    goal: Goal | None

    @property
    def goal_deleted(self) -> bool:
        return self.goal is None


def delete_contributor(actor: Actor, account: Account, goal: Goal, contributor_id: str) -> Deletion:
    """Delete one contributor's goal: the contributor and its cells.

    Deleting the last contributor deletes the goal.  Reports keep the deleted
    contributor's last rows (frozen) when the goal is evaluated again.
    """
    check_permission(actor, account, Action.DELETE, goal)
    goal.contributor(contributor_id)  # NotFound for a stranger
    if len(goal.contributors) == 1:
        return Deletion(goal.id, contributor_id, None)
    return Deletion(goal.id, contributor_id, goal.without_contributor(contributor_id))
