"""The custom-KPI engine: exact aggregations, pooled roll-ups, validation, goal files."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import servicegoals
from servicegoals import (
    CLOSED_TICKETS,
    KPI_TEMPLATES,
    MEDIAN_RESPONSE_TIME,
    REOPENED_TICKETS,
    RESPONDED_WITHIN_TARGET,
    TICKETS_CREATED,
    AccountSettings,
    Aggregation,
    Cadence,
    Contribution,
    CsvSource,
    Direction,
    ForecastMethod,
    Goal,
    InvalidInput,
    Kpi,
    Measurement,
    Reopen,
    SqliteSource,
    Status,
    Ticket,
    TicketEvent,
    Unit,
    User,
    date_range,
    evaluate,
    forecast,
    measure,
    score,
)
from servicegoals._convert import goal_from_dict, goal_to_dict, report_from_dict, report_to_dict
from servicegoals.export import amount_text, report_records
from servicegoals.htmlreport import render_html
from servicegoals.pushdown import PushDownPlan
from servicegoals.testing import raises

sg: Any = servicegoals
ACCOUNT = AccountSettings()
SPAN = date_range(date(2026, 1, 1), date(2026, 3, 31), ACCOUNT)
START = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = 3_600_000_000


def _goal(kpi: Kpi, target: int | timedelta, gid: str = "g") -> Goal:
    return Goal.create(
        id=gid,
        name="Custom",
        kpi=kpi,
        cadence=Cadence.MONTHLY,
        span=SPAN,
        settings=ACCOUNT,
        contributors=[User("u1", "Ada")],
        targets={"u1": target},
    )


def _answered(minutes: list[int]) -> list[Ticket]:
    """Tickets created in January, answered after ``minutes`` each."""
    return [
        Ticket(
            f"t{i}",
            START + timedelta(hours=i),
            "support",
            owner_id="u1",
            first_response_at=START + timedelta(hours=i, minutes=m),
        )
        for i, m in enumerate(minutes)
    ]


def _nearest_rank(values: list[int], p: Fraction) -> int:
    ordered = sorted(values)
    return ordered[math.ceil(p * len(ordered) / 100) - 1]


P90 = Kpi(
    "p90_response",
    "90th percentile response time",
    Unit.DURATION,
    Direction.LOWER_IS_BETTER,
    TicketEvent.FIRST_RESPONSE,
    Contribution.DURATION,
    Aggregation.PERCENTILE,
    percentile=90,
)

minutes = st.lists(st.integers(0, 600), min_size=1, max_size=40)


@given(minutes, st.fractions(min_value=0, max_value=100).filter(lambda p: p > 0))
def test_a_cells_percentile_is_the_sort_based_order_statistic(
    values: list[int], p: Fraction
) -> None:
    kpi = Kpi(
        "p",
        "P",
        Unit.DURATION,
        Direction.LOWER_IS_BETTER,
        TicketEvent.FIRST_RESPONSE,
        Contribution.DURATION,
        Aggregation.PERCENTILE,
        percentile=p,
    )
    cell = measure([_goal(kpi, timedelta(hours=1))], _answered(values))[("g", "u1", 0)]
    us = [m * 60_000_000 for m in values]
    assert cell.values == tuple(sorted(us))
    assert kpi.value_of(cell.values) == _nearest_rank(us, p)


@given(minutes)
def test_share_within_threshold_is_count_within_over_count(values: list[int]) -> None:
    goal = _goal(RESPONDED_WITHIN_TARGET, 90)
    cell = measure([goal], _answered(values))[("g", "u1", 0)]
    within = sum(m <= 120 for m in values)
    assert (cell.count, cell.within) == (len(values), within)
    assert score(RESPONDED_WITHIN_TARGET, [(90, cell)]).value == Fraction(100 * within, len(values))


@given(st.lists(minutes, min_size=1, max_size=4))
def test_pooled_roll_ups_equal_the_kpi_on_the_union_of_tickets(parts: list[list[int]]) -> None:
    extremes = [
        Kpi(
            agg.value,
            agg.value,
            Unit.DURATION,
            Direction.LOWER_IS_BETTER,
            TicketEvent.FIRST_RESPONSE,
            Contribution.DURATION,
            agg,
        )
        for agg in (Aggregation.MINIMUM, Aggregation.MAXIMUM, Aggregation.SUM)
    ]
    for kpi in (P90, RESPONDED_WITHIN_TARGET, MEDIAN_RESPONSE_TIME, *extremes):
        share = kpi.unit is Unit.PERCENT
        target = 90 if share else HOUR
        goal = _goal(kpi, 90 if share else timedelta(hours=1))
        cells = [(target, measure([goal], _answered(p))[("g", "u1", 0)]) for p in parts]
        union = measure([goal], _answered([m for p in parts for m in p]))[("g", "u1", 0)]
        pooled = score(kpi, cells)
        assert pooled.measurement == union
        every = [m * 60_000_000 for p in parts for m in p]
        expected = {Aggregation.MINIMUM: min(every), Aggregation.MAXIMUM: max(every)}
        if kpi.aggregation in expected:
            assert pooled.value == expected[kpi.aggregation]
        assert pooled.value == score(kpi, [(target, union)]).value


def test_templates_keep_the_fast_path_and_their_results() -> None:
    assert CLOSED_TICKETS.fast
    assert not MEDIAN_RESPONSE_TIME.fast
    assert repr(Measurement(2, 5)) == "Measurement(count=2, total=5)"
    assert set(KPI_TEMPLATES) >= {"closed_tickets", "tickets_created", "reopened_tickets"}


def test_created_and_reopened_counts_and_a_whole_goal_status() -> None:
    day = timedelta(days=1)
    tickets = [
        Ticket("a", START, "s", owner_id="u1"),
        Ticket(
            "b",
            START,
            "s",
            owner_id="u1",
            closed_at=START + 40 * day,
            reopens=[
                Reopen(START + day, START + 2 * day),
                Reopen(START + 3 * day, START + 4 * day),  # same month: counted once
            ],
        ),
    ]
    goals = [_goal(TICKETS_CREATED, 2, "c"), _goal(REOPENED_TICKETS, 1, "r")]
    got = measure(goals, tickets)
    assert got[("c", "u1", 0)] == Measurement(2, 0)
    assert got[("r", "u1", 0)] == Measurement(1, 0)
    report = evaluate(goals[0], got, at=datetime(2026, 2, 1, tzinfo=UTC))
    assert report.rows[0].status is Status.ACHIEVED


def test_property_sums_filters_and_their_errors() -> None:
    kpi = Kpi(
        "refunds",
        "Refunded cents",
        Unit.COUNT,
        Direction.LOWER_IS_BETTER,
        TicketEvent.CREATED,
        Contribution.PROPERTY,
        Aggregation.SUM,
        value_property="refund",
        where={"channel": {"email", "chat"}},
    )
    tickets = [
        Ticket("a", START, "s", owner_id="u1", properties={"refund": 5, "channel": "email"}),
        Ticket("b", START, "s", owner_id="u1", properties={"refund": 7, "channel": "phone"}),
        Ticket("c", START, "s", owner_id="u1", properties={"refund": 9, "channel": "chat"}),
    ]
    assert measure([_goal(kpi, 100)], tickets)[("g", "u1", 0)] == Measurement(2, 14)
    lacking = Ticket("d", START, "s", owner_id="u1", properties={"refund": 1})
    with raises(InvalidInput, "ticket 'd'.properties", "channel"):
        measure([_goal(kpi, 100)], [lacking])
    text = Ticket("e", START, "s", owner_id="u1", properties={"refund": "x", "channel": "chat"})
    with raises(InvalidInput, "ticket 'e'.properties['refund']", "x"):
        measure([_goal(kpi, 100)], [text])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"percentile": 0}, "kpi.percentile"),
        ({"percentile": 101}, "kpi.percentile"),
        ({"percentile": 50.0}, "kpi.percentile"),
        ({"threshold": 3}, "kpi.threshold"),
        ({"aggregation": Aggregation.SUM}, "kpi.aggregation"),
        ({"where": {"x": 1.5}}, "kpi.where['x']"),
    ],
)
def test_bad_kpis_are_refused_with_the_field(changes: dict[str, Any], field: str) -> None:
    with raises(InvalidInput, field):
        sg.Kpi("k", "K", Unit.COUNT, Direction.HIGHER_IS_BETTER, **changes)


def test_ticket_properties_refuse_floats() -> None:
    with raises(InvalidInput, "properties['amount']", 1.5):
        sg.Ticket("t", START, "s", properties={"amount": 1.5})


def test_custom_kpis_round_trip_through_goal_files_by_value() -> None:
    goal = _goal(P90, timedelta(hours=1))
    data = goal_to_dict(goal)
    assert data["kpi"]["aggregation"] == "percentile"
    assert goal_from_dict(data) == goal
    assert goal_to_dict(_goal(MEDIAN_RESPONSE_TIME, timedelta(hours=1)))["kpi"] == (
        "median_response_time"
    )


def test_push_down_streams_custom_kpis() -> None:
    assert not PushDownPlan([_goal(CLOSED_TICKETS, 3)]).streams
    assert PushDownPlan([_goal(P90, timedelta(hours=1))]).streams


def test_forecasts_scale_sums_and_keep_other_values() -> None:
    refunds = Kpi(
        "refunds",
        "Refunded cents",
        Unit.COUNT,
        Direction.HIGHER_IS_BETTER,
        TicketEvent.CREATED,
        Contribution.PROPERTY,
        Aggregation.SUM,
        value_property="refund",
    )
    paid = [Ticket("a", START, "s", owner_id="u1", properties={"refund": 10})]
    mid = datetime(2026, 1, 16, 12, tzinfo=UTC)  # half of January
    summed = _goal(refunds, 40)
    projected = forecast(summed, evaluate(summed, measure([summed], paid), at=mid)).rows[0]
    assert projected.method is ForecastMethod.ELAPSED_SHARE
    assert projected.value == 20
    p90 = _goal(P90, timedelta(hours=1))
    report = evaluate(p90, measure([p90], _answered([30])), at=mid)
    current = forecast(p90, report).rows[0]
    assert current.method is ForecastMethod.CURRENT_VALUE
    assert current.value == 30 * 60_000_000


def test_custom_reports_export_render_and_round_trip() -> None:
    goal = _goal(RESPONDED_WITHIN_TARGET, 90)
    report = evaluate(
        goal, measure([goal], _answered([30, 150])), at=datetime(2026, 4, 1, tzinfo=UTC)
    )
    record = report_records(goal, report)[0]
    assert (record["unit"], record["value_exact"], record["status"]) == ("percent", "50", "missed")
    assert amount_text(goal, report.rows[0].value) == "50.0%"
    assert "Tickets answered within target" in render_html(
        [(goal, report)], at=report.calculated_at
    )
    assert report_from_dict(report_to_dict(report)) == report
    p90 = _goal(P90, timedelta(hours=1))
    kept = evaluate(p90, measure([p90], _answered([5, 9])), at=START)
    assert report_from_dict(report_to_dict(kept)).rows[0].measurement.values == (
        300_000_000,
        540_000_000,
    )


def test_csv_columns_beyond_the_known_ones_become_properties(tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(
        "id,created_at,pipeline,owner_id,team_id,first_response_at,closed_at,"
        "refund,channel,due\n"
        "t1,2026-01-02T09:00:00+00:00,support,u1,,,,250,email,2026-01-03T09:00:00+00:00\n"
        "t2,2026-01-02T09:00:00+00:00,support,u1,,,,,007,\n"
    )
    first, second = CsvSource(path, properties=True).tickets()
    assert dict(first.properties) == {
        "refund": 250,
        "channel": "email",
        "due": datetime(2026, 1, 3, 9, tzinfo=UTC),
    }
    assert dict(second.properties) == {"channel": "007"}


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"percentile": 0}, "goal.kpi.percentile", 0),
        ({"colour": "red"}, "goal.kpi.colour", "colour"),
        ({"aggregation": "median"}, "goal.kpi.aggregation", "median"),
    ],
)
def test_bad_kpi_tables_in_goal_files_are_located(
    changes: dict[str, Any], field: str, value: object
) -> None:
    data = goal_to_dict(_goal(P90, timedelta(hours=1)))
    with raises(InvalidInput, field, value):
        goal_from_dict({**data, "kpi": {**data["kpi"], **changes}})


def test_sqlite_sources_stream_custom_kpis_exactly(tmp_path: Path) -> None:
    day = timedelta(days=1)
    tickets = [
        Ticket("open", START, "s", owner_id="u1"),  # only its creation is in the span
        Ticket(
            "again",
            START - 40 * day,
            "s",
            owner_id="u1",
            closed_at=START + 50 * day,
            reopens=[Reopen(START - 30 * day, START + 2 * day)],
        ),
        *_answered([10, 200]),
    ]
    SqliteSource.create(tmp_path / "t.db").add_tickets(tickets)
    goals = [
        _goal(TICKETS_CREATED, 2, "c"),
        _goal(MEDIAN_RESPONSE_TIME, timedelta(hours=1), "m"),
        _goal(CLOSED_TICKETS, 1, "x"),
    ]
    got = SqliteSource(tmp_path / "t.db").measure(goals)
    assert got == measure(goals, tickets)
    assert got[("c", "u1", 0)] == Measurement(3, 0)
    # SqliteSource does not keep reopens yet, so reopened tickets are checked in memory.
    reopened = measure([_goal(REOPENED_TICKETS, 1, "r")], tickets)
    assert reopened[("r", "u1", 0)] == Measurement(1, 0)
