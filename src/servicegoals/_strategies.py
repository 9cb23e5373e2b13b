"""Hypothesis strategies of `servicegoals.testing`: valid calendars, people, goals, tickets.

Kept apart so that the rest of `servicegoals.testing` imports without
hypothesis; `servicegoals.testing` loads this module when a strategy is first
used.  Import the strategies from `servicegoals.testing`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from fractions import Fraction

from hypothesis import strategies as st

from ._validate import from_us
from .calendar import (
    MAX_SPAN_YEARS,
    AccountSettings,
    Cadence,
    Period,
    Weekday,
    date_range,
    day_start,
)
from .errors import InvalidInput
from .goals import (
    Contributor,
    ContributorKind,
    Directory,
    Goal,
    NotificationSettings,
    Target,
    Team,
    User,
)
from .kpis import SERVICE_TEMPLATES, Kpi, Ticket, Unit
from .worktime import Holidays, Schedule, Slot

_DAY = timedelta(days=1)
_DAY_US = 86_400_000_000


def _check_days(min_days: int, max_days: int) -> None:
    if not 1 <= min_days <= max_days:
        raise InvalidInput("min_days", min_days, f"expected 1 <= min_days <= max_days ({max_days})")
    if max_days > MAX_SPAN_YEARS * 365:
        raise InvalidInput("max_days", max_days, f"spans are limited to {MAX_SPAN_YEARS} years")


# == Hypothesis strategies: time zones and calendars ==========================

#: Time zones whose rules make calendar math interesting; `timezones`
#: draws them often and shrinks towards them.
TRICKY_TIMEZONES: tuple[str, ...] = (
    "UTC",
    "America/New_York",  # DST at 02:00: March is 31 days minus an hour
    "Europe/Oslo",
    "Australia/Lord_Howe",  # a 30-minute daylight-saving shift
    "Asia/Kathmandu",  # UTC+05:45
    "America/Santiago",  # DST starts at midnight: 2026-09-06 begins at 01:00
    "America/Havana",  # a missing midnight in March, a repeated one in November
)


def timezones(*, allow_prefix: bool = True) -> st.SearchStrategy[str]:
    """IANA time zone names that `AccountSettings` accepts.

    The tricky zones of `TRICKY_TIMEZONES` or any key the system knows
    (``hypothesis.strategies.timezone_keys``; ``allow_prefix`` admits the
    ``posix/`` and ``right/`` variants).
    """
    return _timezones(allow_prefix)


# Cached: building timezone_keys() walks the time zone database on disk, which
# would otherwise happen on every draw of the composite strategies below.
@functools.cache
def _timezones(allow_prefix: bool) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(TRICKY_TIMEZONES), st.timezone_keys(allow_prefix=allow_prefix))


def account_settings(
    *, zones: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[AccountSettings]:
    """Account calendars: any time zone (from ``zones``), start month and week start."""
    return _account_settings(zones)


@functools.cache
def _account_settings(zones: st.SearchStrategy[str] | None) -> st.SearchStrategy[AccountSettings]:
    return st.builds(
        AccountSettings,
        timezone=timezones() if zones is None else zones,
        fiscal_year_start_month=st.integers(1, 12),
        week_start=st.sampled_from(Weekday),
    )


@st.composite
def _period(
    draw: st.DrawFn,
    settings: AccountSettings | None,
    min_days: int,
    max_days: int,
    min_start: date,
    max_start: date,
) -> Period:
    if draw(st.booleans()):
        # Inclusive dates, as a user types a custom duration.
        account = draw(account_settings()) if settings is None else settings
        first = draw(st.dates(min_start, max_start))
        last = first + (draw(st.integers(min_days, max_days)) - 1) * _DAY
        # A day that a time zone skipped entirely (Pacific/Apia, 2011-12-30) is
        # empty; take the next one so that the period is never empty.
        while day_start(first, account.tz) == day_start(last + _DAY, account.tz):
            last += _DAY
        return date_range(first, last, account)
    # Any two aware instants.  Days and the rest are drawn apart: one integer
    # over so many microseconds would draw mostly short spans.
    start = draw(
        st.datetimes(
            datetime.combine(min_start, time.min),
            datetime.combine(max_start, time.max),
            timezones=st.just(UTC),
        )
    )
    days = draw(st.integers(min_days, max_days))
    rest = 0 if days == max_days else draw(st.integers(0, _DAY_US - 1))
    return Period(start, start + timedelta(days=days, microseconds=rest))


def periods(
    settings: AccountSettings | None = None,
    *,
    min_days: int = 1,
    max_days: int = 3653,
    min_start: date = date(1970, 1, 1),
    max_start: date = date(2099, 12, 31),
) -> st.SearchStrategy[Period]:
    """Spans of ``min_days`` to ``max_days`` days starting between the two dates.

    Half are inclusive date ranges in the account's time zone (``settings``, or a
    drawn one), starting at a local midnight; half run between any two aware
    instants, to the microsecond.
    """
    _check_days(min_days, max_days)
    return _period(settings, min_days, max_days, min_start, max_start)


_WEEK_MINUTES = 7 * 1440


def _longest(minute: int) -> int:
    """The longest slot starting at ``minute``: a whole day from midnight, else under a day."""
    return 1440 if minute % 1440 == 0 else 1439


@st.composite
def _schedule(
    draw: st.DrawFn,
    zones: st.SearchStrategy[str] | None,
    holidays: tuple[date, date] | None,
    minutes: st.SearchStrategy[int] | None,
) -> Schedule:
    zone = draw(timezones() if zones is None else zones)
    # Slot edges are distinct minutes of the week, paired in order, so slots
    # never overlap; a pair a day or more apart is cut to the longest slot.
    if minutes is None:
        spots = st.integers(0, _WEEK_MINUTES - 1)
    else:
        spots = st.builds(lambda day, minute: day * 1440 + minute, st.integers(0, 6), minutes)
    points = sorted(draw(st.sets(spots, max_size=14)))
    edges = [(a, min(b, a + _longest(a))) for a, b in zip(points[::2], points[1::2], strict=False)]
    night: bool = draw(st.booleans())
    if edges and night:
        # A night shift from late Sunday into Monday, up to the first slot.
        start = max(edges[-1][1], _WEEK_MINUTES - 1440 + draw(st.integers(0, 1439)))
        end = min(edges[0][0] + _WEEK_MINUTES, start + _longest(start))
        if start < min(end, _WEEK_MINUTES):
            edges.append((start, end))
    week: list[list[Slot]] = [[] for _ in range(7)]
    for a, b in edges:
        day, minute = divmod(a, 1440)
        week[day].append(Slot(timedelta(minutes=minute), timedelta(minutes=minute + b - a)))
    dates: frozenset[date] = frozenset()
    if holidays is not None:
        dates = draw(st.frozensets(st.dates(*holidays), max_size=30))
    return Schedule(zone, tuple(tuple(day) for day in week), Holidays(dates))


def schedules(
    *,
    zones: st.SearchStrategy[str] | None = None,
    holidays: tuple[date, date] | None = (date(2020, 1, 1), date(2030, 12, 31)),
    minutes: st.SearchStrategy[int] | None = None,
) -> st.SearchStrategy[Schedule]:
    """Working-time schedules: up to seven slots a week on whole minutes, in any zone.

    Slots may run overnight (including Sunday night into Monday); up to 30
    holiday dates are drawn between the two ``holidays`` dates (None: none).
    ``minutes`` draws the minutes of the day that slot edges fall on (0..1439),
    for example the hours around daylight-saving changes.
    """
    return _schedule(zones, holidays, minutes)


# == Hypothesis strategies: people ============================================


@st.composite
def _directory(draw: st.DrawFn, max_users: int, max_teams: int) -> Directory:
    names = st.text(min_size=1, max_size=20)
    teams: list[Team] = []
    for i in range(draw(st.integers(0, max_teams))):
        # A parent is always an earlier team, so the tree never has a cycle.
        parent = draw(st.none() | st.sampled_from([t.id for t in teams])) if teams else None
        teams.append(Team(f"t{i}", draw(names), parent_id=parent))
    team_ids = [t.id for t in teams]
    users = [
        User(
            f"u{i}",
            draw(names),
            email=draw(st.none() | st.just(f"u{i}@example.com")),
            active=draw(st.booleans()),
            team_ids=draw(st.frozensets(st.sampled_from(team_ids))) if team_ids else frozenset(),
        )
        for i in range(draw(st.integers(0, max_users)))
    ]
    return Directory(users, teams)


def directories(*, max_users: int = 6, max_teams: int = 4) -> st.SearchStrategy[Directory]:
    """Valid directories: users ``u0, u1, ...`` in teams ``t0, t1, ...`` of a team tree.

    Users may be inactive and belong to any teams; every parent is an earlier team.
    """
    return _directory(max_users, max_teams)


# == Hypothesis strategies: goals =============================================

#: The pipeline names the strategies draw from.
PIPELINES: tuple[str, ...] = ("support", "billing", "onboarding", "escalations")


def notification_settings() -> st.SearchStrategy[NotificationSettings]:
    """Any notification settings, at-risk thresholds included (exact percents)."""
    return st.builds(
        NotificationSettings,
        on_achieved=st.booleans(),
        on_exceeded=st.booleans(),
        on_missed=st.booleans(),
        progress_percents=st.lists(st.integers(1, 200), max_size=4),
        on_milestone_start=st.booleans(),
        on_at_risk=st.booleans(),
        at_risk_below_percent=_percents(min_value=Fraction(1, 100), max_value=Fraction(200)),
        at_risk_after_percent=_percents(min_value=Fraction(0), max_value=Fraction(100)),
    )


def _percents(*, min_value: Fraction, max_value: Fraction) -> st.SearchStrategy[int | Fraction]:
    """Exact percents: mostly whole ones, sometimes fractions."""
    whole = st.integers(math.ceil(min_value), math.floor(max_value))
    return whole | st.fractions(min_value, max_value, max_denominator=100)


def _amounts(kpi: Kpi) -> st.SearchStrategy[int | timedelta]:
    if kpi.unit is Unit.DURATION:
        return st.timedeltas(timedelta(microseconds=1), timedelta(days=30))
    return st.integers(1, 500)


def _contributors(
    draw: st.DrawFn, directory: Directory | None, max_contributors: int
) -> list[Contributor]:
    if directory is None:
        pool = [Contributor.user(f"u{i}") for i in range(6)]
        pool += [Contributor.team(f"t{i}") for i in range(4)]
    else:
        pool = [Contributor.of(u) for u in directory.users]
        pool += [Contributor.of(t) for t in directory.teams]
        if not pool:
            raise InvalidInput("directory", directory, "has no users or teams to measure")
    return draw(
        st.lists(
            st.sampled_from(pool), min_size=1, max_size=max_contributors, unique_by=lambda c: c.id
        )
    )


@st.composite
def _goal(
    draw: st.DrawFn,
    settings: AccountSettings | None,
    directory: Directory | None,
    kpis: Sequence[Kpi],
    cadences: Sequence[Cadence],
    span: Period | None,
    max_days: int,
    max_contributors: int,
    pipelines: Sequence[str],
) -> Goal:
    account = draw(account_settings()) if settings is None else settings
    kpi = draw(st.sampled_from(kpis))
    cadence = draw(st.sampled_from(cadences))
    aligned = cadence is not Cadence.CUSTOM and draw(st.booleans())
    if span is None:
        span = draw(periods(account, max_days=max_days))
    contributors = _contributors(draw, directory, max_contributors)
    users = [c.id for c in contributors if c.kind is ContributorKind.USER]
    goal_pipelines = draw(st.frozensets(st.sampled_from(pipelines), max_size=3))
    # A cell's pipeline must be one of the goal's when the goal has any.
    cell_pipeline = st.none() | st.sampled_from(sorted(goal_pipelines or pipelines))
    amount = _amounts(kpi)
    cell = st.none() | st.builds(Target, amount, cell_pipeline)
    goal = Goal.create(
        id=draw(st.integers(0, 10**6).map("g{}".format)),
        name=draw(st.text(min_size=1, max_size=200).filter(str.strip)),
        kpi=kpi,
        cadence=cadence,
        span=span,
        settings=account,
        align_to_fiscal_year=aligned,
        contributors=contributors,
        pipelines=goal_pipelines,
        notifications=draw(notification_settings()),
        created_at=span.start - draw(st.integers(0, 30)) * _DAY,
        created_by=draw(st.none() | st.sampled_from(users)) if users else None,
    )
    for c in contributors:
        # No target at all, one amount for every milestone, or one cell each.
        how = draw(st.sampled_from(["none", "same", "cells"]))
        if how == "same":
            goal = goal.with_targets(c.id, draw(amount))
        elif how == "cells":
            count = len(goal.milestones)
            goal = goal.with_targets(c.id, draw(st.lists(cell, min_size=count, max_size=count)))
    return goal


def goals(
    settings: AccountSettings | None = None,
    *,
    directory: Directory | None = None,
    kpis: Sequence[Kpi] = tuple(SERVICE_TEMPLATES.values()),
    cadences: Sequence[Cadence] = tuple(Cadence),
    span: Period | None = None,
    max_days: int = 731,
    max_contributors: int = 4,
    pipelines: Sequence[str] = PIPELINES,
) -> st.SearchStrategy[Goal]:
    """Valid goals of any KPI and cadence, with user and team contributors.

    Contributors come from ``directory`` when given (else ids ``u0..u5`` and
    ``t0..t3``, as `directories` names them).  The goal may have pipelines
    and each contributor has no targets, one amount for every milestone, or a
    target (possibly with its own pipeline) or None per milestone.  The span is
    ``span`` or a drawn one of at most ``max_days`` days.  Goal ids are ``g<n>``;
    draw lists with ``st.lists(goals(), unique_by=lambda g: g.id)``.
    """
    _check_days(1, max_days)
    return _goal(
        settings,
        directory,
        tuple(kpis),
        tuple(cadences),
        span,
        max_days,
        max_contributors,
        tuple(pipelines),
    )


# == Hypothesis strategies: tickets ===========================================

#: Zones tickets' instants are shown in: the same instant in another zone must
#: count the same.
_TICKET_ZONES: tuple[tzinfo, ...] = (
    UTC,
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=5, minutes=45)),
    timezone(timedelta(hours=14)),
)


@st.composite
def _ticket(
    draw: st.DrawFn,
    window: Period,
    owner_ids: Sequence[str],
    team_ids: Sequence[str],
    pipelines: Sequence[str],
    max_delay: timedelta,
) -> Ticket:
    delay = max_delay // timedelta(microseconds=1)
    created = draw(st.integers(window.start_us - delay, window.end_us - 1))

    def instant(us: int) -> datetime:
        return from_us(us).astimezone(draw(st.sampled_from(_TICKET_ZONES)))

    def later() -> datetime | None:
        if draw(st.booleans()):
            return None
        return instant(created + draw(st.integers(0, delay)))

    def maybe(ids: Sequence[str]) -> str | None:
        return draw(st.none() | st.sampled_from(ids))

    return Ticket(
        id=draw(st.integers(0, 10**9).map("ticket-{}".format)),
        created_at=instant(created),
        pipeline=draw(st.sampled_from(pipelines)),
        owner_id=maybe(owner_ids),
        team_id=maybe(team_ids),
        first_response_at=later(),
        closed_at=later(),
    )


def tickets(
    goal: Goal | None = None,
    *,
    directory: Directory | None = None,
    window: Period | None = None,
    pipelines: Sequence[str] | None = None,
    max_delay: timedelta = timedelta(days=45),
) -> st.SearchStrategy[Ticket]:
    """Valid tickets, optionally aimed at a goal.

    Tickets are created in ``window`` (default: the goal's span, else 2026 in
    UTC) or up to ``max_delay`` before it; a first response and a close each
    come, or not, up to ``max_delay`` after creation, so their events fall
    before, in and after the window.  Owners and teams are the goal's users and
    teams (with ``directory``: its users, and every team), plus ``outsider``
    ids that no goal measures, or none.  Pipelines are ``pipelines`` (default:
    the goal's and its cells', else `PIPELINES`, plus ``other``).
    Ticket ids are ``ticket-<n>``; draw lists with ``unique_by=lambda t: t.id``.
    """
    owners: set[str] = set()
    teams: set[str] = set()
    names: set[str] = set()
    if directory is not None:
        owners.update(u.id for u in directory.users)
        teams.update(t.id for t in directory.teams)
    if goal is not None:
        for c in goal.contributors:
            (teams if c.kind is ContributorKind.TEAM else owners).add(c.id)
        names.update(goal.pipelines)
        names.update(t.pipeline for row in goal.targets for t in row if t and t.pipeline)
        window = goal.span if window is None else window
    if window is None:
        window = Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    names = (names or set(PIPELINES)) | {"other"} if pipelines is None else set(pipelines)
    if not names:
        raise InvalidInput("pipelines", pipelines, "expected at least one pipeline name")
    if max_delay < timedelta(0):
        raise InvalidInput("max_delay", max_delay, "must not be negative")
    return _ticket(
        window,
        sorted(owners | {"outsider"}),
        sorted(teams | {"outsider-team"}),
        sorted(names),
        max_delay,
    )
