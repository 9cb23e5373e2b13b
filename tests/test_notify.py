"""plan_notifications(): which changes notify whom, with stable keys (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicegoals import (
    AVG_RESPONSE_TIME,
    CLOSED_TICKETS,
    AccountSettings,
    Cadence,
    Directory,
    Goal,
    GoalReport,
    InvalidInput,
    Measurement,
    Notification,
    NotificationEvent,
    NotificationSettings,
    Status,
    Team,
    Ticket,
    User,
    date_range,
    evaluate,
    measure,
    notification_key,
    plan_notifications,
)
from servicegoals.measure import CellKey
from servicegoals.testing import directories, goals, tickets

ACCOUNT = AccountSettings()
SPAN = date_range(date(2026, 1, 1), date(2026, 3, 31), ACCOUNT)  # Jan, Feb, Mar
ALL_ON = NotificationSettings(
    on_achieved=True,
    on_exceeded=True,
    on_missed=True,
    progress_percents=(50, 75, 100),
    on_milestone_start=True,
)
ADA = User("ada", "Ada", email="ada@example.com", team_ids={"support"})
BOB = User("bob", "Bob", email="bob@example.com", team_ids={"tier2"})
CY = User("cy", "Cy", email="cy@example.com", active=False, team_ids={"support"})
DIRECTORY = Directory(
    [ADA, BOB, CY], [Team("support", "Support"), Team("tier2", "Tier 2", parent_id="support")]
)


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def closed_goal(
    contributors: Sequence[User | Team] = (ADA,), notifications: NotificationSettings = ALL_ON
) -> Goal:
    return Goal.create(
        id="g1",
        name="Close tickets",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.MONTHLY,
        span=SPAN,
        settings=ACCOUNT,
        contributors=contributors,
        targets={c.id: 4 for c in contributors},
        notifications=notifications,
        created_at=at(1, 1, 0) - timedelta(days=1),
    )


def counts(goal: Goal, *cells: tuple[str, int, int]) -> dict[CellKey, Measurement]:
    return {(goal.id, cid, j): Measurement(n, 0) for cid, j, n in cells}


def report(
    goal: Goal, when: datetime, *cells: tuple[str, int, int], previous: GoalReport | None = None
) -> GoalReport:
    return evaluate(goal, counts(goal, *cells), at=when, previous=previous, directory=DIRECTORY)


def events(planned: Sequence[Notification]) -> list[tuple[str, int, NotificationEvent, int | None]]:
    return [(n.recipient_id, n.milestone_index, n.event, n.percent) for n in planned]


def test_milestone_start_and_progress_crossing() -> None:
    goal = closed_goal()
    before = report(goal, at(1, 1, 0) - timedelta(hours=1))
    jan = report(goal, at(1, 10), ("ada", 0, 1), previous=before)
    assert events(plan_notifications(before, jan, goal, DIRECTORY)) == [
        ("ada", 0, NotificationEvent.MILESTONE_STARTED, None)
    ]
    # 25% -> 75% crosses 50 and 75 at once: one notification, for the highest.
    later = report(goal, at(1, 20), ("ada", 0, 3), previous=jan)
    assert events(plan_notifications(jan, later, goal, DIRECTORY)) == [
        ("ada", 0, NotificationEvent.PROGRESS_CROSSED, 75)
    ]
    # The same progress again notifies nothing.
    again = report(goal, at(1, 21), ("ada", 0, 3), previous=later)
    assert plan_notifications(later, again, goal, DIRECTORY) == ()


def test_final_statuses_notify_once_then_rows_freeze() -> None:
    goal = closed_goal()
    jan = report(goal, at(1, 20), ("ada", 0, 4))
    feb = report(goal, at(2, 1, 1), ("ada", 0, 4), ("ada", 1, 0), previous=jan)
    planned = plan_notifications(jan, feb, goal, DIRECTORY)
    assert events(planned) == [
        ("ada", 0, NotificationEvent.ACHIEVED, None),
        ("ada", 1, NotificationEvent.MILESTONE_STARTED, None),
    ]
    achieved = planned[0]
    assert achieved.recipient_email == "ada@example.com"
    assert achieved.subject == "Close tickets (2026-01): target achieved"
    assert "Status: achieved; progress 100%." in achieved.body
    assert achieved.created_at == feb.calculated_at
    # Later: January is frozen; a target edit changes its status, yet frozen rows never notify.
    edited = goal.with_target("ada", 0, 3)
    march = evaluate(
        edited, counts(edited, ("ada", 1, 9)), at=at(3, 1, 1), previous=feb, directory=DIRECTORY
    )
    assert march.row("ada", 0).frozen is not None
    assert march.row("ada", 0).status is Status.EXCEEDED  # was ACHIEVED
    assert events(plan_notifications(feb, march, edited, DIRECTORY)) == [
        ("ada", 1, NotificationEvent.PROGRESS_CROSSED, 100),
        ("ada", 1, NotificationEvent.EXCEEDED, None),
        ("ada", 2, NotificationEvent.MILESTONE_STARTED, None),
    ]


def test_missed_without_a_previous_report() -> None:
    goal = closed_goal()
    late = report(goal, at(4, 2), ("ada", 0, 4), ("ada", 1, 5), ("ada", 2, 1))
    assert events(plan_notifications(None, late, goal, DIRECTORY)) == [
        ("ada", 0, NotificationEvent.PROGRESS_CROSSED, 100),
        ("ada", 0, NotificationEvent.ACHIEVED, None),
        ("ada", 1, NotificationEvent.PROGRESS_CROSSED, 100),
        ("ada", 1, NotificationEvent.EXCEEDED, None),
        ("ada", 2, NotificationEvent.MISSED, None),
    ]


def test_settings_select_events() -> None:
    only_missed = NotificationSettings(on_missed=True)
    goal = closed_goal(notifications=only_missed)
    late = report(goal, at(4, 2), ("ada", 0, 4), ("ada", 1, 5), ("ada", 2, 1))
    assert events(plan_notifications(None, late, goal, DIRECTORY)) == [
        ("ada", 2, NotificationEvent.MISSED, None)
    ]
    silent = closed_goal(notifications=NotificationSettings())
    assert plan_notifications(None, report(silent, at(4, 2)), silent, DIRECTORY) == ()


def test_team_rows_go_to_active_members_of_the_team_tree() -> None:
    support = Team("support", "Support")
    goal = closed_goal([support])
    jan = report(goal, at(1, 10), ("support", 0, 1))
    planned = plan_notifications(None, jan, goal, DIRECTORY)
    # Ada is in support, Bob in its child team tier2; Cy is inactive.
    assert events(planned) == [
        ("ada", 0, NotificationEvent.MILESTONE_STARTED, None),
        ("bob", 0, NotificationEvent.MILESTONE_STARTED, None),
    ]
    assert "for team Support: milestone started" in planned[0].body
    assert len({n.key for n in planned}) == 2


def test_inactive_and_unknown_users_receive_nothing() -> None:
    ghost = User("ghost", "Ghost")  # not in the directory
    goal = closed_goal([CY, ghost])
    late = report(goal, at(4, 2), ("cy", 0, 9))
    assert plan_notifications(None, late, goal, DIRECTORY) == ()
    # A user deactivated after an earlier report: the carried-forward rows are frozen.
    active = closed_goal([ADA])
    jan = report(active, at(1, 10), ("ada", 0, 1))
    gone = Directory([attrs.evolve(ADA, active=False)], DIRECTORY.teams)
    feb = evaluate(active, counts(active, ("ada", 0, 9)), at=at(2, 2), previous=jan, directory=gone)
    assert plan_notifications(jan, feb, active, gone) == ()


def test_an_infinitely_good_average_crosses_every_threshold() -> None:
    goal = Goal.create(
        id="g2",
        name="Answer fast",
        kpi=AVG_RESPONSE_TIME,
        cadence=Cadence.CUSTOM,
        span=SPAN,
        settings=ACCOUNT,
        contributors=[ADA],
        targets={"ada": timedelta(hours=1)},
        notifications=NotificationSettings(progress_percents=(50, 400)),
    )
    now = evaluate(goal, {("g2", "ada", 0): Measurement(3, 0)}, at=at(2, 1))
    assert now.row("ada", 0).infinite
    assert events(plan_notifications(None, now, goal, DIRECTORY)) == [
        ("ada", 0, NotificationEvent.PROGRESS_CROSSED, 400)
    ]


def test_bad_arguments_are_refused() -> None:
    goal = closed_goal()
    other = attrs.evolve(goal, id="g9")
    now = report(goal, at(1, 10))
    with pytest.raises(InvalidInput, match=r"current\.goal_id"):
        plan_notifications(None, now, other, DIRECTORY)
    later = report(goal, at(1, 11))
    with pytest.raises(InvalidInput, match=r"previous\.calculated_at"):
        plan_notifications(later, now, goal, DIRECTORY)
    with pytest.raises(InvalidInput, match="directory"):
        plan_notifications(None, now, goal, None)  # type: ignore[arg-type]


def test_wire_form_round_trips_and_rejects_bad_fields() -> None:
    goal = closed_goal()
    (n,) = plan_notifications(None, report(goal, at(1, 10)), goal, DIRECTORY)
    assert Notification.from_dict(n.to_dict()) == n
    with pytest.raises(InvalidInput, match="missing fields"):
        Notification.from_dict({"key": "k"})
    with pytest.raises(InvalidInput, match="created_at"):
        Notification.from_dict({**n.to_dict(), "created_at": "2026-01-01T00:00:00"})
    with pytest.raises(InvalidInput, match="event"):
        Notification.from_dict({**n.to_dict(), "event": "exploded"})


# -- properties ----------------------------------------------------------------

identities = st.tuples(
    st.text(min_size=1, max_size=5, alphabet='ab/:"\\,'),
    st.text(min_size=1, max_size=5, alphabet='ab/:"\\,'),
    st.integers(0, 3),
    st.sampled_from(NotificationEvent),
    st.none() | st.integers(1, 3),
    st.text(min_size=1, max_size=5, alphabet='ab/:"\\,'),
)


@given(identities, identities)
def test_keys_are_stable_and_differ_for_different_identities(
    a: tuple[str, str, int, NotificationEvent, int | None, str],
    b: tuple[str, str, int, NotificationEvent, int | None, str],
) -> None:
    assert notification_key(*a) == notification_key(*a)
    assert (notification_key(*a) == notification_key(*b)) == (a == b)


def _known_by(when: datetime, pool: Sequence[Ticket]) -> list[Ticket]:
    """The tickets as a source would show them at ``when``: later events unknown yet."""
    shown = []
    for t in pool:
        if t.created_at > when:
            continue
        first = t.first_response_at if t.first_response_at and t.first_response_at <= when else None
        closed = t.closed_at if t.closed_at and t.closed_at <= when else None
        shown.append(attrs.evolve(t, first_response_at=first, closed_at=closed))
    return shown


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Directory, Goal, list[Ticket], list[datetime]]:
    directory = draw(
        directories(max_users=4, max_teams=3).filter(lambda d: any(u.active for u in d.users))
    )
    goal = draw(
        goals(ACCOUNT, directory=directory, max_days=120, max_contributors=3, kpis=[CLOSED_TICKETS])
    )
    if draw(st.integers(0, 3)):  # small targets, so that thresholds and statuses get reached
        goal = goal.apply_target(draw(st.integers(1, 4)))
    pool = draw(st.lists(tickets(goal, directory=directory), max_size=25, unique_by=lambda t: t.id))
    day = 86_400_000_000
    start, end = goal.span.start_us, goal.span.end_us
    offsets = draw(st.lists(st.integers(start - day, end + day), min_size=1, max_size=6))
    times = [
        datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us) for us in sorted(offsets)
    ]
    return directory, goal, pool, times


@given(scenarios())
def test_repeated_refreshes_never_plan_a_key_twice(
    scenario: tuple[Directory, Goal, list[Ticket], list[datetime]],
) -> None:
    directory, goal, pool, times = scenario
    seen: set[str] = set()
    previous: GoalReport | None = None
    for when in times:
        measured = measure([goal], _known_by(when, pool), directory=directory)
        current = evaluate(goal, measured, at=when, previous=previous, directory=directory)
        planned = plan_notifications(previous, current, goal, directory)
        keys = [n.key for n in planned]
        assert len(keys) == len(set(keys)), "a key twice in one plan"
        assert not seen & set(keys), "a key planned again by a later refresh"
        assert planned == plan_notifications(previous, current, goal, directory)  # pure
        assert plan_notifications(current, current, goal, directory) == ()
        for n in planned:
            user = directory.user(n.recipient_id)
            assert user is not None
            assert user.active
            assert n.recipient_email == user.email
            assert (n.percent is not None) == (n.event is NotificationEvent.PROGRESS_CROSSED)
        seen.update(keys)
        previous = current
