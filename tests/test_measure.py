"""Example tests of measure(): attribution, pipelines and the KPI timestamps."""

from __future__ import annotations

from collections.abc import Iterator
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
    TicketEvent,
    User,
    date_range,
    measure,
    plan_cells,
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


def hours(n: float) -> int:
    return int(n * 3_600_000_000)


def monthly_goal(**kwargs: object) -> Goal:
    settings: dict[str, object] = {
        "id": "g",
        "name": "Close",
        "kpi": CLOSED_TICKETS,
        "cadence": Cadence.MONTHLY,
        "span": SPAN,
        "settings": ACCOUNT,
        "contributors": [User("u1", "Ada")],
        "targets": {"u1": 5},
    }
    settings.update(kwargs)
    return Goal.create(**settings)  # type: ignore[arg-type]


def test_boundaries_are_half_open() -> None:
    goal = monthly_goal()
    feb = datetime(2026, 2, 1, tzinfo=UTC)
    end = SPAN.end
    micro = timedelta(microseconds=1)
    closes = {
        "before": SPAN.start - micro,
        "start": SPAN.start,
        "last-jan": feb - micro,
        "first-feb": feb,
        "last": end - micro,
        "after": end,
    }
    created = SPAN.start - timedelta(days=1)
    tickets = [Ticket(k, created, "s", owner_id="u1", closed_at=v) for k, v in closes.items()]
    result = measure([goal], tickets)
    assert [result[("g", "u1", j)].count for j in range(3)] == [2, 1, 1]


def test_instants_in_any_zone_count_by_the_instant() -> None:
    oslo = AccountSettings(timezone="Europe/Oslo")
    goal = monthly_goal(settings=oslo, span=date_range(date(2026, 1, 1), date(2026, 2, 28), oslo))
    # 23:30 UTC on 31 January is already February in Oslo.
    late = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    tickets = [Ticket("t", at(1, 5), "s", owner_id="u1", closed_at=late)]
    result = measure([goal], tickets)
    assert (result[("g", "u1", 0)].count, result[("g", "u1", 1)].count) == (0, 1)


def test_a_per_cell_pipeline_applies_to_its_milestone_only() -> None:
    goal = monthly_goal(
        pipelines={"support", "billing"},
        targets={"u1": [Target(5, pipeline="billing"), 5, None]},
    )
    tickets = [
        Ticket(f"{month}-{pipeline}", at(month, 1), pipeline, owner_id="u1", closed_at=at(month, 2))
        for month in (1, 2, 3)
        for pipeline in ("support", "billing", "sales")
    ]
    result = measure([goal], tickets)
    # January: billing only; February: the goal's pipelines; March has no
    # target but is measured with the goal's pipelines.
    assert [result[("g", "u1", j)].count for j in range(3)] == [1, 2, 2]


def test_no_pipelines_means_every_pipeline() -> None:
    goal = monthly_goal()
    tickets = [Ticket(p, at(1, 1), p, owner_id="u1", closed_at=at(1, 2)) for p in ("a", "b", "c")]
    assert measure([goal], tickets)[("g", "u1", 0)].count == 3


def test_a_ticket_counts_for_its_owner_and_for_its_team() -> None:
    goal = monthly_goal(
        contributors=[User("u1", "Ada"), Team("t1", "Support")], targets={"u1": 1, "t1": 1}
    )
    tickets = [Ticket("t", at(1, 1), "s", owner_id="u1", team_id="t1", closed_at=at(1, 2))]
    result = measure([goal], tickets)
    assert result[("g", "u1", 0)] == result[("g", "t1", 0)] == Measurement(1, 0)


def test_many_goals_are_measured_in_one_pass() -> None:
    closed = monthly_goal(id="closed")
    resolved = monthly_goal(
        id="resolved", kpi=AVG_RESOLUTION_TIME, targets={"u1": timedelta(hours=4)}
    )
    responded = monthly_goal(
        id="responded", kpi=AVG_RESPONSE_TIME, targets={"u1": timedelta(hours=1)}
    )
    tickets = [
        Ticket(
            "t1",
            at(1, 1, 8),
            "s",
            owner_id="u1",
            first_response_at=at(1, 1, 9),
            closed_at=at(1, 1, 14),
        ),
        Ticket("t2", at(1, 1, 8), "s", owner_id="u1", first_response_at=at(1, 1, 8)),
    ]
    result = measure([closed, resolved, responded], iter(tickets))
    assert result[("closed", "u1", 0)] == Measurement(1, 0)
    assert result[("resolved", "u1", 0)] == Measurement(1, hours(6))
    assert result[("responded", "u1", 0)] == Measurement(2, hours(1))


def test_plan_cells_describes_what_push_down_sources_aggregate() -> None:
    directory = Directory(
        teams=[Team("parent", "Support"), Team("child", "Tier 2", parent_id="parent")]
    )
    goal = monthly_goal(
        contributors=[Team("parent", "Support")],
        pipelines={"billing", "support"},
        targets={"parent": [Target(5, pipeline="billing"), 5, 5]},
    )
    (plan,) = plan_cells([goal], directory)
    assert plan.match_ids == {"parent", "child"}
    assert plan.event is TicketEvent.CLOSED
    assert not plan.duration
    assert plan.bounds == (*(m.period.start_us for m in goal.milestones), SPAN.end_us)
    both = frozenset({"billing", "support"})
    assert plan.pipelines == (frozenset({"billing"}), both, both)
    assert plan.key(2) == ("g", "parent", 2)


def test_bad_goals_are_rejected() -> None:
    goal = monthly_goal()
    with pytest.raises(InvalidInput, match=r"goals\[1\]\.id"):
        measure([goal, goal], [])
    with pytest.raises(InvalidInput, match=r"goals\[0\]"):
        measure(["g"], [])  # type: ignore[list-item]


def test_errors_inside_the_callers_generator_pass_through() -> None:
    goal = monthly_goal()

    def broken() -> Iterator[Ticket]:
        yield Ticket("t", at(1, 1), "s", owner_id="u1", closed_at=at(1, 2))
        raise AttributeError("the caller's own bug")

    with pytest.raises(AttributeError, match="the caller's own bug"):
        measure([goal], broken())
