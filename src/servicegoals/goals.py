"""Contributors and goals: who is measured, on what, with which targets.

Goals are immutable; every edit returns a new goal.  Pipelines cannot change
after creation and contributors cannot be added: a new team member gets a new
goal with the same settings ([`Goal.copy_for`][]).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, TypeAlias

import attrs
from attrs import field, frozen

from ._validate import aware, by_id, checked, flag, identifier, integer, text, whole
from .calendar import AccountSettings, Cadence, Milestone, Period, _check_span, milestones
from .clock import DEFAULT_POLICY, ClockPolicy
from .errors import ImmutableField, InvalidInput, NotFound
from .kpis import Kpi, Unit

__all__ = [
    "Contributor",
    "ContributorKind",
    "Directory",
    "Goal",
    "NotificationSettings",
    "Target",
    "TargetSpec",
    "Team",
    "User",
]

NAME_MAX = 200


def _items(field: str, value: Any) -> tuple[Any, ...]:
    """The items of a collection; a string or a non-collection is an error, not a surprise."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidInput(field, value, "expected a collection")
    return tuple(value)


def _team_ids(value: Iterable[str]) -> frozenset[str]:
    return frozenset(identifier("user.team_ids", t) for t in _items("user.team_ids", value))


@frozen
class User:
    """A support user.  ``team_ids`` are the teams the user is a member of."""

    id: str = field(validator=checked(identifier, "user.id"))
    name: str = field(validator=checked(text, "user.name"))
    email: str | None = field(default=None, validator=checked(text, "user.email", optional=True))
    active: bool = field(default=True, validator=checked(flag, "user.active"))
    team_ids: frozenset[str] = field(default=frozenset(), converter=_team_ids)


@frozen
class Team:
    """A team; ``parent_id`` makes it a child team of another."""

    id: str = field(validator=checked(identifier, "team.id"))
    name: str = field(validator=checked(text, "team.name"))
    parent_id: str | None = field(
        default=None, validator=checked(identifier, "team.parent_id", optional=True)
    )


class ContributorKind(enum.Enum):
    USER = "user"
    TEAM = "team"


def _kind(value: Any) -> None:
    if not isinstance(value, ContributorKind):
        raise InvalidInput("contributor.kind", value, "expected ContributorKind.USER or TEAM")


@frozen
class Contributor:
    """A reference to the user or team a goal measures."""

    kind: ContributorKind = field(validator=lambda _, __, v: _kind(v))
    id: str = field(validator=checked(identifier, "contributor.id"))

    @classmethod
    def user(cls, id: str) -> Contributor:
        return cls(ContributorKind.USER, id)

    @classmethod
    def team(cls, id: str) -> Contributor:
        return cls(ContributorKind.TEAM, id)

    @classmethod
    def of(cls, who: User | Team | Contributor) -> Contributor:
        """The reference to a user, a team, or a reference itself."""
        if isinstance(who, Contributor):
            return who
        if isinstance(who, User):
            return cls.user(who.id)
        if isinstance(who, Team):
            return cls.team(who.id)
        raise InvalidInput("contributors", who, "expected a User, Team or Contributor")


def _users(value: Iterable[User]) -> tuple[User, ...]:
    return _items("users", value)


def _teams(value: Iterable[Team]) -> tuple[Team, ...]:
    return _items("teams", value)


