"""Property tests of custom KPIs, on the strategies of `servicegoals.testing`.

`measure` agrees with a literal reading of docs/kpis.md, ignores ticket order and
adds up over any split; `evaluate` never raises on valid input and scores by the
KPI's direction; goal files keep custom KPIs exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from random import Random

import attrs
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from servicegoals import (
    AccountSettings,
    Aggregation,
    Contribution,
    ContributorKind,
    Direction,
    Goal,
    Measurement,
    Status,
    Ticket,
    TicketEvent,
    dump_goals,
    evaluate,
    load_goals,
    measure,
)
from servicegoals._convert import goal_from_dict, goal_to_dict
from servicegoals._validate import duration_us, to_us
from servicegoals.testing import AMOUNT, DUE, kpis, tickets
from servicegoals.testing import goals as any_goals

Result = dict[tuple[str, str, int], Measurement]
DELAY = timedelta(days=3)
ACCOUNT = AccountSettings("America/New_York")


def custom_goals(
    aggregations: Sequence[Aggregation] = tuple(Aggregation),
) -> st.SearchStrategy[Goal]:
    return any_goals(ACCOUNT, kpis=kpis(aggregations=aggregations), max_days=90, max_contributors=2)


@st.composite
def scenarios(
    draw: st.DrawFn, aggregations: Sequence[Aggregation] = tuple(Aggregation)
) -> tuple[list[Goal], list[Ticket]]:
    """One to three custom-KPI goals and tickets (with properties and reopens) aimed at them."""
    drawn = custom_goals(aggregations)
    goal_list = draw(st.lists(drawn, min_size=1, max_size=3, unique_by=lambda g: g.id))
    aimed = st.one_of(
        *(tickets(g, max_delay=DELAY, properties=True, reopens=True) for g in goal_list)
    )
    ticket_list = draw(st.lists(aimed, min_size=8, max_size=30))
    for i, ticket in enumerate(ticket_list):
        # Most tickets would miss every cell: give half of them to a contributor.
        c = draw(st.sampled_from([c for g in goal_list for c in g.contributors]))
        if draw(st.booleans()):
            team = c.kind is ContributorKind.TEAM
            ticket_list[i] = attrs.evolve(ticket, **{"team_id" if team else "owner_id": c.id})
    return goal_list, ticket_list


def _instants(ticket: Ticket, kind: TicketEvent) -> list[int]:
    """When ``kind`` happened to the ticket (epoch µs), under the default clock policy."""
    found: dict[TicketEvent, list[int | None]] = {
        TicketEvent.CREATED: [ticket.created_us],
        TicketEvent.FIRST_RESPONSE: [ticket.first_response_us],
        TicketEvent.CLOSED: [ticket.closed_us],  # the final close
        TicketEvent.FIRST_CLOSE: [
            to_us(ticket.reopens[0].closed_at) if ticket.reopens else ticket.closed_us
        ],
        TicketEvent.REOPENED: [to_us(r.reopened_at) for r in ticket.reopens],
    }
    if kind is TicketEvent.PROPERTY:
        due = ticket.properties.get(DUE)
        return [] if not isinstance(due, datetime) else [to_us(due)]
    return [us for us in found[kind] if us is not None]


def _contribution(goal: Goal, ticket: Ticket, when: int) -> int | None:
    kpi = goal.kpi
    if kpi.contribution is Contribution.ONE:
        return 0
    if kpi.contribution is Contribution.PROPERTY:
        value = ticket.properties[AMOUNT]
        assert isinstance(value, int)
        return value
    starts = _instants(ticket, kpi.start)
    return when - starts[0] if starts and starts[0] <= when else None


def reference(goal_list: list[Goal], ticket_list: list[Ticket]) -> Result:
    """docs/kpis.md literally: each cell's contributions, then the aggregation's fields."""
    out: Result = {}
    for goal in goal_list:
        kpi = goal.kpi
        threshold = kpi.threshold
        if isinstance(threshold, timedelta):
            threshold = duration_us(threshold)
        for c in goal.contributors:
            team = c.kind is ContributorKind.TEAM
            for m in goal.milestones:
                pipes = goal.effective_pipelines(c.id, m.index)
                values = []
                for t in ticket_list:
                    if (t.team_id if team else t.owner_id) != c.id:
                        continue
                    if pipes and t.pipeline not in pipes:
                        continue
                    if any(t.properties[name] not in allowed for name, allowed in kpi.where):
                        continue
                    inside = [
                        w
                        for w in _instants(t, kpi.event)
                        if m.period.start_us <= w < m.period.end_us
                    ]
                    if not inside:
                        continue  # a ticket counts once per milestone, however often it reopened
                    value = _contribution(goal, t, inside[0])
                    if value is not None:
                        values.append(value)
                agg = kpi.aggregation
                out[(goal.id, c.id, m.index)] = Measurement(
                    len(values),
                    sum(values),
                    sum(1 for v in values if threshold is not None and v <= threshold)
                    if agg is Aggregation.SHARE
                    else 0,
                    min(values) if values and agg is Aggregation.MINIMUM else None,
                    max(values) if values and agg is Aggregation.MAXIMUM else None,
                    tuple(sorted(values)) if values and agg is Aggregation.PERCENTILE else None,
                )
    return out


@given(scenarios())
def test_measure_equals_a_literal_reading_of_the_docs(
    scenario: tuple[list[Goal], list[Ticket]],
) -> None:
    goal_list, ticket_list = scenario
    expected = reference(goal_list, ticket_list)
    event(f"cells with tickets: {min(3, sum(1 for m in expected.values() if m.count))}")
    assert measure(goal_list, ticket_list) == expected


@given(scenarios(aggregations=(Aggregation.SHARE,)))
def test_share_cells_equal_a_literal_reading_of_the_docs(
    scenario: tuple[list[Goal], list[Ticket]],
) -> None:
    # Apart, so that values on the threshold (the edge of "within") are drawn often.
    goal_list, ticket_list = scenario
    assert measure(goal_list, ticket_list) == reference(goal_list, ticket_list)


@given(scenarios(), st.data(), st.randoms(use_true_random=False))
def test_measure_ignores_ticket_order_and_adds_up_over_any_split(
    scenario: tuple[list[Goal], list[Ticket]], data: st.DataObject, rng: Random
) -> None:
    goal_list, ticket_list = scenario
    whole = measure(goal_list, ticket_list)
    shuffled = list(ticket_list)
    rng.shuffle(shuffled)
    assert measure(goal_list, shuffled) == whole
    cut = data.draw(st.integers(0, len(ticket_list)))
    first, rest = measure(goal_list, shuffled[:cut]), measure(goal_list, shuffled[cut:])
    assert {k: first[k] + rest[k] for k in whole} == whole


def _value(goal: Goal, m: Measurement) -> Fraction | None:
    """A cell's value by the table of docs/kpis.md ("Aggregations")."""
    agg, n = goal.kpi.aggregation, m.count
    if agg is Aggregation.COUNT:
        return Fraction(n)
    if agg is Aggregation.SUM:
        return Fraction(m.total)
    if n == 0:
        return None
    if agg is Aggregation.AVERAGE:
        return Fraction(m.total, n)
    if agg is Aggregation.SHARE:
        return Fraction(100 * m.within, n)
    if agg is Aggregation.PERCENTILE:
        p = goal.kpi.percentile
        assert p is not None
        assert m.values is not None
        return Fraction(m.values[math.ceil(p * n / 100) - 1])
    found = m.low if agg is Aggregation.MINIMUM else m.high
    return None if found is None else Fraction(found)


