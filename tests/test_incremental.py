"""Incremental refresh: applying changed tickets equals measuring and evaluating afresh.

Properties over random goals (with clock policies), tickets with reopen
histories, as-of instants and batches of changes: new, edited, reopened and
deleted tickets.  `reevaluate` of the touched cells equals a full `evaluate`,
freezing included.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clocks import with_history
from servicegoals import (
    AVG_RESOLUTION_TIME,
    CLOSED_TICKETS,
    AccountSettings,
    Cadence,
    ClockPolicy,
    Directory,
    Goal,
    IncrementalMeasure,
    InvalidInput,
    Measurement,
    Target,
    Ticket,
    TicketChange,
    User,
    date_range,
    evaluate,
    measure,
    reevaluate,
)
from servicegoals._validate import from_us
from servicegoals.clock import as_of_limit
from servicegoals.testing import raises, tickets
from test_histories import scenarios
from test_measure_properties import scenarios as plain_scenarios

Scenario = tuple[list[Goal], list[Ticket], Directory | None, datetime | None]
#: Goals under any clock policy and tickets with histories, or plain wall-clock ones
#: (where the subtraction of a duration is its own line of code), one ticket per id.
SCENARIOS = scenarios() | plain_scenarios().map(
    lambda s: (s[0], list({t.id: t for t in s[1]}.values()), s[2], None)
)


@st.composite
def batches(
    draw: st.DrawFn,
    goal_list: Sequence[Goal],
    current: dict[str, Ticket],
    directory: Directory | None,
) -> list[TicketChange]:
    """Changes to ``current`` (by id), which is updated to the tickets after them."""
    aimed = st.one_of(
        *(tickets(g, directory=directory, max_delay=timedelta(days=10)) for g in goal_list)
    )
    changes: list[TicketChange] = []
    for _ in range(draw(st.integers(0, 6))):
        image = draw(aimed)
        if draw(st.booleans()):
            image = draw(with_history(image))
        ids = sorted(current)
        what = draw(st.sampled_from(["new", "edit", "delete"] if ids else ["new"]))
        if what == "new":
            image = attrs.evolve(image, id=f"new-{len(changes)}-{image.id}")
            if image.id in current:
                continue
            changes.append(TicketChange(None, image))
            current[image.id] = image
            continue
        old = current.pop(draw(st.sampled_from(ids)))
        if what == "delete":
            changes.append(TicketChange(old, None))
            continue
        # An edit keeps the ticket's id: a new owner, close, reopen history...
        new = attrs.evolve(image, id=old.id)
        changes.append(TicketChange(old, new))
        current[new.id] = new
    return changes


def start(scenario: Scenario) -> tuple[IncrementalMeasure, dict[str, Ticket]]:
    """The scenario's measurer over its tickets, and those tickets by id."""
    goal_list, ticket_list, directory, at = scenario
    state = IncrementalMeasure(goal_list, ticket_list, directory=directory, at=at)
    return state, {t.id: t for t in ticket_list}


@given(SCENARIOS, st.data())
def test_applying_changes_equals_measuring_the_tickets_after_them(
    scenario: Scenario, data: st.DataObject
) -> None:
    goal_list, ticket_list, directory, at = scenario
    state, current = start(scenario)
    before = measure(goal_list, ticket_list, directory=directory, at=at)
    assert dict(state) == before
    assert len(state) == len(before)
    for _ in range(data.draw(st.integers(1, 3))):
        changes = data.draw(batches(goal_list, current, directory))
        touched = state.apply(changes)
        after = measure(goal_list, current.values(), directory=directory, at=at)
        assert dict(state) == after
        assert all(k[0] == goal_id for goal_id, keys in touched.items() for k in keys)
        reached = {k for keys in touched.values() for k in keys}
        assert {k for k in after if after[k] != before[k]} <= reached
        before = after


@given(SCENARIOS, st.data())
def test_reevaluating_touched_cells_equals_a_full_evaluate(
    scenario: Scenario, data: st.DataObject
) -> None:
    goal_list, _, directory, _ = scenario
    state, current = start(scenario)
    old = dict(state)
    touched = state.apply(data.draw(batches(goal_list, current, directory)))
    for goal in goal_list:
        span = goal.span
        instants = st.integers(span.start_us - 10**11, span.end_us + 10**11)
        when = from_us(data.draw(instants))
        # An earlier report, so that expired and inactive rows are frozen copies.
        previous = None
        if data.draw(st.booleans()):
            earlier = when - timedelta(microseconds=data.draw(st.integers(0, 10**12)))
            previous = evaluate(goal, old, at=earlier, directory=directory)
        base = evaluate(goal, old, at=when, previous=previous, directory=directory)
        mine = touched.get(goal.id, frozenset())
        again = reevaluate(base, goal, state, mine, previous=previous, directory=directory)
        full = evaluate(goal, state, at=when, previous=previous, directory=directory)
        assert again == full
        assert again._index == full._index