@frozen
class Directory:
    """An account's people: its users and its team tree."""

    users: tuple[User, ...] = field(default=(), converter=_users)
    teams: tuple[Team, ...] = field(default=(), converter=_teams)
    _users: dict[str, User] = field(init=False, eq=False, repr=False)
    _teams: dict[str, Team] = field(init=False, eq=False, repr=False)
    _children: dict[str, list[str]] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        users = by_id("users", self.users, User)
        teams = by_id("teams", self.teams, Team)
        children: dict[str, list[str]] = {}
        for i, team in enumerate(self.teams):
            if team.parent_id is None:
                continue
            if team.parent_id not in teams:
                raise InvalidInput(f"teams[{i}].parent_id", team.parent_id, "unknown team")
            children.setdefault(team.parent_id, []).append(team.id)
        for team in self.teams:  # a cycle would make "descendants" endless
            seen = {team.id}
            parent = team.parent_id
            while parent is not None:
                if parent in seen:
                    raise InvalidInput("teams.parent_id", team.id, "team tree has a cycle")
                seen.add(parent)
                parent = teams[parent].parent_id
        object.__setattr__(self, "_users", users)
        object.__setattr__(self, "_teams", teams)
        object.__setattr__(self, "_children", children)

    def find_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def find_team(self, team_id: str) -> Team | None:
        return self._teams.get(team_id)

    def descendants(self, team_id: str) -> frozenset[str]:
        """``team_id`` and every team below it."""
        found = {team_id}
        stack = [team_id]
        while stack:
            for child in self._children.get(stack.pop(), ()):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return frozenset(found)

    def members(self, team_id: str) -> tuple[User, ...]:
        """Users in ``team_id`` or any team below it, in directory order."""
        teams = self.descendants(team_id)
        return tuple(u for u in self.users if u.team_ids & teams)

    def is_active(self, contributor: Contributor) -> bool:
        """False for deactivated or unknown users and unknown teams."""
        if contributor.kind is ContributorKind.USER:
            user = self._users.get(contributor.id)
            return user is not None and user.active
        return contributor.id in self._teams


def _amount(value: Any) -> int | timedelta:
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise InvalidInput("target.amount", value, "a target duration must be positive")
        return value
    return integer("target.amount", value, low=1)


@frozen
class Target:
    """A target for one contributor and milestone.

    ``amount`` is a positive int for COUNT KPIs and a positive timedelta for
    DURATION KPIs; ``pipeline`` restricts the cell to one of the goal's pipelines.
    """

    amount: int | timedelta = field(converter=_amount)
    pipeline: str | None = field(
        default=None, validator=checked(identifier, "target.pipeline", optional=True)
    )

    @property
    def value(self) -> int:
        """The amount as an int: a count, or a duration in microseconds."""
        if isinstance(self.amount, timedelta):
            return self.amount // timedelta(microseconds=1)
        return self.amount


def _percents(value: Iterable[int]) -> tuple[int, ...]:
    name = "notifications.progress_percents"
    found = [integer(name, p, low=1) for p in _items(name, value)]
    return tuple(sorted(set(found)))


def _exact_percent(name: str, value: Any, *, zero: bool, high: int | None) -> int | Fraction:
    """An exact percent (an int or a Fraction, never a float) up to ``high``.

    It must be positive, or at least 0 when ``zero`` is allowed; a whole
    Fraction becomes an int.
    """
    if isinstance(value, bool) or not isinstance(value, (int, Fraction)):
        raise InvalidInput(name, value, "expected an exact percent: an int or a Fraction")
    if value < 0 or (value == 0 and not zero):
        raise InvalidInput(name, value, "must be at least 0" if zero else "must be above 0")
    if high is not None and value > high:
        raise InvalidInput(name, value, f"must be at most {high}")
    return value.numerator if value.denominator == 1 else Fraction(value)


def _below(value: Any) -> int | Fraction:
    return _exact_percent("notifications.at_risk_below_percent", value, zero=False, high=None)


def _after(value: Any) -> int | Fraction:
    return _exact_percent("notifications.at_risk_after_percent", value, zero=True, high=100)


@frozen
class NotificationSettings:
    """Which events notify a goal's contributors (all off by default).

    The at-risk settings also decide which rows a forecast flags as at risk:
    a row is at risk when its forecast attainment is below
    ``at_risk_below_percent`` once ``at_risk_after_percent`` of its milestone
    has elapsed (see `servicegoals.forecast`).  Both are exact percents.
    """

    on_achieved: bool = field(default=False, validator=checked(flag, "on_achieved"))
    on_exceeded: bool = field(default=False, validator=checked(flag, "on_exceeded"))
    on_missed: bool = field(default=False, validator=checked(flag, "on_missed"))
    progress_percents: tuple[int, ...] = field(default=(), converter=_percents)
    on_milestone_start: bool = field(default=False, validator=checked(flag, "on_milestone_start"))
    on_at_risk: bool = field(default=False, validator=checked(flag, "on_at_risk"))
    at_risk_below_percent: int | Fraction = field(default=100, converter=_below)
    at_risk_after_percent: int | Fraction = field(default=25, converter=_after)


