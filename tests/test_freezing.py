"""Refresh and freezing (docs/progress.md): expired rows fixed, inactive contributors carried."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

from hypothesis import event, given
from hypothesis import strategies as st

from servicegoals import (
    CLOSED_TICKETS,
    AccountSettings,
    Cadence,
    ContributorKind,
    Directory,
    FrozenReason,
    Goal,
    GoalReport,
    Measurement,
    Progress,
    Status,
    Team,
    Ticket,
    Unit,
    User,
    date_range,
    evaluate,
    measure,
)
from servicegoals.testing import goals

ACCOUNT = AccountSettings()
Q1 = date_range(date(2026, 1, 1), date(2026, 3, 31), ACCOUNT)
ADA, BOB = User("u1", "Ada"), User("u2", "Bob")
ACTIVE = Directory(users=[ADA, BOB])
BOB_GONE = Directory(users=[ADA, User("u2", "Bob", active=False)])


def day(month: int, d: int) -> datetime:
    return datetime(2026, month, d, tzinfo=UTC)


def team_goal(**targets: int | None) -> Goal:
    return Goal.create(
        id="g",
        name="Close tickets",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.MONTHLY,
        span=Q1,
        settings=ACCOUNT,
        contributors=[ADA, BOB],
        targets=targets or {"u1": 5, "u2": 5},
    )


def closed(owner: str, month: int, d: int, n: int = 1) -> list[Ticket]:
    """``n`` tickets of ``owner`` created on 1 January and closed on the day."""
    return [
        Ticket(f"{owner}-{month}-{d}-{i}", day(1, 1), "s", owner_id=owner, closed_at=day(month, d))
        for i in range(n)
    ]


def run(
    goal: Goal,
    tickets: list[Ticket],
    at: datetime,
    previous: GoalReport | None = None,
    directory: Directory = ACTIVE,
) -> GoalReport:
    measured = measure([goal], tickets, directory=directory)
    return evaluate(goal, measured, at=at, previous=previous, directory=directory)


def test_changes_after_expiry_do_not_count() -> None:
    goal = team_goal()
    tickets = closed("u1", 1, 10, 4)
    february = run(goal, tickets, day(2, 1))
    january = february.row("u1", 0)
    assert (january.status, january.frozen) == (Status.MISSED, None)
    # A ticket closed in January turns up in the data source later.
    tickets += closed("u1", 1, 20)
    march = run(goal, tickets, day(3, 1), previous=february)
    assert march.row("u1", 0) == Progress(
        "u1", 0, 5, Measurement(4), january.value, january.attainment, Status.MISSED,
        day(2, 1), FrozenReason.EXPIRED,
    )  # fmt: skip
    # Without the previous report the row would be recalculated, and achieved.
    assert run(goal, tickets, day(3, 1)).row("u1", 0).status is Status.ACHIEVED
    # Roll-ups pool the fixed rows, so they agree with them.
    assert march.total(0).measurement == Measurement(4)
    assert march.whole_goal("u1").measurement == Measurement(4)


def test_a_row_is_fixed_by_its_first_calculation_at_or_after_the_end() -> None:
    goal = team_goal()
    tickets = closed("u1", 1, 10, 5)
    before_end = run(goal, tickets, day(1, 31))
    assert before_end.row("u1", 0).status is Status.IN_PROGRESS
    at_end = run(goal, tickets + closed("u1", 1, 31), day(2, 1), previous=before_end)
    assert (at_end.row("u1", 0).status, at_end.row("u1", 0).frozen) == (Status.EXCEEDED, None)
    later = run(goal, tickets, day(2, 2), previous=at_end)
    assert later.row("u1", 0) == _frozen_copy(at_end.row("u1", 0), FrozenReason.EXPIRED)


def _frozen_copy(row: Progress, reason: FrozenReason) -> Progress:
    return Progress(
        row.contributor_id,
        row.milestone_index,
        row.target,
        row.measurement,
        row.value,
        row.attainment,
        row.status,
        row.calculated_at,
        reason,
        row.infinite,
    )


def test_a_target_edit_recomputes_an_expired_row_from_its_fixed_measurement() -> None:
    goal = team_goal()
    tickets = closed("u1", 1, 10, 5)
    february = run(goal, tickets, day(2, 1))
    assert february.row("u1", 0).status is Status.ACHIEVED
    raised = goal.with_target("u1", 0, 8)
    march = run(raised, tickets + closed("u1", 1, 11, 10), day(3, 1), previous=february)
    row = march.row("u1", 0)
    assert (row.target, row.measurement, row.status) == (8, Measurement(5), Status.MISSED)
    assert row.attainment == Fraction(5, 8)
    assert (row.calculated_at, row.frozen) == (day(2, 1), FrozenReason.EXPIRED)
    assert march.whole_goal("u1").target == 18
    assert march.total(0).target == 13
    lowered = raised.with_target("u1", 0, 4)
    april = run(lowered, tickets, day(4, 1), previous=march)
    assert april.row("u1", 0).status is Status.EXCEEDED
    # Removing the target removes the row, expired or not.
    gone = run(lowered.with_target("u1", 0, None), tickets, day(4, 2), previous=april)
    assert gone.find_row("u1", 0) is None


def test_a_deactivated_users_row_is_carried_forward() -> None:
    goal = team_goal()
    tickets = closed("u2", 2, 3, 2)
    mid_february = run(goal, tickets, day(2, 15))
    carried = mid_february.row("u2", 1)
    assert (carried.status, carried.measurement) == (Status.IN_PROGRESS, Measurement(2))
    # Bob is deactivated; tickets still arrive under his name.
    tickets += closed("u2", 2, 20, 9)
    march = run(goal, tickets, day(3, 5), previous=mid_february, directory=BOB_GONE)
    assert march.row("u2", 1) == _frozen_copy(carried, FrozenReason.CONTRIBUTOR_INACTIVE)
    # His March row is carried as last calculated: pending.
    pending = march.row("u2", 2)
    assert (pending.status, pending.calculated_at) == (Status.PENDING, day(2, 15))
    assert pending.frozen is FrozenReason.CONTRIBUTOR_INACTIVE
    whole = march.whole_goal("u2")
    assert whole.frozen is FrozenReason.CONTRIBUTOR_INACTIVE
    later = run(goal, tickets, day(4, 5), previous=march, directory=BOB_GONE)
    for j in range(3):
        assert later.row("u2", j) == march.row("u2", j)
    assert later.whole_goal("u2") == whole
    # The carried rows still count in the milestone totals: Bob is a contributor.
    assert later.total(1).measurement == Measurement(2)
    # Reactivated, Bob's rows that were not expired are calculated again.
    back = run(goal, tickets, day(4, 6), previous=later)
    assert back.row("u2", 1).measurement == Measurement(11)
    assert back.row("u2", 1).frozen is None


def test_an_inactive_contributor_without_a_previous_row_gets_one_calculation() -> None:
    goal = team_goal()
    tickets = closed("u2", 1, 3, 5) + closed("u2", 2, 3)
    first = run(goal, tickets, day(2, 10), directory=BOB_GONE)
    assert [(r.status, r.frozen) for r in first.rows_of("u2")] == [
        (Status.ACHIEVED, FrozenReason.EXPIRED),  # calculated after its end: fixed
        (Status.IN_PROGRESS, FrozenReason.CONTRIBUTOR_INACTIVE),
        (Status.PENDING, FrozenReason.CONTRIBUTOR_INACTIVE),
    ]
    second = run(goal, tickets + closed("u2", 2, 4, 9), day(4, 1), first, BOB_GONE)
    assert second.rows_of("u2") == first.rows_of("u2")
    assert second.whole_goal("u2") == first.whole_goal("u2")


def test_an_expired_row_stays_expired_when_its_contributor_is_deactivated() -> None:
    goal = team_goal()
    february = run(goal, closed("u2", 1, 3), day(2, 1))
    march = run(goal, [], day(3, 1), previous=february, directory=BOB_GONE)
    assert march.row("u2", 0).frozen is FrozenReason.EXPIRED
    assert march.row("u2", 1).frozen is FrozenReason.CONTRIBUTOR_INACTIVE


def test_a_deleted_contributors_rows_are_carried_but_leave_the_totals() -> None:
    goal = team_goal()
    tickets = closed("u1", 1, 5, 5) + closed("u2", 1, 5, 2)
    february = run(goal, tickets, day(2, 10))
    assert february.total(0).measurement == Measurement(7)
    without_bob = goal.without_contributor("u2")
    march = run(without_bob, tickets, day(3, 10), previous=february)
    bob_rows = [r for r in march.rows if r.contributor_id == "u2"]
    assert bob_rows == [
        _frozen_copy(february.row("u2", 0), FrozenReason.EXPIRED),
        _frozen_copy(february.row("u2", 1), FrozenReason.CONTRIBUTOR_INACTIVE),
        _frozen_copy(february.row("u2", 2), FrozenReason.CONTRIBUTOR_INACTIVE),
    ]
    assert march.whole_goal("u2").frozen is FrozenReason.CONTRIBUTOR_INACTIVE
    assert march.whole_goal("u2").calculated_at == day(2, 10)
    # Total rows cover the current contributors only.
    assert march.total(0).measurement == Measurement(5)
    assert march.total(0).status is Status.ACHIEVED
    # And they keep being carried.
    april = run(without_bob, tickets, day(4, 10), previous=march)
    assert [r for r in april.rows if r.contributor_id == "u2"] == bob_rows


def test_a_team_unknown_to_the_directory_counts_as_deleted() -> None:
    goal = Goal.create(
        id="g",
        name="Team",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.MONTHLY,
        span=Q1,
        settings=ACCOUNT,
        contributors=[Team("t1", "Support")],
        targets={"t1": 1},
    )
    known = Directory(teams=[Team("t1", "Support")])
    report = evaluate(goal, {}, at=day(1, 5), directory=known)
    assert report.row("t1", 0).frozen is None
    dissolved = evaluate(goal, {}, at=day(1, 6), previous=report, directory=Directory())
    assert dissolved.row("t1", 0) == _frozen_copy(
        report.row("t1", 0), FrozenReason.CONTRIBUTOR_INACTIVE
    )


def test_expired_roll_ups_are_copied_like_cells() -> None:
    goal = team_goal()
    tickets = closed("u1", 1, 5, 5)
    april = run(goal, tickets, day(4, 1))
    may = run(goal, tickets, day(5, 1), previous=april)
    assert may.whole_goal("u1") == _frozen_copy(april.whole_goal("u1"), FrozenReason.EXPIRED)
    assert may.total(0) == _frozen_copy(april.total(0), FrozenReason.EXPIRED)


# -- the property --------------------------------------------------------------------

_DAY_US = 86_400_000_000
_US = timedelta(microseconds=1)
_RANK = {Status.PENDING: 0, Status.IN_PROGRESS: 1}  # final statuses rank 2


@st.composite
def measurements(draw: st.DrawFn, goal: Goal) -> dict[tuple[str, str, int], Measurement]:
    duration = goal.kpi.unit is Unit.DURATION
    out: dict[tuple[str, str, int], Measurement] = {}
    for c in goal.contributors:
        for m in goal.milestones:
            count = draw(st.integers(0, 8))
            total = draw(st.integers(0, 5 * _DAY_US)) if duration and count else 0
            out[(goal.id, c.id, m.index)] = Measurement(count, total)
    return out


def when(goal: Goal) -> st.SearchStrategy[datetime]:
    """Instants around the span, often just after a milestone ends."""
    ends = [m.period.end for m in goal.milestones]
    after_an_end = st.sampled_from(ends).flatmap(
        lambda e: st.integers(0, _DAY_US).map(lambda us: e + us * _US)
    )
    start = goal.span.start_us - 10 * _DAY_US
    end = goal.span.end_us + 10 * _DAY_US
    anywhere = st.integers(start, end).map(lambda us: datetime(1970, 1, 1, tzinfo=UTC) + us * _US)
    return after_an_end | anywhere


@given(goals(ACCOUNT, max_days=120, max_contributors=3), st.data())
def test_a_frozen_row_never_changes_whatever_tickets_arrive(
    goal: Goal, data: st.DataObject
) -> None:
    """Calculations with the previous report each time, new measurements each time.

    Statuses only move forward along the way: pending, in progress, final.
    """
    active = {c.id: data.draw(st.booleans()) for c in goal.contributors}
    users = [
        User(c.id, c.id, active=active[c.id])
        for c in goal.contributors
        if c.kind is ContributorKind.USER
    ]
    teams = [
        Team(c.id, c.id)
        for c in goal.contributors
        if c.kind is ContributorKind.TEAM and active[c.id]
    ]
    directory = data.draw(st.none() | st.just(Directory(users, teams)))
    times = sorted(data.draw(st.lists(when(goal), min_size=2, max_size=5)))
    previous: GoalReport | None = None
    for at in times:
        report = evaluate(
            goal, data.draw(measurements(goal)), at=at, previous=previous, directory=directory
        )
        if previous is not None:
            olds = {(r.contributor_id, r.milestone_index): r for r in previous.rows}
            for row in report.rows:
                old = olds[(row.contributor_id, row.milestone_index)]
                assert _RANK.get(old.status, 2) <= _RANK.get(row.status, 2)  # never back
                if old.frozen is not None:
                    assert row == old  # a frozen row is copied unchanged
                elif old.calculated_at >= goal.milestones[_index(old)].period.end:
                    assert row == _frozen_copy(old, FrozenReason.EXPIRED)
                event(f"frozen: {row.frozen}")
                if row.frozen is not None:
                    assert row.measurement == old.measurement
                    assert row.calculated_at == old.calculated_at
            # Frozen roll-ups are copied unchanged too (the targets never change here).
            for rollups, earlier in (
                (report.contributor_rows, previous.contributor_rows),
                (report.milestone_rows, previous.milestone_rows),
            ):
                frozen = {(r.contributor_id, r.milestone_index): r for r in earlier if r.frozen}
                for row in rollups:
                    assert frozen.get((row.contributor_id, row.milestone_index), row) == row
        previous = report


def _index(row: Progress) -> int:
    assert row.milestone_index is not None
    return row.milestone_index