ACCOUNT = AccountSettings()
SPAN = date_range(datetime(2026, 1, 1).date(), datetime(2026, 3, 31).date(), ACCOUNT)


def goal() -> Goal:
    return Goal.create(
        id="g",
        name="Q1",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.MONTHLY,
        span=SPAN,
        settings=ACCOUNT,
        contributors=[User("ada", "Ada"), User("bob", "Bob")],
        targets={"ada": 2, "bob": 1},
    )


def ticket(name: str, owner: str, closed_day: int | None) -> Ticket:
    created = SPAN.start + timedelta(days=1)
    closed = None if closed_day is None else SPAN.start + timedelta(days=closed_day)
    return Ticket(name, created, "support", owner, closed_at=closed)


def test_a_closed_ticket_reopened_leaves_its_milestone() -> None:
    state = IncrementalMeasure([goal()], [ticket("t", "ada", 3)])
    assert state[("g", "ada", 0)] == Measurement(1, 0)
    touched = state.apply([TicketChange(ticket("t", "ada", 3), ticket("t", "ada", None))])
    assert touched == {"g": {("g", "ada", 0)}}
    assert state[("g", "ada", 0)] == Measurement(0, 0)
    # Closed again in February: it counts there.
    state.apply([TicketChange(ticket("t", "ada", None), ticket("t", "ada", 40))])
    assert (state[("g", "ada", 0)], state[("g", "ada", 1)]) == (Measurement(), Measurement(1, 0))


def test_only_touched_rows_are_recalculated() -> None:
    when = SPAN.start + timedelta(days=70)
    state = IncrementalMeasure([goal()], [ticket("t", "ada", 3)])
    base = evaluate(goal(), state, at=when)
    touched = state.apply([TicketChange(None, ticket("u", "bob", 50))])
    again = reevaluate(base, goal(), state, touched["g"])
    assert again.row("bob", 1).measurement == Measurement(1, 0)
    # Rows of other contributors and milestones are the very same objects.
    assert again.row("ada", 0) is base.row("ada", 0)
    assert again.whole_goal("ada") is base.whole_goal("ada")
    assert again.total(0) is base.total(0)
    assert again.total(1) is not base.total(1)
    assert reevaluate(again, goal(), state, frozenset()) is again


def test_a_change_that_was_never_measured_is_refused_and_nothing_is_applied() -> None:
    state = IncrementalMeasure([goal()], [ticket("t", "ada", 3)])
    snapshot = dict(state)
    changes = [
        TicketChange(None, ticket("u", "bob", 4)),
        TicketChange(ticket("x", "bob", 50), None),  # bob had nothing in February
    ]
    with raises(InvalidInput, "changes", ("g", "bob", 1)):
        state.apply(changes)
    assert dict(state) == snapshot


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (["not a change"], "changes[0]"),
        ([TicketChange("t", None)], "changes[0].old"),  # type: ignore[arg-type]
        ([TicketChange(None, None), TicketChange(None, 3)], "changes[1].new"),  # type: ignore[arg-type]
    ],
)
def test_bad_changes_are_refused(changes: list[TicketChange], field: str) -> None:
    state = IncrementalMeasure([goal()])
    with raises(InvalidInput, field):
        state.apply(changes)


def test_cells_are_a_read_only_mapping() -> None:
    state = IncrementalMeasure([goal()])
    assert ("g", "ada", 2) in state
    for missing in (("g", "ada", 3), ("g", "ada", -1), ("h", "ada", 0), ("g", "ada", "0")):
        assert missing not in state
    assert len(state) == len(list(state)) == 6


def test_reevaluate_refuses_a_report_of_another_goal() -> None:
    other = attrs.evolve(goal(), id="h")
    base = evaluate(other, {}, at=SPAN.start)
    with raises(InvalidInput, "base.goal_id", "h"):
        reevaluate(base, goal(), {}, [])


def test_an_average_left_without_tickets_shows_the_mean_of_targets() -> None:
    hours = timedelta(hours=1)
    average = attrs.evolve(
        goal(), kpi=AVG_RESOLUTION_TIME, targets=((Target(4 * hours),) * 3, (Target(hours),) * 3)
    )
    only = ticket("t", "ada", 3)
    state = IncrementalMeasure([average], [only])
    when = SPAN.start + timedelta(days=70)
    base = evaluate(average, state, at=when)
    assert base.total(0).measurement == Measurement(1, 2 * 24 * 3600 * 10**6)
    touched = state.apply([TicketChange(only, None)])
    again = reevaluate(base, average, state, touched["g"])
    assert again == evaluate(average, state, at=when)
    assert again.total(0).target == 5 * 3600 * 10**6 // 2  # the plain mean of 4 h and 1 h


class Failing:
    """A working clock that fails for tickets created at ``SPAN.start`` (wall clock else)."""

    def working_us(self, start_us: int, end_us: int) -> int:
        if start_us == SPAN.start_us:
            raise RuntimeError("no schedule for that day")
        return end_us - start_us