#: How a target can be given to [`Goal.create`][]: one amount (or Target) for
#: every milestone, or a sequence with one per milestone (None = no target).
TargetSpec: TypeAlias = int | timedelta | Target | Sequence[int | timedelta | Target | None] | None


def _as_target(field_name: str, value: Any) -> Target | None:
    if value is None or isinstance(value, Target):
        return value
    try:
        return Target(value)
    except InvalidInput as exc:
        raise InvalidInput(field_name, value, exc.reason) from None


def _expand(field_name: str, spec: Any, count: int) -> tuple[Target | None, ...]:
    if isinstance(spec, (int, timedelta, Target)) or spec is None:
        one = _as_target(field_name, spec)
        return (one,) * count
    if isinstance(spec, (str, bytes)) or not isinstance(spec, Sequence):
        raise InvalidInput(field_name, spec, "expected an amount or one amount per milestone")
    if len(spec) != count:
        raise InvalidInput(
            field_name, spec, f"expected {count} targets, one per milestone, got {len(spec)}"
        )
    return tuple(_as_target(f"{field_name}[{i}]", v) for i, v in enumerate(spec))


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput("name", value, "expected a string")
    stripped = value.strip()
    if not 1 <= len(stripped) <= NAME_MAX:
        raise InvalidInput("name", value, f"must be 1 to {NAME_MAX} characters after stripping")
    return stripped


def _pipelines(value: Any) -> frozenset[str]:
    return frozenset(identifier("pipelines", p) for p in _items("pipelines", value))


def _milestones(value: Any) -> tuple[Milestone, ...]:
    return _items("milestones", value)


def _contributors(value: Any) -> tuple[Contributor, ...]:
    return _items("contributors", value)


def _targets(value: Any) -> tuple[tuple[Target | None, ...], ...]:
    return _items("targets", value)


#: The span limit is checked in UTC here, where the account's time zone is unknown; a
#: span can look up to a day longer in UTC than in its zone, hence the slack.
_SPAN_SLACK = timedelta(days=2)


def _check_span_length(span: Period) -> None:
    """Refuse spans over the limit that `milestones()` enforces (explicit milestones too)."""
    if not isinstance(span, Period) or span.end - span.start <= _SPAN_SLACK:
        return
    try:
        _check_span(Period(span.start, span.end - _SPAN_SLACK), UTC)
    except InvalidInput as exc:
        raise InvalidInput("span", span, exc.reason) from None


