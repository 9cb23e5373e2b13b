"""A realistic sample account for ``servicegoals demo``, generated from a seed.

Everything here is pure: the same seed and calculation time give the same
people, goals and tickets, so the demo's output is reproducible.  The account
has a fiscal year starting in July, a team tree with a child team, twenty users
(one deactivated two months ago), two pipelines, one goal of each service
template and each cadence, and a few tens of thousands of tickets from the
start of the previous fiscal year up to the calculation time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from attrs import frozen

from ._validate import aware, from_us, to_us
from .calendar import (
    AccountSettings,
    Cadence,
    Period,
    Weekday,
    date_range,
    day_start,
    fiscal_year,
    fiscal_year_of,
)
from .goals import Directory, Goal, NotificationSettings, Team, User
from .kpis import AVG_RESOLUTION_TIME, AVG_RESPONSE_TIME, CLOSED_TICKETS, Ticket

__all__ = ["DEFAULT_SEED", "DemoAccount", "build_account"]

DEFAULT_SEED = 2026
SUPPORT, BILLING = "support", "billing"
PIPELINES = (SUPPORT, BILLING)

_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US
_DEACTIVATED_DAYS_AGO = 60

_TEAMS = (
    Team("customer-support", "Customer Support"),
    Team("tier-2", "Tier 2", parent_id="customer-support"),
    Team("billing-desk", "Billing Desk"),
    Team("onboarding", "Onboarding"),
)

# (id, name, team); the order is the directory's order.
_PEOPLE = (
    ("ada", "Ada Lovelace", "customer-support"),
    ("alan", "Alan Turing", "customer-support"),
    ("grace", "Grace Hopper", "customer-support"),
    ("edsger", "Edsger Dijkstra", "customer-support"),
    ("barbara", "Barbara Liskov", "customer-support"),
    ("donald", "Donald Knuth", "customer-support"),
    ("margaret", "Margaret Hamilton", "customer-support"),
    ("ken", "Ken Thompson", "tier-2"),
    ("radia", "Radia Perlman", "tier-2"),
    ("dennis", "Dennis Ritchie", "tier-2"),
    ("frances", "Frances Allen", "tier-2"),
    ("john", "John Backus", "billing-desk"),
    ("karen", "Karen Spärck Jones", "billing-desk"),
    ("niklaus", "Niklaus Wirth", "billing-desk"),
    ("shafi", "Shafi Goldwasser", "billing-desk"),
    ("tony", "Tony Hoare", "onboarding"),
    ("sophie", "Sophie Wilson", "onboarding"),
    ("leslie", "Leslie Lamport", "onboarding"),
    ("hedy", "Hedy Lamarr", "onboarding"),
    ("guido", "Guido van Rossum", "customer-support"),
)
_DEACTIVATED = "donald"
_MANAGER = "grace"


@frozen
class _Agent:
    """How one user works: share of the team's tickets and response speeds."""

    user_id: str
    team_id: str
    weight: float
    response_hours: float
    resolution_hours: float
    until_us: int | None  # no new tickets after this (deactivated users)


@frozen
class DemoAccount:
    """The sample account: calendar, people, pipelines and goals.

    `tickets` generates the tickets afresh (and identically) on every call,
    so they can be streamed into a store without holding them in memory.
    """

    settings: AccountSettings
    directory: Directory
    pipelines: tuple[str, ...]
    goals: tuple[Goal, ...]
    as_of: datetime
    seed: int
    history: Period

    def tickets(self) -> Iterator[Ticket]:
        """The account's tickets, as they stand at `as_of`, oldest first."""
        return _tickets(self)

    @property
    def estimated_tickets(self) -> int:
        """Roughly how many tickets `tickets` yields (for progress bars)."""
        days = self.history.duration.days + 1
        return days * 62


def build_account(as_of: datetime, *, seed: int = DEFAULT_SEED) -> DemoAccount:
    """The sample account as it stands at ``as_of`` (an aware datetime)."""
    aware("as_of", as_of)
    settings = AccountSettings(
        timezone="Europe/Oslo", fiscal_year_start_month=7, week_start=Weekday.MONDAY
    )
    tz = settings.tz
    today = as_of.astimezone(tz).date()
    users = tuple(
        User(
            uid,
            name,
            email=f"{uid}@example.com",
            active=uid != _DEACTIVATED,
            team_ids=frozenset({team}),
        )
        for uid, name, team in _PEOPLE
    )
    directory = Directory(users, _TEAMS)
    fy = fiscal_year_of(today, settings.fiscal_year_start_month)
    history = Period(fiscal_year(fy - 1, settings).start, as_of)
    goals = _goals(settings, directory, today, fy, as_of)
    return DemoAccount(settings, directory, PIPELINES, goals, as_of, seed, history)


def _members(directory: Directory, team_id: str) -> list[User]:
    return [u for u in directory.users if team_id in u.team_ids]