def test_a_clock_that_fails_half_way_leaves_the_measurer_refusing_use() -> None:
    hour = Target(timedelta(hours=1))
    average = attrs.evolve(
        goal(),
        kpi=AVG_RESOLUTION_TIME,
        clock_policy=ClockPolicy(Failing()),
        targets=((hour,) * 3,) * 2,
    )
    state = IncrementalMeasure([average], [ticket("t", "ada", 3)])
    assert state[("g", "ada", 0)] == Measurement(1, 2 * 24 * 3600 * 10**6)
    bad = attrs.evolve(ticket("u", "ada", 4), created_at=SPAN.start)
    with pytest.raises(RuntimeError, match="no schedule"):
        state.apply([TicketChange(None, ticket("v", "ada", 5)), TicketChange(None, bad)])
    for use in (lambda: state[("g", "ada", 0)], lambda: list(state), lambda: state.apply([])):
        with raises(InvalidInput, "IncrementalMeasure", "RuntimeError: no schedule for that day"):
            use()


# -- moving the as-of instant ---------------------------------------------------------


def _events_us(ticket_list: Iterable[Ticket]) -> list[int]:
    """Every instant measuring compares with the limit, and the microsecond before it."""
    found = []
    for t in ticket_list:
        for x in (t.first_response_us, t.closed_us, *(x for r in t.reopens_us for x in r)):
            if x is not None:
                found += [x - 1, x]
    return found


@given(SCENARIOS, st.data())
def test_advancing_the_instant_equals_measuring_at_it(
    scenario: Scenario, data: st.DataObject
) -> None:
    goal_list, ticket_list, directory, at = scenario
    span = goal_list[0].span
    start = at or from_us(data.draw(st.integers(span.start_us - 10**11, span.end_us)))
    state = IncrementalMeasure(goal_list, ticket_list, directory=directory, at=start)
    current = {t.id: t for t in ticket_list}
    now_us = as_of_limit(start) - 1  # type: ignore[operator]
    for _ in range(data.draw(st.integers(1, 4))):
        state.apply(data.draw(batches(goal_list, current, directory)))
        later = [x for x in _events_us(current.values()) if x >= now_us]
        step = st.integers(now_us, now_us + 60 * 86_400 * 10**6)
        now_us = data.draw(st.one_of(st.sampled_from(later), step) if later else step)
        touched = state.advance(from_us(now_us))
        assert state.at == from_us(now_us)
        after = measure(goal_list, current.values(), directory=directory, at=from_us(now_us))
        assert dict(state) == after
        assert all(k[0] == goal_id for goal_id, keys in touched.items() for k in keys)
    state.advance(None)
    assert dict(state) == measure(goal_list, current.values(), directory=directory)


def test_a_ticket_closed_in_the_future_counts_once_the_instant_passes_its_close() -> None:
    future = ticket("t", "ada", 40)  # closed on February 10
    state = IncrementalMeasure([goal()], [future], at=SPAN.start + timedelta(days=20))
    assert state[("g", "ada", 1)] == Measurement()
    assert state.advance(SPAN.start + timedelta(days=39, hours=23)) == {}
    touched = state.advance(SPAN.start + timedelta(days=40))  # the very instant of the close
    assert touched == {"g": {("g", "ada", 1)}}
    assert state[("g", "ada", 1)] == Measurement(1, 0)
    # Once counted, it is no longer watched: a later move touches nothing.
    assert state.advance(None) == {}
    assert state.at is None


def test_the_instant_never_moves_back() -> None:
    when = SPAN.start + timedelta(days=20)
    state = IncrementalMeasure([goal()], [ticket("t", "ada", 40)], at=when)
    with raises(InvalidInput, "at", when - timedelta(microseconds=1)) as refused:
        state.advance(when - timedelta(microseconds=1))
    assert "measure again" in str(refused.error)
    assert state.advance(when) == {}
    with raises(InvalidInput, "at"):
        state.advance(datetime(2026, 2, 1))  # naive
    everything = IncrementalMeasure([goal()])
    assert everything.advance(None) == {}
    with raises(InvalidInput, "at", when):
        everything.advance(when)


def test_a_future_old_image_that_was_never_measured_is_refused() -> None:
    when = SPAN.start + timedelta(days=20)
    state = IncrementalMeasure([goal()], [ticket("t", "ada", 40)], at=when)
    snapshot = dict(state)
    with raises(InvalidInput, "changes[1].old", "u"):  # closed after the instant
        state.apply(
            [TicketChange(None, ticket("v", "bob", 45)), TicketChange(ticket("u", "ada", 41), None)]
        )
    assert dict(state) == snapshot
    # The remembered ticket is still remembered: it counts when the instant passes it.
    state.apply([TicketChange(ticket("t", "ada", 40), ticket("t", "bob", 42))])
    state.advance(SPAN.start + timedelta(days=50))
    assert (state[("g", "ada", 1)], state[("g", "bob", 1)]) == (Measurement(), Measurement(1, 0))
