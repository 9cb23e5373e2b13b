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
from .kpis import (
    SERVICE_TEMPLATES,
    Aggregation,
    Contribution,
    Direction,
    Kpi,
    PropertyValue,
    Reopen,
    Ticket,
    TicketEvent,
    Unit,
)
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

_TEMPLATES = tuple(SERVICE_TEMPLATES.values())

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
    return st.integers(1, 100 if kpi.unit is Unit.PERCENT else 500)


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
    kpis: st.SearchStrategy[Kpi],
    cadences: Sequence[Cadence],
    span: Period | None,
    max_days: int,
    max_contributors: int,
    pipelines: Sequence[str],
) -> Goal:
    account = draw(account_settings()) if settings is None else settings
    kpi = draw(kpis)
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
    kpis: Sequence[Kpi] | st.SearchStrategy[Kpi] = _TEMPLATES,
    cadences: Sequence[Cadence] = tuple(Cadence),
    span: Period | None = None,
    max_days: int = 731,
    max_contributors: int = 4,
    pipelines: Sequence[str] = PIPELINES,
) -> st.SearchStrategy[Goal]:
    """Valid goals of any KPI and cadence, with user and team contributors.

    The KPI is one of ``kpis`` (the service templates by default), or drawn from
    ``kpis`` when it is a strategy, such as `kpis()` for custom KPIs.

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
        kpis if isinstance(kpis, st.SearchStrategy) else st.sampled_from(tuple(kpis)),
        tuple(cadences),
        span,
        max_days,
        max_contributors,
        tuple(pipelines),
    )


# == Hypothesis strategies: ticket properties ================================

#: The ticket properties that `kpis` filter on, sum and place tickets by, and that
#: ``tickets(properties=True)`` gives every ticket (``due`` to some).
CHANNELS: tuple[str, ...] = ("email", "chat", "phone")
TIERS: tuple[int, ...] = (1, 2, 3)
#: An int >= 0 that PROPERTY contributions read (cents, say).
AMOUNT = "amount"
#: An aware datetime that the PROPERTY event places tickets by.
DUE = "due"
#: Amounts in steps of 50 (and thresholds often among them), so that a value on a
#: SHARE threshold, the edge case, is drawn often.
_AMOUNTS = st.integers(0, 20).map(lambda n: n * 50)


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
    properties: bool,
    reopens: bool,
) -> Ticket:
    delay = max_delay // timedelta(microseconds=1)
    created = draw(st.integers(window.start_us - delay, window.end_us - 1))

    def instant(us: int) -> datetime:
        return from_us(us).astimezone(draw(st.sampled_from(_TICKET_ZONES)))

    def later() -> int | None:
        if draw(st.booleans()):
            return None
        return created + draw(st.integers(0, delay))

    def shown(us: int | None) -> datetime | None:
        return None if us is None else instant(us)

    def maybe(ids: Sequence[str]) -> str | None:
        return draw(st.none() | st.sampled_from(ids))

    ticket_id = draw(st.integers(0, 10**9).map("ticket-{}".format))
    created_at = instant(created)
    pipeline = draw(st.sampled_from(pipelines))
    owner, team = maybe(owner_ids), maybe(team_ids)
    first = later()
    first_at = shown(first)
    closed = later()
    closed_at = shown(closed)
    # Only drawn when asked for, so that the other tickets' examples stay as they were.
    history: list[Reopen] = []
    if reopens and closed is not None and draw(st.booleans()):
        close = draw(st.integers(created, closed))
        history.append(Reopen(from_us(close), from_us(draw(st.integers(close, closed)))))
    extra: dict[str, PropertyValue] = {}
    if properties:
        extra["channel"] = draw(st.sampled_from(CHANNELS))
        extra["tier"] = draw(st.sampled_from(TIERS))
        extra[AMOUNT] = draw(_AMOUNTS)
        due = later()
        if due is not None:
            extra[DUE] = from_us(due)
    return Ticket(
        id=ticket_id,
        created_at=created_at,
        pipeline=pipeline,
        owner_id=owner,
        team_id=team,
        first_response_at=first_at,
        closed_at=closed_at,
        reopens=history,
        properties=extra,
    )


def tickets(
    goal: Goal | None = None,
    *,
    directory: Directory | None = None,
    window: Period | None = None,
    pipelines: Sequence[str] | None = None,
    max_delay: timedelta = timedelta(days=45),
    properties: bool = False,
    reopens: bool = False,
) -> st.SearchStrategy[Ticket]:
    """Valid tickets, optionally aimed at a goal.

    With ``properties``, every ticket has the properties that `kpis` read: a
    ``channel`` of `CHANNELS`, a ``tier`` of `TIERS`, an `AMOUNT` of 0 to 1,000 in steps of 50
    and, for some, a `DUE` datetime up to ``max_delay`` after creation.  With
    ``reopens``, some closed tickets were closed and reopened once before.

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
        properties,
        reopens,
    )