@frozen
class Goal:
    """A service goal: a KPI, contributors, milestones and targets.

    ``targets[i][j]`` is the target of ``contributors[i]`` in ``milestones[j]``;
    ``None`` means no target for that milestone (no row in a report).  Build
    goals with [`create`][], which fixes the milestones from the account's
    settings; the constructor checks that every part fits together.
    """

    id: str = field(validator=checked(identifier, "id"))
    name: str = field(converter=_name)
    kpi: Kpi
    cadence: Cadence
    span: Period
    align_to_fiscal_year: bool
    milestones: tuple[Milestone, ...] = field(converter=_milestones)
    contributors: tuple[Contributor, ...] = field(converter=_contributors)
    pipelines: frozenset[str] = field(converter=_pipelines)
    targets: tuple[tuple[Target | None, ...], ...] = field(converter=_targets)
    notifications: NotificationSettings
    created_at: datetime = field(validator=checked(aware, "created_at"))
    created_by: str | None = field(
        default=None, validator=checked(identifier, "created_by", optional=True)
    )
    #: How response and resolution times are timed (see "Ticket histories").
    clock_policy: ClockPolicy = DEFAULT_POLICY

    def __attrs_post_init__(self) -> None:
        for name, kind in (
            ("kpi", Kpi),
            ("cadence", Cadence),
            ("span", Period),
            ("notifications", NotificationSettings),
            ("clock_policy", ClockPolicy),
        ):
            if not isinstance(getattr(self, name), kind):
                raise InvalidInput(name, getattr(self, name), f"expected a {kind.__name__}")
        flag("align_to_fiscal_year", self.align_to_fiscal_year)
        self._check_milestones()
        self._check_contributors()
        self._check_targets()

    def _check_milestones(self) -> None:
        _check_span_length(self.span)
        ms = self.milestones
        if not ms:
            raise InvalidInput("milestones", ms, "a goal needs at least one milestone")
        expected_start = self.span.start
        for i, m in enumerate(ms):
            if not isinstance(m, Milestone) or m.index != i:
                raise InvalidInput(f"milestones[{i}]", m, f"expected Milestone number {i}")
            if m.period.start != expected_start:
                raise InvalidInput(
                    f"milestones[{i}].period.start", m.period.start, "milestones must be contiguous"
                )
            expected_start = m.period.end
        if expected_start != self.span.end:
            raise InvalidInput("milestones", expected_start, "milestones must end with the span")
        if self.cadence is Cadence.CUSTOM and len(ms) != 1:
            raise InvalidInput("milestones", len(ms), "a custom goal has exactly one milestone")

    def _check_contributors(self) -> None:
        if not self.contributors:
            raise InvalidInput("contributors", self.contributors, "a goal needs a contributor")
        seen: set[str] = set()
        for i, c in enumerate(self.contributors):
            if not isinstance(c, Contributor):
                raise InvalidInput(f"contributors[{i}]", c, "expected a Contributor")
            if c.id in seen:
                raise InvalidInput(f"contributors[{i}].id", c.id, "duplicate contributor id")
            seen.add(c.id)

    def _check_targets(self) -> None:
        if len(self.targets) != len(self.contributors):
            raise InvalidInput(
                "targets", len(self.targets), "expected one row of targets per contributor"
            )
        want = timedelta if self.kpi.unit is Unit.DURATION else int
        for c, row in zip(self.contributors, self.targets, strict=True):
            if not isinstance(row, tuple) or len(row) != len(self.milestones):
                raise InvalidInput(
                    f"targets.{c.id}", row, f"expected {len(self.milestones)} targets"
                )
            for j, t in enumerate(row):
                where = f"targets.{c.id}[{j}]"
                if t is None:
                    continue
                if not isinstance(t, Target):
                    raise InvalidInput(where, t, "expected a Target or None")
                if not isinstance(t.amount, want):
                    raise InvalidInput(
                        f"{where}.amount",
                        t.amount,
                        f"a {self.kpi.unit.value} goal needs a {want.__name__} target",
                    )
                if self.kpi.unit is Unit.PERCENT and t.value > 100:
                    raise InvalidInput(
                        f"{where}.amount", t.amount, "a percent target is at most 100"
                    )
                if t.pipeline is not None and self.pipelines and t.pipeline not in self.pipelines:
                    raise InvalidInput(
                        f"{where}.pipeline",
                        t.pipeline,
                        f"not one of the goal's pipelines {sorted(self.pipelines)}",
                    )

    # -- construction ----------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        id: str,
        name: str,
        kpi: Kpi,
        cadence: Cadence,
        span: Period,
        settings: AccountSettings,
        contributors: Iterable[User | Team | Contributor],
        targets: Mapping[str, TargetSpec] | None = None,
        pipelines: Iterable[str] = (),
        align_to_fiscal_year: bool = False,
        notifications: NotificationSettings | None = None,
        created_at: datetime | None = None,
        created_by: str | None = None,
        clock_policy: ClockPolicy = DEFAULT_POLICY,
    ) -> Goal:
        """Create a goal, fixing its milestones from the account's ``settings``.

        Args:
            id: the goal's id (no NUL, no lone surrogates).
            name: 1 to 200 characters after stripping.
            kpi: what is measured, such as `CLOSED_TICKETS`.
            cadence: how the span splits into milestones.
            span: the goal's period, usually from `date_range` or `fiscal_year`.
            settings: the account's calendar, which fixes the milestones now, so
                that evaluating the goal later needs no settings.
            contributors: users and teams, each at most once, at least one.
            targets: contributor id to one amount for every milestone, or a
                sequence with one amount (or None: no target) per milestone;
                amounts are positive ints for counts and positive timedeltas
                for durations, or `Target`s with a pipeline.
            pipelines: the goal's pipelines (none: every pipeline).
            align_to_fiscal_year: quarters and years follow the fiscal year.
            notifications: which events notify contributors (none by default).
            created_at: when the goal was created (now by default).
            created_by: who created it.
            clock_policy: how response and resolution times are timed.

        Returns:
            The new goal.

        Raises:
            InvalidInput: any argument is wrong; the error names the field and
                value (``targets.u7[3]``, ``span``, ``contributors[1].id``).
        """
        ms = milestones(cadence, span, settings, align_to_fiscal_year=align_to_fiscal_year)
        refs = tuple(Contributor.of(c) for c in _items("contributors", contributors))
        if targets is not None and not isinstance(targets, Mapping):
            raise InvalidInput(
                "targets", targets, "expected a mapping of contributor id to targets"
            )
        given = dict(targets or {})
        known = {c.id for c in refs}
        for cid in given:
            if cid not in known:
                raise InvalidInput(f"targets.{cid}", cid, "not a contributor of this goal")
        rows = tuple(_expand(f"targets.{c.id}", given.get(c.id), len(ms)) for c in refs)
        return cls(
            id=id,
            name=name,
            kpi=kpi,
            cadence=cadence,
            span=span,
            align_to_fiscal_year=align_to_fiscal_year,
            milestones=ms,
            contributors=refs,
            pipelines=pipelines,
            targets=rows,
            notifications=notifications or NotificationSettings(),
            created_at=created_at or datetime.now(UTC),
            created_by=created_by,
            clock_policy=clock_policy,
        )

    # -- reading ----------------------------------------------------------------

    @property
    def contributor_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.contributors)

    def contributor_index(self, contributor_id: str) -> int:
        for i, c in enumerate(self.contributors):
            if c.id == contributor_id:
                return i
        raise NotFound("contributor_id", contributor_id)

    def contributor(self, contributor_id: str) -> Contributor:
        return self.contributors[self.contributor_index(contributor_id)]

    def _milestone_index(self, index: int) -> int:
        if not whole(index):  # True is not milestone 1
            raise NotFound("milestone_index", index)
        if not 0 <= index < len(self.milestones):
            raise NotFound("milestone_index", index)
        return index

    def target(self, contributor_id: str, milestone_index: int) -> Target | None:
        """The target of one cell, or None when that milestone has none."""
        row = self.targets[self.contributor_index(contributor_id)]
        return row[self._milestone_index(milestone_index)]

    def effective_pipelines(self, contributor_id: str, milestone_index: int) -> frozenset[str]:
        """The pipelines a cell counts: its own, else the goal's (empty = all)."""
        t = self.target(contributor_id, milestone_index)
        if t is not None and t.pipeline is not None:
            return frozenset({t.pipeline})
        return self.pipelines

    @property
    def can_forecast(self) -> bool:
        """False for goals with more than one pipeline or a yearly cadence."""
        return len(self.pipelines) <= 1 and self.cadence is not Cadence.YEARLY

    # -- edits (each returns a new goal) -------------------------------------------

    def _with_row(self, contributor_id: str, row: tuple[Target | None, ...]) -> Goal:
        i = self.contributor_index(contributor_id)
        rows = (*self.targets[:i], row, *self.targets[i + 1 :])
        return attrs.evolve(self, targets=rows)

    def _chosen(self, contributor_ids: Iterable[str] | None) -> tuple[str, ...]:
        if contributor_ids is None:
            return self.contributor_ids
        return _items("contributor_ids", contributor_ids)

    def with_name(self, name: str) -> Goal:
        return attrs.evolve(self, name=name)

    def with_notifications(self, notifications: NotificationSettings) -> Goal:
        return attrs.evolve(self, notifications=notifications)

    def with_target(
        self, contributor_id: str, milestone_index: int, target: int | timedelta | Target | None
    ) -> Goal:
        """Set (or with None, remove) one cell's target.

        An amount keeps the cell's pipeline; a Target replaces both.
        """
        old = self.target(contributor_id, milestone_index)
        new = _as_target(f"targets.{contributor_id}[{milestone_index}]", target)
        if new is not None and not isinstance(target, Target) and old is not None:
            new = Target(new.amount, old.pipeline)
        row = list(self.targets[self.contributor_index(contributor_id)])
        row[milestone_index] = new
        return self._with_row(contributor_id, tuple(row))

    def with_targets(self, contributor_id: str, targets: TargetSpec) -> Goal:
        """Replace every target of one contributor (an amount, or one per milestone)."""
        row = _expand(f"targets.{contributor_id}", targets, len(self.milestones))
        self.contributor_index(contributor_id)
        return self._with_row(contributor_id, row)

    def apply_target(
        self, amount: int | timedelta, contributor_ids: Iterable[str] | None = None
    ) -> Goal:
        """The product's "apply target": the same amount on every milestone.

        Applies to the chosen contributors (all when None), keeping cell pipelines.
        """
        new = self
        for cid in self._chosen(contributor_ids):
            row = self.targets[self.contributor_index(cid)]
            base = _as_target(f"targets.{cid}", amount)
            assert base is not None
            cells = tuple(Target(base.amount, t.pipeline if t else None) for t in row)
            new = new._with_row(cid, cells)
        return new

    def apply_pipeline(self, pipeline: str, contributor_ids: Iterable[str] | None = None) -> Goal:
        """The product's "apply pipeline": one pipeline on every milestone's target.

        Cells without a target stay without one (a pipeline needs an amount).
        """
        new = self
        for cid in self._chosen(contributor_ids):
            row = self.targets[self.contributor_index(cid)]
            cells = tuple(None if t is None else Target(t.amount, pipeline) for t in row)
            new = new._with_row(cid, cells)
        return new

    def with_pipelines(self, pipelines: Iterable[str]) -> Goal:
        """Always refused: a goal's pipelines are fixed at creation."""
        raise ImmutableField(
            "pipelines", sorted(pipelines), "pipelines are fixed when a goal is created"
        )

    def with_contributor(self, contributor: User | Team | Contributor) -> Goal:
        """Always refused: create a new goal for the new member with [`copy_for`][]."""
        ref = Contributor.of(contributor)
        raise ImmutableField(
            "contributors",
            ref.id,
            "contributors cannot be added to a goal; use Goal.copy_for() to create a "
            "new goal with the same settings for the new member",
        )

    def without_contributor(self, contributor_id: str) -> Goal:
        """Delete one contributor's goal: the contributor and its cells.

        Refused for the last contributor (delete the goal instead).
        """
        i = self.contributor_index(contributor_id)
        if len(self.contributors) == 1:
            raise InvalidInput(
                "contributors", contributor_id, "the last contributor: delete the goal instead"
            )
        return attrs.evolve(
            self,
            contributors=self.contributors[:i] + self.contributors[i + 1 :],
            targets=self.targets[:i] + self.targets[i + 1 :],
        )

    def copy_for(
        self,
        contributor: User | Team | Contributor,
        *,
        id: str,
        targets: TargetSpec = None,
        created_at: datetime | None = None,
        created_by: str | None = None,
    ) -> Goal:
        """A new goal with this goal's settings and milestones for one new contributor."""
        ref = Contributor.of(contributor)
        row = _expand(f"targets.{ref.id}", targets, len(self.milestones))
        return attrs.evolve(
            self,
            id=id,
            contributors=(ref,),
            targets=(row,),
            created_at=created_at or datetime.now(UTC),
            created_by=created_by,
        )
