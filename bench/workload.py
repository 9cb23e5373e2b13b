"""A seeded synthetic account: its directory, 50 goals × 200 contributors, and tickets.

Tickets are made as numpy columns in fixed chunks (one random generator per
chunk, seeded from the run's seed and the chunk's position), so every consumer
(our ``measure``, the pandas baseline, the SQLite file) sees the very same
tickets, and a stream of 10^7 never exists all at once.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from time import perf_counter

import numpy as np
import numpy.typing as npt
from attrs import frozen

from servicegoals import (
    AVG_RESOLUTION_TIME,
    AVG_RESPONSE_TIME,
    CLOSED_TICKETS,
    AccountSettings,
    Cadence,
    Contributor,
    Directory,
    Goal,
    Team,
    Ticket,
    User,
    Weekday,
    calendar_year,
    date_range,
    fiscal_year,
    milestones,
)
from servicegoals._validate import from_us, to_us
from servicegoals.goals import TargetSpec

SEED = 20260401
CHUNK = 10_000
ACCOUNT = AccountSettings("America/New_York", fiscal_year_start_month=4, week_start=Weekday.MONDAY)
#: Every report is calculated at this instant: some milestones are over, one is
#: running and the rest are pending.
AT = datetime(2026, 7, 15, 12, tzinfo=UTC)
PIPELINES = ("support", "billing", "onboarding", "escalations")
PIPELINE_WEIGHTS = (0.55, 0.25, 0.15, 0.05)
DEPARTMENTS = 10
TEAMS_PER_DEPARTMENT = 4
SUB_TEAMS = DEPARTMENTS * TEAMS_PER_DEPARTMENT
USERS = 2_000
GOALS = 50
CONTRIBUTORS = 200
TEAM_CONTRIBUTORS = 5
#: Tickets are created in this window, a little wider than the goals' spans.
CREATED_FROM = to_us(datetime(2025, 12, 1, tzinfo=UTC))
CREATED_TO = to_us(datetime(2027, 2, 1, tzinfo=UTC))
HOUR_US = 3_600_000_000
#: The value of a missing instant in the columns: below every milestone start.
MISSING = int(np.iinfo(np.int64).min)

Ints = npt.NDArray[np.int64]


def user_id(i: int) -> str:
    return f"u{i:04d}"


def sub_team_id(i: int) -> str:
    return f"team-{i // TEAMS_PER_DEPARTMENT}-{i % TEAMS_PER_DEPARTMENT}"


def department_id(d: int) -> str:
    return f"dept-{d}"


#: Team index ``k`` names a sub-team for ``k < SUB_TEAMS``, else a department.
TEAM_IDS = (
    *(sub_team_id(i) for i in range(SUB_TEAMS)),
    *(department_id(d) for d in range(DEPARTMENTS)),
)
USER_IDS = tuple(user_id(i) for i in range(USERS))


def directory() -> Directory:
    """2,000 users in 40 teams under 10 departments (a two-level team tree)."""
    teams = [Team(department_id(d), f"Department {d}") for d in range(DEPARTMENTS)]
    teams += [
        Team(sub_team_id(i), f"Team {i}", parent_id=department_id(i // TEAMS_PER_DEPARTMENT))
        for i in range(SUB_TEAMS)
    ]
    users = [
        User(user_id(i), f"User {i}", team_ids={sub_team_id(i % SUB_TEAMS)}) for i in range(USERS)
    ]
    return Directory(users, teams)


_KPIS = (CLOSED_TICKETS, AVG_RESPONSE_TIME, AVG_RESOLUTION_TIME)
_CADENCES = (Cadence.WEEKLY, Cadence.MONTHLY, Cadence.QUARTERLY, Cadence.YEARLY, Cadence.CUSTOM)


def goals(
    count: int = GOALS, contributors: int = CONTRIBUTORS, seed: int = SEED
) -> tuple[Goal, ...]:
    """``count`` goals of every KPI and cadence, each with ``contributors`` contributors.

    Five contributors of each goal are teams, the rest users.  With 15 goals or
    more, all 15 combinations of KPI and cadence occur; quarterly and yearly goals
    alternate between calendar and fiscal alignment; goals cycle through all
    pipelines, one, two, and two with a per-cell pipeline on half the
    contributors; one contributor in ten has no target on the first milestone.
    """
    rng = random.Random(seed)
    made = []
    for g in range(count):
        kpi = _KPIS[g % len(_KPIS)]
        cadence = _CADENCES[g % len(_CADENCES)]
        aligned = cadence in (Cadence.QUARTERLY, Cadence.YEARLY) and g % 2 == 1
        if cadence is Cadence.CUSTOM:
            span = date_range(date(2026, 2, 15), date(2026, 11, 14), ACCOUNT)
        elif aligned:
            span = fiscal_year(2027, ACCOUNT)
        else:
            span = calendar_year(2026, ACCOUNT)
        count = len(milestones(cadence, span, ACCOUNT, align_to_fiscal_year=aligned))
        users = rng.sample(range(USERS), contributors - TEAM_CONTRIBUTORS)
        teams = rng.sample(range(len(TEAM_IDS)), TEAM_CONTRIBUTORS)
        people = [Contributor.user(user_id(u)) for u in users]
        people += [Contributor.team(TEAM_IDS[t]) for t in teams]
        targets: dict[str, TargetSpec] = {}
        for c in people:
            amount = (
                rng.randint(5, 60) if kpi is CLOSED_TICKETS else timedelta(hours=rng.randint(2, 72))
            )
            targets[c.id] = [None, *[amount] * (count - 1)] if rng.random() < 0.1 else amount
        goal = Goal.create(
            id=f"g{g:02d}",
            name=f"{kpi.label}, {cadence.value} #{g}",
            kpi=kpi,
            cadence=cadence,
            span=span,
            settings=ACCOUNT,
            align_to_fiscal_year=aligned,
            contributors=people,
            targets=targets,
            pipelines=((), ("support",), ("support", "billing"), ("support", "billing"))[g % 4],
            created_at=datetime(2025, 11, 1, tzinfo=UTC),
        )
        if g % 4 == 3:
            goal = goal.apply_pipeline("billing", goal.contributor_ids[: contributors // 2])
        made.append(goal)
    return tuple(made)


@frozen
class Columns:
    """One chunk of tickets as columns; ``owner``/``team`` are indexes, -1 for none.

    ``first`` and ``closed`` hold :data:`MISSING` where the ticket has no such
    instant.  Ticket ``number + i`` is row ``i``.
    """

    number: int
    owner: Ints
    team: Ints
    pipeline: Ints
    created: Ints
    first: Ints
    closed: Ints


def columns(seed: int, number: int, size: int) -> Columns:
    """Tickets ``number .. number + size - 1`` of the run seeded with ``seed``.

    5% have no owner (a team's queue), 2% sit on a department rather than a
    sub-team; 90% were answered within two days; 80% were closed within two
    weeks of the answer (or of creation when unanswered).
    """
    rng = np.random.default_rng([seed, number])
    owner = rng.integers(0, USERS, size)
    team = owner % SUB_TEAMS
    queue = rng.random(size) < 0.05
    owner[queue] = -1
    on_department = rng.random(size) < 0.02
    team[on_department] = SUB_TEAMS + team[on_department] // TEAMS_PER_DEPARTMENT
    pipeline = rng.choice(len(PIPELINES), size, p=PIPELINE_WEIGHTS)
    created = rng.integers(CREATED_FROM, CREATED_TO, size)
    answer = rng.integers(0, 48 * HOUR_US, size)
    answered = rng.random(size) < 0.9
    first = np.where(answered, created + answer, MISSING)
    close = np.where(answered, answer, 0) + rng.integers(0, 14 * 24 * HOUR_US, size)
    closed = np.where(rng.random(size) < 0.8, created + close, MISSING)
    return Columns(number, owner, team, pipeline, created, first, closed)


def chunks(size: int, seed: int = SEED) -> Iterator[Columns]:
    """The run's tickets in chunks of :data:`CHUNK`."""
    for number in range(0, size, CHUNK):
        yield columns(seed, number, min(CHUNK, size - number))


def tickets(cols: Columns) -> list[Ticket]:
    """The chunk as validated :class:`Ticket` objects."""
    made = []
    owners, teams, pipes = cols.owner.tolist(), cols.team.tolist(), cols.pipeline.tolist()
    created, first, closed = cols.created.tolist(), cols.first.tolist(), cols.closed.tolist()
    for i in range(len(created)):
        made.append(
            Ticket(
                f"t{cols.number + i}",
                from_us(created[i]),
                PIPELINES[pipes[i]],
                owner_id=None if owners[i] < 0 else USER_IDS[owners[i]],
                team_id=TEAM_IDS[teams[i]],
                first_response_at=None if first[i] == MISSING else from_us(first[i]),
                closed_at=None if closed[i] == MISSING else from_us(closed[i]),
            )
        )
    return made


class TicketStream:
    """``size`` tickets from a generator, built chunk by chunk.

    The time spent making tickets (numpy columns and ``Ticket`` objects) is added
    up in :attr:`build_seconds`, so a caller can take it out of the time it
    measures; at most one chunk of tickets exists at a time.
    """

    def __init__(self, size: int, seed: int = SEED) -> None:
        self.size = size
        self.seed = seed
        self.build_seconds = 0.0

    def __iter__(self) -> Iterator[Ticket]:
        for number in range(0, self.size, CHUNK):
            started = perf_counter()
            batch = tickets(columns(self.seed, number, min(CHUNK, self.size - number)))
            self.build_seconds += perf_counter() - started
            yield from batch
