"""Example tests of measure(): attribution, pipelines and the KPI timestamps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from servicegoals import (
    AVG_RESOLUTION_TIME,
    AVG_RESPONSE_TIME,
    CLOSED_TICKETS,
    AccountSettings,
    Cadence,
    Directory,
    Goal,
    InvalidInput,
    Measurement,
    Target,
    Team,
    Ticket,
    User,
    date_range,
    measure,
)

ACCOUNT = AccountSettings()
SPAN = date_range(date(2026, 1, 1), date(2026, 3, 31), ACCOUNT)


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def test_closed_tickets_by_owner_and_month() -> None:
    goal = Goal.create(
        id="g",
        name="Close",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.MONTHLY,
        span=SPAN,
        settings=ACCOUNT,
        contributors=[User("u1", "Ada"), User("u2", "Bob")],
        targets={"u1": 2, "u2": 2},
    )
    tickets = [
        Ticket("t1", at(1, 1), "support", owner_id="u1", closed_at=at(1, 2)),
        Ticket("t2", at(1, 30), "support", owner_id="u1", closed_at=at(2, 1)),
        Ticket("t3", at(1, 30), "support", owner_id="u2"),  # still open
        Ticket("t4", at(3, 1), "support", owner_id="u9", closed_at=at(3, 2)),  # not ours
    ]
    result = measure([goal], tickets)
    assert result[("g", "u1", 0)] == Measurement(1, 0)
    assert result[("g", "u1", 1)] == Measurement(1, 0)
    assert result[("g", "u1", 2)] == Measurement(0, 0)
    assert result[("g", "u2", 0)] == Measurement(0, 0)
    assert len(result) == 6


def test_team_attribution_includes_child_teams_and_cell_pipelines() -> None:
    directory = Directory(
        users=[User("u1", "Ada", team_ids={"child"})],
        teams=[Team("parent", "Support"), Team("child", "Tier 2", parent_id="parent")],
    )
    goal = Goal.create(
        id="g",
        name="Resolve",
        kpi=AVG_RESOLUTION_TIME,
        cadence=Cadence.CUSTOM,
        span=SPAN,
        settings=ACCOUNT,
        contributors=[Team("parent", "Support")],
        pipelines={"support", "billing"},
        targets={"parent": Target(timedelta(hours=8), pipeline="billing")},
    )
    tickets = [
        Ticket("t1", at(1, 1, 8), "billing", team_id="child", closed_at=at(1, 1, 10)),
        Ticket("t2", at(1, 1, 8), "billing", team_id="parent", closed_at=at(1, 1, 12)),
        Ticket("t3", at(1, 1, 8), "support", team_id="parent", closed_at=at(1, 1, 9)),
    ]
    result = measure([goal], tickets, directory=directory)
    hour = 3_600_000_000
    assert result[("g", "parent", 0)] == Measurement(2, 6 * hour)
    # Without the directory the team tree is unknown: only the exact team counts.
    assert measure([goal], tickets)[("g", "parent", 0)] == Measurement(1, 4 * hour)


def test_response_time_counts_by_first_response() -> None:
    goal = Goal.create(
        id="g",
        name="Respond",
        kpi=AVG_RESPONSE_TIME,
        cadence=Cadence.MONTHLY,
        span=SPAN,
        settings=ACCOUNT,
        contributors=[User("u1", "Ada")],
    )
    tickets = [
        Ticket("t1", at(1, 31, 20), "s", owner_id="u1", first_response_at=at(2, 1, 1)),
        Ticket("t2", at(1, 5), "s", owner_id="u1", closed_at=at(1, 6)),  # never answered
    ]
    result = measure([goal], tickets)
    assert result[("g", "u1", 0)] == Measurement(0, 0)
    assert result[("g", "u1", 1)] == Measurement(1, 5 * 3_600_000_000)


def test_non_tickets_are_rejected_with_their_position() -> None:
    goal = Goal.create(
        id="g",
        name="Close",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.CUSTOM,
        span=SPAN,
        settings=ACCOUNT,
        contributors=[User("u1", "Ada")],
    )
    with pytest.raises(InvalidInput, match=r"tickets\[0\]"):
        measure([goal], ["not a ticket"])  # type: ignore[list-item]