# == Hypothesis strategies: custom KPIs =======================================

_STARTS = (
    TicketEvent.CREATED,
    TicketEvent.FIRST_RESPONSE,
    TicketEvent.CLOSED,
    TicketEvent.FIRST_CLOSE,
)


@st.composite
def _kpi(draw: st.DrawFn, aggregations: tuple[Aggregation, ...]) -> Kpi:
    aggregation = draw(st.sampled_from(aggregations))
    if aggregation is Aggregation.COUNT:
        contribution = Contribution.ONE
        event = draw(st.sampled_from(TicketEvent))
    else:
        contribution = draw(st.sampled_from((Contribution.DURATION, Contribution.PROPERTY)))
        event = draw(st.sampled_from([e for e in TicketEvent if e is not TicketEvent.REOPENED]))
    threshold: int | timedelta | None = None
    if aggregation is Aggregation.SHARE:
        unit = Unit.PERCENT
        if contribution is Contribution.DURATION:
            threshold = draw(st.timedeltas(timedelta(0), timedelta(days=3)))
        else:
            threshold = draw(_AMOUNTS | st.integers(0, 1_000))
    else:
        unit = {
            Contribution.ONE: Unit.COUNT,
            Contribution.DURATION: Unit.DURATION,
            Contribution.PROPERTY: Unit.COUNT,
        }[contribution]
    percentile = None
    if aggregation is Aggregation.PERCENTILE:
        whole = st.integers(1, 100)
        percentile = draw(whole | st.fractions(0, 100, max_denominator=1000).filter(bool))
    # Filters on one property, both or neither; half of them allow two values or
    # more, so that filtered goals still count tickets.
    where: dict[str, frozenset[str | int]] = {}
    choices: tuple[tuple[str, tuple[str | int, ...]], ...] = (
        ("channel", CHANNELS),
        ("tier", TIERS),
    )
    for name, values in choices:
        if draw(st.booleans()):
            several = st.frozensets(st.sampled_from(values), min_size=2)
            where[name] = draw(several | st.just(frozenset(values[:1])))
    return Kpi(
        key=draw(st.integers(0, 10**6).map("custom-{}".format)),
        label=draw(st.text(min_size=1, max_size=60).filter(str.strip)),
        unit=unit,
        direction=draw(st.sampled_from(Direction)),
        event=event,
        contribution=contribution,
        aggregation=aggregation,
        # Mostly from creation: a later start often comes after the event, and counts nothing.
        start=draw(st.just(TicketEvent.CREATED) | st.sampled_from(_STARTS)),
        threshold=threshold,
        percentile=percentile,
        value_property=AMOUNT if contribution is Contribution.PROPERTY else None,
        event_property=DUE if event is TicketEvent.PROPERTY else None,
        where=where,
    )


def kpis(*, aggregations: Sequence[Aggregation] = tuple(Aggregation)) -> st.SearchStrategy[Kpi]:
    """Valid custom KPIs of the ``aggregations``, over every event and contribution.

    A count counts tickets by any event (reopens included); the other aggregations
    take a duration from any single event (under the goal's clock policy) or the int
    property `AMOUNT`, by any event but reopens; `TicketEvent.PROPERTY` places
    tickets by the datetime property `DUE`.  Shares get a threshold of 0 to 3 days
    (or 0 to 1,000), percentiles any p in (0, 100]; half filter on ``channel``
    (`CHANNELS`) and half on ``tier`` (`TIERS`).  ``tickets(properties=True)``
    draws tickets that have these properties.  Use them in goals with
    ``goals(kpis=kpis())``.
    """
    found = tuple(aggregations)
    if not found or not all(isinstance(a, Aggregation) for a in found):
        raise InvalidInput("aggregations", aggregations, "expected one Aggregation or more")
    return _kpi(found)