def _goals(
    settings: AccountSettings, directory: Directory, today: date, fy: int, as_of: datetime
) -> tuple[Goal, ...]:
    """One goal of each service template and each cadence."""
    this_year = fiscal_year(fy, settings)
    both_years = Period(fiscal_year(fy - 1, settings).start, this_year.end)
    quarter_start = _fiscal_quarter_start(today, settings.fiscal_year_start_month)
    quarter = date_range(quarter_start, _add_months(quarter_start, 3) - timedelta(days=1), settings)
    sprint = date_range(today - timedelta(days=41), today + timedelta(days=20), settings)
    created = this_year.start - timedelta(days=14)
    notify = NotificationSettings(
        on_achieved=True, on_exceeded=True, on_missed=True, progress_percents=(50, 100)
    )
    support = _members(directory, "customer-support")
    billing = _members(directory, "billing-desk")
    tier2 = _members(directory, "tier-2")
    onboarding = _members(directory, "onboarding")

    def goal(**fields: Any) -> Goal:
        return Goal.create(settings=settings, created_by=_MANAGER, **fields)

    teams = [t for t in directory.teams if t.id in ("customer-support", "billing-desk")]
    return (
        goal(
            id="monthly-closed",
            name="Close 90 tickets a month",
            kpi=CLOSED_TICKETS,
            cadence=Cadence.MONTHLY,
            span=this_year,
            align_to_fiscal_year=True,
            contributors=support,
            targets={u.id: 90 for u in support},
            notifications=notify,
            created_at=created,
        ),
        goal(
            id="weekly-response",
            name="First answer within two hours",
            kpi=AVG_RESPONSE_TIME,
            cadence=Cadence.WEEKLY,
            span=quarter,
            contributors=teams,
            targets={
                "customer-support": timedelta(hours=2),
                "billing-desk": timedelta(hours=2, minutes=30),
            },
            created_at=quarter.start - timedelta(days=3),
        ),
        goal(
            id="quarterly-resolution",
            name="Tier 2 resolves within a day and a half",
            kpi=AVG_RESOLUTION_TIME,
            cadence=Cadence.QUARTERLY,
            span=this_year,
            align_to_fiscal_year=True,
            contributors=tier2,
            targets={u.id: timedelta(hours=36) for u in tier2},
            notifications=notify,
            created_at=created,
        ),
        goal(
            id="yearly-billing",
            name="Billing tickets closed per fiscal year",
            kpi=CLOSED_TICKETS,
            cadence=Cadence.YEARLY,
            span=both_years,
            align_to_fiscal_year=True,
            pipelines=[BILLING],
            contributors=billing,
            targets={u.id: 950 for u in billing},
            created_at=both_years.start - timedelta(days=10),
        ),
        goal(
            id="onboarding-sprint",
            name="Onboarding sprint: answer within 90 minutes",
            kpi=AVG_RESPONSE_TIME,
            cadence=Cadence.CUSTOM,
            span=sprint,
            pipelines=PIPELINES,
            contributors=onboarding,
            targets={u.id: timedelta(minutes=90) for u in onboarding},
            notifications=notify,
            created_at=min(sprint.start, as_of) - timedelta(days=1),
        ),
    )


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _fiscal_quarter_start(day: date, start_month: int) -> date:
    offset = (day.month - start_month) % 3
    return _add_months(date(day.year, day.month, 1), -offset)


def _agents(account: DemoAccount, rng: random.Random) -> list[_Agent]:
    deactivated = to_us(account.as_of) - _DEACTIVATED_DAYS_AGO * _DAY_US
    agents = []
    for user in account.directory.users:
        (team,) = user.team_ids
        slow = 1.6 if team == "tier-2" else 1.0
        agents.append(
            _Agent(
                user.id,
                team,
                weight=rng.uniform(0.75, 1.3),
                response_hours=rng.uniform(0.9, 2.8) * slow,
                resolution_hours=rng.uniform(16.0, 40.0) * slow,
                until_us=None if user.active else deactivated,
            )
        )
    return agents


def _tickets(account: DemoAccount) -> Iterator[Ticket]:
    """Tickets day by day: more on weekdays, mostly in office hours."""
    rng = random.Random(account.seed)
    agents = _agents(account, rng)
    weights = [a.weight for a in agents]
    tz = account.settings.tz
    end_us = to_us(account.as_of)
    day = account.history.start.astimezone(tz).date()
    last = account.as_of.astimezone(tz).date()
    number = 0
    while day <= last:
        midnight = to_us(day_start(day, tz))
        per_day = rng.randint(70, 90) if day.weekday() < 5 else rng.randint(15, 25)
        starts = sorted(
            midnight + int(rng.triangular(6.5, 19.0, 10.0) * _HOUR_US) for _ in range(per_day)
        )
        for created in starts:
            if created >= end_us:
                break
            agent = rng.choices(agents, weights)[0]
            if agent.until_us is not None and created >= agent.until_us:
                continue  # a deactivated user gets no new tickets
            number += 1
            yield _ticket(number, created, agent, end_us, rng)
        day += timedelta(days=1)


def _ticket(number: int, created: int, agent: _Agent, end_us: int, rng: random.Random) -> Ticket:
    billing = agent.team_id == "billing-desk"
    pipeline = BILLING if (rng.random() < 0.9) == billing else SUPPORT
    response = created + int(rng.expovariate(1 / agent.response_hours) * _HOUR_US)
    closed: int | None = response + int(rng.expovariate(1 / agent.resolution_hours) * _HOUR_US)
    if rng.random() < 0.02:
        closed = None  # waiting on the customer
    unassigned = rng.random() < 0.03
    return Ticket(
        id=f"T{number:06d}",
        created_at=from_us(created),
        pipeline=pipeline,
        owner_id=None if unassigned else agent.user_id,
        team_id=agent.team_id,
        first_response_at=from_us(response) if response <= end_us else None,
        closed_at=from_us(closed) if closed is not None and closed <= end_us else None,
    )