@given(scenarios(), st.data())
def test_evaluate_never_raises_and_scores_by_the_kpis_direction(
    scenario: tuple[list[Goal], list[Ticket]], data: st.DataObject
) -> None:
    goal_list, ticket_list = scenario
    measured = measure(goal_list, ticket_list)
    for goal in goal_list:
        # Some time within the span or after it: some milestones over, one running.
        after = data.draw(st.integers(0, goal.span.end_us - goal.span.start_us + 10**12))
        at = goal.span.start + timedelta(microseconds=after)
        report = evaluate(goal, measured, at=at)
        higher = goal.kpi.direction is Direction.HIGHER_IS_BETTER
        for row in report.rows:
            assert row.contributor_id is not None
            assert row.milestone_index is not None
            cell = measured[(goal.id, row.contributor_id, row.milestone_index)]
            target = goal.target(row.contributor_id, row.milestone_index)
            assert target is not None
            value = _value(goal, cell)
            assert (row.measurement, row.value) == (cell, value)
            if value is None:
                assert (row.attainment, row.infinite) == (None, False)
            elif not higher and value == 0:
                assert (row.attainment, row.infinite) == (None, True)
            else:
                ratio = value / target.value if higher else target.value / value
                assert row.attainment == ratio
            milestone = goal.milestones[row.milestone_index].period
            if at < milestone.start:
                assert row.status is Status.PENDING
            elif at < milestone.end:
                assert row.status is Status.IN_PROGRESS
            elif row.infinite or (row.attainment is not None and row.attainment > 1):
                assert row.status is Status.EXCEEDED
            elif row.attainment == 1:
                assert row.status is Status.ACHIEVED
            else:
                assert row.status is Status.MISSED


@given(custom_goals())
def test_custom_kpis_round_trip_through_goal_dicts(goal: Goal) -> None:
    assert goal_from_dict(goal_to_dict(goal)) == goal


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Module-scoped: hypothesis runs many examples in one test function.
    return tmp_path_factory.mktemp("custom-kpis")


@settings(max_examples=25)
@given(st.lists(custom_goals(), min_size=1, max_size=3, unique_by=lambda g: g.id))
def test_custom_kpis_round_trip_through_goal_files(folder: Path, drawn: list[Goal]) -> None:
    for suffix in (".toml", ".json"):
        path = folder / f"goals{suffix}"
        dump_goals(drawn, path)
        loaded = load_goals(path)
        assert loaded == tuple(drawn)
        assert [g.kpi for g in loaded] == [g.kpi for g in drawn]
