"""Property tests of measure(): it agrees with a slow re-computation, and splits add up."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from random import Random

from hypothesis import event, given
from hypothesis import strategies as st

from servicegoals import (
    AccountSettings,
    ContributorKind,
    Directory,
    Goal,
    Measurement,
    Ticket,
    TicketEvent,
    Unit,
    Weekday,
    measure,
)
from servicegoals._validate import duration_us
from servicegoals.testing import directories, goals, tickets

ACCOUNTS = (
    AccountSettings(),
    AccountSettings("America/New_York", 4, Weekday.SUNDAY),
    AccountSettings("Asia/Kathmandu", 7),
)
DELAY = timedelta(days=5)
Result = dict[tuple[str, str, int], Measurement]


def reference(
    goal_list: Sequence[Goal], ticket_list: Sequence[Ticket], directory: Directory | None
) -> Result:
    """docs/progress.md ("Which tickets count", "Who a ticket counts for"), literally."""
    out: Result = {}
    for goal in goal_list:
        for c in goal.contributors:
            team = c.kind is ContributorKind.TEAM
            ids = directory.descendants(c.id) if team and directory else {c.id}
            for m in goal.milestones:
                pipes = goal.effective_pipelines(c.id, m.index)
                count = total = 0
                for t in ticket_list:
                    if (t.team_id if team else t.owner_id) not in ids:
                        continue
                    closed = goal.kpi.event is TicketEvent.CLOSED
                    when: datetime | None = t.closed_at if closed else t.first_response_at
                    if when is None or when not in m.period:
                        continue
                    if pipes and t.pipeline not in pipes:
                        continue
                    count += 1
                    if goal.kpi.unit is Unit.DURATION:
                        total += duration_us(when - t.created_at)
                out[(goal.id, c.id, m.index)] = Measurement(count, total)
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Goal], list[Ticket], Directory | None]:
    """A few goals over one directory (or none), and tickets aimed at them."""
    directory = draw(st.none() | directories().filter(lambda d: bool(d.users or d.teams)))
    # Calendars are test_calendar's business: a few accounts keep this fast.
    account = draw(st.sampled_from(ACCOUNTS))
    aimed_goals = goals(account, directory=directory, max_days=120)
    goal_list = draw(st.lists(aimed_goals, min_size=1, max_size=3, unique_by=lambda g: g.id))
    aimed = st.one_of(*(tickets(g, directory=directory, max_delay=DELAY) for g in goal_list))
    ticket_list = draw(st.lists(aimed, min_size=1, max_size=25))
    return goal_list, ticket_list, directory


def combine(a: Result, b: Result) -> Result:
    assert a.keys() == b.keys()
    return {k: a[k] + b[k] for k in a}


@given(scenarios())
def test_measure_equals_a_literal_recomputation_on_any_iterable(
    scenario: tuple[list[Goal], list[Ticket], Directory | None],
) -> None:
    goal_list, ticket_list, directory = scenario
    expected = reference(goal_list, ticket_list, directory)
    event(f"cells with tickets: {min(3, sum(1 for m in expected.values() if m.count))}")
    assert measure(goal_list, ticket_list, directory=directory) == expected
    read: list[Ticket] = []

    def stream() -> Iterator[Ticket]:
        for t in ticket_list:
            read.append(t)
            yield t

    # A generator (read exactly once) and an iterator of goals measure the same.
    assert measure(iter(goal_list), stream(), directory=directory) == expected
    assert read == ticket_list


@given(scenarios())
def test_a_ticket_counts_in_at_most_one_milestone_per_cell(
    scenario: tuple[list[Goal], list[Ticket], Directory | None],
) -> None:
    goal_list, ticket_list, directory = scenario
    for ticket in ticket_list:
        result = measure(goal_list, [ticket], directory=directory)
        for goal in goal_list:
            for c in goal.contributors:
                counts = [result[(goal.id, c.id, m.index)].count for m in goal.milestones]
                assert sum(counts) <= 1


@given(scenarios(), st.data(), st.randoms(use_true_random=False))
def test_measure_is_additive_over_any_split_and_ignores_order(
    scenario: tuple[list[Goal], list[Ticket], Directory | None],
    data: st.DataObject,
    rng: Random,
) -> None:
    goal_list, ticket_list, directory = scenario
    cut = data.draw(st.integers(0, len(ticket_list)))
    whole = measure(goal_list, ticket_list, directory=directory)
    first = measure(goal_list, ticket_list[:cut], directory=directory)
    rest = measure(goal_list, ticket_list[cut:], directory=directory)
    assert whole == combine(first, rest)
    shuffled = list(ticket_list)
    rng.shuffle(shuffled)
    assert measure(goal_list, shuffled, directory=directory) == whole
