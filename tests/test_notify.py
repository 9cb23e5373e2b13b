"""plan_notifications(): which changes notify whom, with stable keys (pure, no I/O)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

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
    Period,
    Status,
    Team,
    Ticket,
    User,
    date_range,
    dump_goals,
    evaluate,
    forecast,
    load_goals,
    measure,
    notification_key,
    plan_notifications,
)
from servicegoals._convert import goal_from_dict, goal_to_dict
from servicegoals.measure import CellKey
from servicegoals.testing import directories, goals, raises, tickets

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
    contributors: Sequence[User | Team] = (ADA,),
    notifications: NotificationSettings = ALL_ON,
    *,
    id: str = "g1",
    name: str = "Close tickets",
    span: Period = SPAN,
    target: int = 4,
) -> Goal:
    return Goal.create(
        id=id,
        name=name,
        kpi=CLOSED_TICKETS,
        cadence=Cadence.MONTHLY,
        span=span,
        settings=ACCOUNT,
        contributors=contributors,
        targets={c.id: target for c in contributors},
        notifications=notifications,
        created_at=span.start - timedelta(days=1),
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
    with raises(InvalidInput, "clock", "calendar"):
        plan_notifications(None, now, goal, DIRECTORY, clock="calendar")  # type: ignore[arg-type]


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


@given(scenarios(), st.booleans())
def test_repeated_refreshes_never_plan_a_key_twice(
    scenario: tuple[Directory, Goal, list[Ticket], list[datetime]], at_risk: bool
) -> None:
    directory, goal, pool, times = scenario
    if at_risk:  # drawn settings rarely ask for it, and it is the event that re-arms
        goal = goal.with_notifications(attrs.evolve(goal.notifications, on_at_risk=True))
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
            user = directory.find_user(n.recipient_id)
            assert user is not None
            assert user.active
            assert n.recipient_email == user.email
            assert (n.percent is not None) == (n.event is NotificationEvent.PROGRESS_CROSSED)
            if n.event is NotificationEvent.AT_RISK:  # a fall: at risk now, not before
                assert forecast(goal, current).row(n.contributor_id, n.milestone_index).at_risk
                before = forecast(goal, previous) if previous else None
                was = before.find_row(n.contributor_id, n.milestone_index) if before else None
                assert was is None or not was.at_risk
        seen.update(keys)
        previous = current


# -- at risk -------------------------------------------------------------------------

APRIL = date_range(date(2026, 4, 1), date(2026, 4, 30), ACCOUNT)  # 30 days
AT_RISK_ONLY = NotificationSettings(on_at_risk=True)


def april_goal(
    contributors: Sequence[User | Team] = (BOB,), notifications: NotificationSettings = AT_RISK_ONLY
) -> Goal:
    return closed_goal(
        contributors, notifications, id="g3", name="Close in April", span=APRIL, target=30
    )


def april(
    goal: Goal, day: int, count: int, previous: GoalReport | None, hour: int = 0
) -> GoalReport:
    measured = {(goal.id, c, 0): Measurement(count) for c in goal.contributor_ids}
    return evaluate(goal, measured, at=at(4, day, hour), previous=previous, directory=DIRECTORY)


def test_at_risk_is_sent_once_per_fall_and_re_armed_on_recovery() -> None:
    goal = april_goal()
    day_9 = april(goal, 9, 8, None)  # 8 in 8 of 30 days: on pace
    assert plan_notifications(None, day_9, goal, DIRECTORY) == ()
    day_11 = april(goal, 11, 8, day_9)  # 24 projected: at risk
    (fell,) = plan_notifications(day_9, day_11, goal, DIRECTORY)
    assert (fell.recipient_id, fell.event, fell.percent) == ("bob", NotificationEvent.AT_RISK, None)
    assert fell.subject == "Close in April (2026-04): at risk"
    assert fell.body.endswith(
        "Status: in progress; progress 26%.\n"
        "Forecast: 80% at the milestone's end, below the 100% you should reach.\n"
    )
    # The key names the report that armed it, the last one in which the row was fine.
    assert fell.key == notification_key(
        "g3", "bob", 0, NotificationEvent.AT_RISK, None, "bob", armed_at=day_9.calculated_at
    )
    # Planning the same change again, or another tracker that refreshed from the same
    # previous report at another time, gives the same key.
    assert plan_notifications(day_9, day_11, goal, DIRECTORY) == (fell,)
    other = april(goal, 10, 8, day_9, hour=12)
    assert [n.key for n in plan_notifications(day_9, other, goal, DIRECTORY)] == [fell.key]
    # Still at risk: nothing new.  Recovered: nothing.  At risk again: a new key.
    day_12 = april(goal, 12, 8, day_11)
    assert plan_notifications(day_11, day_12, goal, DIRECTORY) == ()
    day_14 = april(goal, 14, 13, day_12)
    assert plan_notifications(day_12, day_14, goal, DIRECTORY) == ()
    day_20 = april(goal, 20, 13, day_14)
    (again,) = plan_notifications(day_14, day_20, goal, DIRECTORY)
    assert again.event is NotificationEvent.AT_RISK
    assert again.key not in (fell.key,)
    assert again.key == notification_key(
        "g3", "bob", 0, NotificationEvent.AT_RISK, None, "bob", armed_at=day_14.calculated_at
    )


def test_at_risk_is_opt_in_and_follows_the_goal_settings() -> None:
    quiet = april_goal(notifications=ALL_ON)  # every other event, but not at risk
    day_9 = april(quiet, 9, 8, None)
    day_11 = april(quiet, 11, 8, day_9)
    assert NotificationEvent.AT_RISK not in [
        n.event for n in plan_notifications(day_9, day_11, quiet, DIRECTORY)
    ]
    # At 80% of the forecast, a 75% threshold is not crossed.
    lenient = april_goal(notifications=attrs.evolve(AT_RISK_ONLY, at_risk_below_percent=75))
    assert plan_notifications(None, april(lenient, 11, 8, None), lenient, DIRECTORY) == ()
    # No tickets at all, but before the minimum share (here 50%) nothing is at risk yet.
    patient = april_goal(notifications=attrs.evolve(AT_RISK_ONLY, at_risk_after_percent=50))
    day_15 = april(patient, 15, 0, None)
    assert plan_notifications(None, day_15, patient, DIRECTORY) == ()
    day_16 = april(patient, 16, 0, day_15)  # 15 of 30 days: half the month
    assert events(plan_notifications(day_15, day_16, patient, DIRECTORY)) == [
        ("bob", 0, NotificationEvent.AT_RISK, None)
    ]


class _StopsAt:
    """A working clock whose working time ends at ``stop_us``."""

    def __init__(self, stop: datetime) -> None:
        self.stop_us = (stop - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)

    def working_us(self, start_us: int, end_us: int) -> int:
        return max(0, min(end_us, self.stop_us) - start_us)


def test_at_risk_uses_the_given_clock() -> None:
    goal = april_goal()
    day_5 = april(goal, 5, 2, None)  # 2 in 4 of 30 days: on pace, and under 25% anyway
    assert plan_notifications(None, day_5, goal, DIRECTORY) == ()
    # If the month's working time ended on the 3rd, 2 tickets is all there will be.
    stopped = _StopsAt(at(4, 3, 0))
    assert events(plan_notifications(None, day_5, goal, DIRECTORY, clock=stopped)) == [
        ("bob", 0, NotificationEvent.AT_RISK, None)
    ]


def test_at_risk_goes_to_team_members_and_never_for_frozen_rows() -> None:
    team = april_goal([Team("support", "Support")])
    planned = plan_notifications(None, april(team, 11, 8, None), team, DIRECTORY)
    assert events(planned) == [
        ("ada", 0, NotificationEvent.AT_RISK, None),
        ("bob", 0, NotificationEvent.AT_RISK, None),
    ]
    assert "for team Support: at risk" in planned[0].body
    # Bob deactivated: his carried row is frozen, whatever its forecast would be.
    goal = april_goal()
    day_9 = april(goal, 9, 8, None)
    gone = Directory([ADA, attrs.evolve(BOB, active=False)], DIRECTORY.teams)
    day_11 = evaluate(goal, {}, at=at(4, 11), previous=day_9, directory=gone)
    assert day_11.row("bob", 0).frozen is not None
    assert plan_notifications(day_9, day_11, goal, DIRECTORY) == ()


def test_keys_of_the_other_events_are_unchanged() -> None:
    parts = ["g1", "ada", 0, "achieved", None, "ada"]
    old = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
    assert notification_key("g1", "ada", 0, NotificationEvent.ACHIEVED, None, "ada") == old
    armed = notification_key(
        "g1", "ada", 0, NotificationEvent.ACHIEVED, None, "ada", armed_at=at(1, 1)
    )
    assert armed != old
    # The same instant in another zone is the same arming report.
    elsewhere = at(1, 1).astimezone(timezone(timedelta(hours=5)))
    assert armed == notification_key(
        "g1", "ada", 0, NotificationEvent.ACHIEVED, None, "ada", armed_at=elsewhere
    )
    with pytest.raises(InvalidInput, match="armed_at"):
        notification_key(
            "g1", "ada", 0, NotificationEvent.AT_RISK, None, "ada", armed_at=datetime(2026, 1, 1)
        )


# -- at-risk settings ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "field", "value"),
    [
        ({"at_risk_below_percent": 0}, "at_risk_below_percent", 0),
        ({"at_risk_below_percent": Fraction(-1, 2)}, "at_risk_below_percent", Fraction(-1, 2)),
        ({"at_risk_below_percent": 99.5}, "at_risk_below_percent", 99.5),
        ({"at_risk_after_percent": -1}, "at_risk_after_percent", -1),
        ({"at_risk_after_percent": Fraction(201, 2)}, "at_risk_after_percent", Fraction(201, 2)),
        ({"at_risk_after_percent": True}, "at_risk_after_percent", True),
        ({"at_risk_after_percent": "25"}, "at_risk_after_percent", "25"),
        ({"on_at_risk": 1}, "on_at_risk", 1),
    ],
)
def test_at_risk_settings_are_checked(settings: dict[str, Any], field: str, value: Any) -> None:
    name = field if field == "on_at_risk" else f"notifications.{field}"
    with raises(InvalidInput, name, value):
        NotificationSettings(**settings)


def test_at_risk_settings_are_exact_and_edited_like_the_others() -> None:
    exact = NotificationSettings(
        at_risk_below_percent=Fraction(181, 2), at_risk_after_percent=Fraction(50, 2)
    )
    assert exact.at_risk_below_percent == Fraction(181, 2)
    assert type(exact.at_risk_after_percent) is int  # a whole Fraction is an int
    goal = april_goal().with_notifications(exact)
    assert goal.notifications.at_risk_after_percent == 25


def test_at_risk_settings_round_trip_through_goal_files(tmp_path: Path) -> None:
    plain = april_goal(notifications=NotificationSettings(on_missed=True))
    exact = april_goal(
        notifications=NotificationSettings(
            on_at_risk=True, at_risk_below_percent=Fraction(181, 2), at_risk_after_percent=10
        )
    )
    for name in ("goals.toml", "goals.json"):
        path = tmp_path / name
        dump_goals([attrs.evolve(plain, id="plain"), exact], path)
        text = path.read_text("utf-8")
        assert text.count("at_risk") == 3  # the defaults of "plain" are not written
        assert "181/2" in text
        assert load_goals(path) == (attrs.evolve(plain, id="plain"), exact)
    data = goal_to_dict(exact)
    data["notifications"]["at_risk_after_percent"] = 0.5
    with raises(InvalidInput, "goal.notifications.at_risk_after_percent", 0.5):
        goal_from_dict(data)
    data["notifications"]["at_risk_after_percent"] = "201/2"
    with raises(InvalidInput, "goal.notifications.at_risk_after_percent", Fraction(201, 2)):
        goal_from_dict(data)


@given(
    st.integers(1, 40),
    st.lists(st.tuples(st.integers(0, 30 * 24 - 1), st.integers(50, 150))),
)
def test_every_fall_notifies_once_with_its_own_key(
    target: int, steps: list[tuple[int, int]]
) -> None:
    """Refreshes through April: one AT_RISK per fall, never a key twice.

    Each step is an hour of April and the pace the tickets so far run at (50% to
    150% of the target's), so that rows fall, recover and fall again often.
    """
    goal = april_goal().with_targets("bob", target)
    count, previous, was_at_risk, falls = 0, None, False, 0
    keys: list[str] = []
    for hour, pace in sorted(steps):
        count = max(count, target * hour * pace // (100 * 30 * 24))  # tickets never vanish
        now = evaluate(
            goal,
            {("g3", "bob", 0): Measurement(count)},
            at=APRIL.start + timedelta(hours=hour),
            previous=previous,
        )
        at_risk = forecast(goal, now).row("bob", 0).at_risk
        falls += at_risk and not was_at_risk
        keys += [n.key for n in plan_notifications(previous, now, goal, DIRECTORY)]
        previous, was_at_risk = now, at_risk
    assert len(keys) == falls
    assert len(set(keys)) == len(keys)
