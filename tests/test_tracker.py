"""The tracker with real parts: SQLite files, real sources, and fault injection."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from servicegoals import (
    CLOSED_TICKETS,
    AccountSettings,
    Cadence,
    Directory,
    Goal,
    InvalidInput,
    Measurement,
    Notification,
    NotificationSettings,
    Status,
    Ticket,
    User,
    date_range,
    measure,
)
from servicegoals.measure import CellKey
from servicegoals.notifiers import SmtpNotifier
from servicegoals.sources import InMemorySource, SqliteSource, TicketQuery
from servicegoals.stores import InMemoryStore, OutboxState, SqliteStore, Store
from servicegoals.testing import CapturingNotifier, ManualClock
from servicegoals.tracker import DeliverySummary, Tracker
from servicegoals.worktime import CALENDAR, WorkingClock

ACCOUNT = AccountSettings()
SPAN = date_range(date(2026, 1, 1), date(2026, 3, 31), ACCOUNT)  # Jan, Feb, Mar
EVERYTHING = NotificationSettings(
    on_achieved=True,
    on_exceeded=True,
    on_missed=True,
    progress_percents=(50, 100),
    on_milestone_start=True,
)
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
FEB_1 = datetime(2026, 2, 1, 1, tzinfo=UTC)


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def people(count: int = 2) -> Directory:
    return Directory([User(f"u{i}", f"User {i}", email=f"u{i}@example.com") for i in range(count)])


def goal(directory: Directory, goal_id: str = "g1") -> Goal:
    return Goal.create(
        id=goal_id,
        name="Close tickets",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.MONTHLY,
        span=SPAN,
        settings=ACCOUNT,
        contributors=directory.users,
        targets={u.id: 2 for u in directory.users},
        notifications=EVERYTHING,
        created_at=at(1, 1, 0) - DAY,
    )


def closed(ticket_id: str, owner: str, when: datetime) -> Ticket:
    return Ticket(ticket_id, when - HOUR, "support", owner_id=owner, closed_at=when)


def january(directory: Directory) -> list[Ticket]:
    """Two tickets for each user in January: everyone achieves it."""
    return [closed(f"{u.id}-{n}", u.id, at(1, 10 + n)) for u in directory.users for n in range(2)]


def tracker(
    store: Store,
    directory: Directory,
    tickets: Iterable[Ticket] = (),
    notifier: CapturingNotifier | None = None,
    **options: Any,
) -> Tracker:
    return Tracker(
        store,
        InMemorySource(tickets),
        [notifier or CapturingNotifier()],
        directory,
        **options,
    )


def capture_of(t: Tracker) -> CapturingNotifier:
    found = t.notifiers["capture"]
    assert isinstance(found, CapturingNotifier)
    return found


# -- refreshing ---------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = InMemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "s.db")
    yield made
    made.close()


def test_refresh_evaluates_stores_and_delivers(store: Store) -> None:
    d = people()
    store.save_goal(goal(d))
    t = tracker(store, d, january(d))
    summary = t.refresh(FEB_1)
    assert not summary.skipped
    (report,) = summary.reports
    assert report.row("u0", 0).status is Status.ACHIEVED
    assert store.find_report("g1") == report
    assert store.last_refresh() == FEB_1
    events = sorted((n.recipient_id, n.milestone_index, n.event.value) for n in summary.planned)
    assert events == sorted(
        (u, j, e)
        for u in ("u0", "u1")
        for j, e in [
            (0, "progress_crossed"),
            (0, "achieved"),
            (1, "milestone_started"),
        ]
    )
    assert summary.enqueued == len(summary.planned) == 6
    assert summary.delivery == DeliverySummary(delivered=6)
    assert sorted(capture_of(t).keys) == sorted(n.key for n in summary.planned)
    assert {e.state for e in store.outbox()} == {OutboxState.DELIVERED}


def test_refresh_interval_force_and_every_call(store: Store) -> None:
    d = people(1)
    store.save_goal(goal(d))
    t = tracker(store, d)
    assert not t.refresh(FEB_1).skipped
    assert t.refresh(FEB_1 + 23 * HOUR).skipped
    assert not t.refresh(FEB_1 + 23 * HOUR, force=True).skipped
    assert t.refresh(FEB_1 + 24 * HOUR).skipped  # 24 h after the forced one
    assert not t.refresh(FEB_1 + 47 * HOUR).skipped
    assert store.report_times("g1") == (FEB_1, FEB_1 + 23 * HOUR, FEB_1 + 47 * HOUR)
    every = tracker(store, d, refresh_interval=timedelta(0))
    assert not every.refresh(FEB_1 + 47 * HOUR).skipped
    assert not every.refresh(FEB_1 + 47 * HOUR + MINUTE).skipped
    assert every.refresh(FEB_1).skipped  # older than the last refresh


def test_changes_after_expiry_do_not_count(store: Store) -> None:
    d = people(1)
    store.save_goal(goal(d))
    tracker(store, d, [closed("t1", "u0", at(1, 5))]).refresh(FEB_1)
    # A ticket closed in January shows up late; January is fixed already.
    late = [closed("t1", "u0", at(1, 5)), closed("t2", "u0", at(1, 30))]
    summary = tracker(store, d, late).refresh(FEB_1 + 2 * DAY)
    row = summary.reports[0].row("u0", 0)
    assert (row.status, row.measurement.count, row.frozen is not None) == (Status.MISSED, 1, True)
    assert not [n for n in summary.planned if n.milestone_index == 0]


def test_deactivated_contributors_get_no_notifications(store: Store) -> None:
    d = people(2)
    store.save_goal(goal(d))
    tracker(store, d, january(d)).refresh(at(1, 20))
    gone = Directory([d.users[0], attrs.evolve(d.users[1], active=False)])
    summary = tracker(store, gone, january(d)).refresh(FEB_1)
    assert {n.recipient_id for n in summary.planned} == {"u0"}
    assert summary.reports[0].row("u1", 0).frozen is not None


class PushDownOnly:
    """A source that only aggregates: reading its tickets one by one is an error."""

    def __init__(self, tickets: list[Ticket]) -> None:
        self.inner = InMemorySource(tickets)
        self.calls = 0

    def tickets(self, query: TicketQuery | None = None) -> Iterator[Ticket]:
        raise AssertionError("the tracker should have used measure()")

    def measure(
        self,
        goals: Iterable[Goal],
        *,
        directory: Directory | None = None,
        at: datetime | None = None,
    ) -> dict[CellKey, Measurement]:
        self.calls += 1
        return measure(goals, self.inner.tickets(), directory=directory, at=at)


def test_the_tracker_prefers_push_down(tmp_path: Path) -> None:
    d = people()
    store = InMemoryStore()
    store.save_goal(goal(d))
    source = PushDownOnly(january(d))
    t = Tracker(store, source, [CapturingNotifier()], d)
    assert t.refresh(FEB_1).reports[0].row("u1", 0).status is Status.ACHIEVED
    assert source.calls == 1
    # And a real push-down source gives the same reports as reading tickets.
    sqlite_source = SqliteSource.create(tmp_path / "tickets.db")
    sqlite_source.add_tickets(january(d))
    other = InMemoryStore()
    other.save_goal(goal(d))
    assert Tracker(other, sqlite_source, [], d).refresh(FEB_1).reports == (store.find_report("g1"),)


def test_a_refresh_without_goals_still_records_its_time(store: Store) -> None:
    t = tracker(store, people())
    summary = t.refresh(FEB_1)
    assert (summary.reports, summary.planned, summary.enqueued) == ((), (), 0)
    assert store.last_refresh() == FEB_1


# -- delivery faults -------------------------------------------------------------------


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing catches it."""


class CrashingNotifier(CapturingNotifier):
    def send(self, notification: Notification) -> None:
        raise Crash


@pytest.mark.parametrize("fault", ["delivery error", "process crash"])
def test_a_fault_between_snapshot_and_delivery_loses_nothing(tmp_path: Path, fault: str) -> None:
    path = tmp_path / "store.db"
    d = people()
    first = SqliteStore(path)
    first.save_goal(goal(d))
    broken = CrashingNotifier() if fault == "process crash" else CapturingNotifier(fail_next=99)
    t1 = tracker(first, d, january(d), broken)
    if fault == "process crash":
        with pytest.raises(Crash):
            t1.refresh(FEB_1)
    else:
        assert t1.refresh(FEB_1).delivery == DeliverySummary(failed=6)
    first.close()  # the process is gone

    # Reopen the file later: the dead process's claims have outlived their lease.
    reopened = SqliteStore(path, clock=ManualClock(datetime.now(UTC) + 2 * t1.lease))
    assert reopened.report_times("g1") == (FEB_1,)  # the snapshot was committed
    planned = {e.key for e in reopened.outbox()}
    assert len(planned) == 6
    capture = CapturingNotifier()
    t2 = tracker(reopened, d, january(d), capture)
    # An hour later the refresh is not due, but delivery is: back-off and lease are over.
    summary = t2.refresh(FEB_1 + HOUR)
    assert summary.skipped
    assert summary.delivered == 6
    assert sorted(capture.keys) == sorted(planned)
    # Later refreshes plan nothing new for these rows and deliver nothing twice.
    t2.refresh(FEB_1 + 2 * DAY)
    t2.refresh(FEB_1 + 4 * DAY)
    assert len(capture.keys) == len(set(capture.keys))
    assert planned <= set(capture.keys)
    assert reopened.report_times("g1") == (FEB_1, FEB_1 + 2 * DAY, FEB_1 + 4 * DAY)
    reopened.close()


def test_retries_back_off_then_the_entry_is_kept_dead(store: Store) -> None:
    d = people(1)
    store.save_goal(goal(d))
    failing = CapturingNotifier()
    failing.failing = True
    t = tracker(store, d, [], failing, retry_backoff=MINUTE, max_attempts=3)
    assert t.refresh(at(1, 10)).delivery == DeliverySummary(failed=1)  # milestone started
    (entry,) = store.outbox()
    assert entry.next_attempt_at == at(1, 10) + MINUTE
    assert t.deliver(at(1, 10) + MINUTE - timedelta(microseconds=1)) == DeliverySummary()
    assert t.deliver(at(1, 10) + MINUTE) == DeliverySummary(failed=1)
    assert store.outbox()[0].next_attempt_at == at(1, 10) + 3 * MINUTE  # doubled
    assert t.deliver(at(1, 10) + 3 * MINUTE) == DeliverySummary(dead=1)
    assert t.deliver(at(3, 1)) == DeliverySummary()
    (dead,) = store.outbox(OutboxState.DEAD)
    assert (dead.attempts, dead.last_error) == (
        3,
        f"DeliveryError: capture: refusing notification {dead.key} as asked",
    )
    assert failing.attempts == 3
    assert failing.sent == []


def test_an_undeliverable_notification_is_dead_at_once(store: Store) -> None:
    d = Directory([User("u0", "No Mail")])  # no e-mail address
    store.save_goal(goal(d))
    smtp = SmtpNotifier("127.0.0.1", 9, sender="goals@example.com", timeout=1)
    t = Tracker(store, InMemorySource(), [smtp], d)
    assert t.refresh(at(1, 10)).delivery == DeliverySummary(dead=1)
    (dead,) = store.outbox(OutboxState.DEAD)
    assert dead.channel == "email"
    assert "has no e-mail address" in (dead.last_error or "")


def test_backoff_schedule() -> None:
    t = tracker(
        InMemoryStore(), people(), retry_backoff=MINUTE, max_retry_delay=5 * MINUTE, max_attempts=5
    )
    now = at(1, 1)
    assert [t.retry_at(n, now) for n in range(1, 6)] == [
        now + MINUTE,
        now + 2 * MINUTE,
        now + 4 * MINUTE,
        now + 5 * MINUTE,
        None,
    ]


def test_tracker_settings_are_checked() -> None:
    d, s = people(), InMemoryStore()
    with pytest.raises(InvalidInput, match="store"):
        Tracker(object(), InMemorySource(), [], d)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="source"):
        Tracker(s, object(), [], d)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="notifiers"):
        Tracker(s, InMemorySource(), [CapturingNotifier(), CapturingNotifier()], d)
    with pytest.raises(InvalidInput, match="notifiers"):
        Tracker(s, InMemorySource(), {"x": object()}, d)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="refresh_interval"):
        Tracker(s, InMemorySource(), [], d, refresh_interval=-HOUR)
    with pytest.raises(InvalidInput, match="retry_backoff"):
        Tracker(s, InMemorySource(), [], d, retry_backoff=timedelta(0))
    with pytest.raises(InvalidInput, match="max_attempts"):
        Tracker(s, InMemorySource(), [], d, max_attempts=0)
    with pytest.raises(InvalidInput, match="naive"):
        Tracker(s, InMemorySource(), [], d).refresh(datetime(2026, 1, 1))


# -- concurrency ----------------------------------------------------------------------


class SlowCapture(CapturingNotifier):
    """Takes a moment per notification, so that trackers running at once interleave."""

    def send(self, notification: Notification) -> None:
        time.sleep(0.001)
        super().send(notification)


def test_trackers_in_threads_on_one_file_never_deliver_twice(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    d = people(12)
    with SqliteStore(path) as setup:
        setup.save_goal(goal(d))
    capture = SlowCapture()
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with SqliteStore(path) as own:
                t = Tracker(own, InMemorySource(january(d)), [capture], d, batch_size=1)
                start.wait()
                t.refresh(FEB_1, force=True)
                t.refresh(FEB_1 + DAY, force=True)
        except BaseException as exc:  # reported below; a thread cannot raise into the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with SqliteStore(path) as check:
        planned = {e.key for e in check.outbox()}
        assert {e.state for e in check.outbox()} == {OutboxState.DELIVERED}
    assert len(planned) == 12 * 3
    assert len(capture.keys) == len(set(capture.keys)), "a notification was delivered twice"
    assert set(capture.keys) == planned


WORKER = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path
    from servicegoals.stores import SqliteStore
    from servicegoals.sources import InMemorySource
    from servicegoals.tracker import Tracker
    import test_tracker as t

    class FileNotifier:
        channel = "capture"

        def send(self, notification):
            time.sleep(0.002)  # long enough for the other workers to interleave
            with open(sys.argv[2] + ".sent", "a") as out:
                out.write(notification.key + "\\n")

    d = t.people(12)
    go = Path(sys.argv[3])
    with SqliteStore(sys.argv[1]) as store:
        tracker = Tracker(store, InMemorySource(t.january(d)), [FileNotifier()], d, batch_size=1)
        Path(sys.argv[2] + ".ready").touch()
        while not go.exists():  # start together
            time.sleep(0.001)
        tracker.refresh(t.FEB_1, force=True)
    """
)


def test_trackers_in_processes_on_one_file_never_deliver_twice(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    d = people(12)
    with SqliteStore(path) as setup:
        setup.save_goal(goal(d))
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), str(tmp_path / f"w{i}"), str(go)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"w{i}.ready").exists() for i in range(3)):
        for worker in workers:
            assert worker.poll() is None, worker.communicate()[1]
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.01)
    go.touch()
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    logs = [tmp_path / f"w{i}.sent" for i in range(3)]
    sent = [key for log in logs if log.exists() for key in log.read_text().split()]
    assert len(sent) == len(set(sent)) == 12 * 3
    with SqliteStore(path) as check:
        assert set(sent) == {e.key for e in check.outbox(OutboxState.DELIVERED)}


# -- hardening (issue 16) ------------------------------------------------------------


def test_refreshing_twice_at_one_instant_stores_nothing_new(store: Store) -> None:
    d = people()
    store.save_goal(goal(d))
    january_end = datetime(2026, 2, 1, tzinfo=UTC)  # January's milestone ends right now
    first = tracker(store, d, january(d)).refresh(january_end)
    again = tracker(store, d, january(d), refresh_interval=timedelta(0))
    second = again.refresh(january_end, force=True)
    assert second.reports == first.reports
    assert all(r.frozen is None for r in second.reports[0].rows if r.milestone_index == 0)
    assert (second.planned, second.enqueued) == ((), 0)
    assert store.report_times("g1") == (january_end,)
    assert store.find_report("g1") == first.reports[0]
    assert len(store.outbox()) == len(first.planned)


def test_a_goal_added_since_the_refresh_at_an_instant_is_refreshed_then(store: Store) -> None:
    d = people(1)
    store.save_goal(goal(d))
    t = tracker(store, d, january(d))
    first = t.refresh(FEB_1)
    store.save_goal(goal(d, "g2"))
    second = t.refresh(FEB_1, force=True)
    assert [r.goal_id for r in second.reports] == ["g1", "g2"]
    assert second.reports[0] == first.reports[0]
    assert {n.goal_id for n in second.planned} == {"g2"}
    assert store.report_times("g2") == (FEB_1,)


class HangingNotifier(CapturingNotifier):
    """Hangs in `send` until released (or 10 s pass: then it delivers)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def send(self, notification: Notification) -> None:
        self.release.wait(10)
        super().send(notification)


def test_a_hanging_send_fails_at_the_deadline_and_waits_for_the_lease(store: Store) -> None:
    d = people(1)
    store.save_goal(goal(d))
    hanging = HangingNotifier()
    lease = timedelta(minutes=10)
    t = tracker(store, d, [], hanging, lease=lease, delivery_deadline=timedelta(milliseconds=100))
    try:
        summary = t.refresh(at(1, 10))  # one notification: the milestone started
    finally:
        hanging.release.set()
    assert summary.delivery == DeliverySummary(failed=1)
    (entry,) = store.outbox()
    assert entry.state is OutboxState.PENDING
    assert entry.attempts == 1
    assert entry.last_error is not None
    assert entry.last_error.startswith("DeliveryTimeout: ")
    assert entry.next_attempt_at == at(1, 10) + lease  # not at the 1-minute back-off


def test_the_delivery_deadline_is_checked() -> None:
    d = people(1)
    assert tracker(InMemoryStore(), d).delivery_deadline == MINUTE
    assert tracker(InMemoryStore(), d, lease=MINUTE).delivery_deadline == MINUTE / 2
    for wrong in (timedelta(0), timedelta(minutes=6), 5):
        with pytest.raises(InvalidInput, match="delivery_deadline"):
            tracker(InMemoryStore(), d, delivery_deadline=wrong)


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class BrokenNotifier(CapturingNotifier):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def send(self, notification: Notification) -> None:
        raise self.error


def test_an_error_whose_text_cannot_be_shown_is_recorded_safely(store: Store) -> None:
    d = people(1)
    store.save_goal(goal(d))
    t = tracker(store, d, [], BrokenNotifier(Unprintable()))
    assert t.refresh(at(1, 10)).delivery == DeliverySummary(failed=1)
    (entry,) = store.outbox()
    assert entry.last_error == "Unprintable: <the error's text could not be shown>"


def test_a_huge_error_text_is_stored_shortened(store: Store) -> None:
    from servicegoals import DeliveryError

    d = people(1)
    store.save_goal(goal(d))
    t = tracker(store, d, [], BrokenNotifier(DeliveryError("x" * 5_000_000)))
    assert t.refresh(at(1, 10)).delivery == DeliverySummary(failed=1)
    (entry,) = store.outbox()
    assert entry.last_error is not None
    assert len(entry.last_error) == 1_000
    assert entry.last_error.endswith("... [shortened from 5,000,015 characters]")


# -- working time and progress ------------------------------------------------------


class NoWorkingTime:
    """A schedule without working hours: no milestone ever has elapsed working time."""

    def working_us(self, start_us: int, end_us: int) -> int:
        return 0


@pytest.mark.parametrize(("clock", "expected"), [(CALENDAR, ["at_risk"]), (NoWorkingTime(), [])])
def test_the_tracker_plans_at_risk_on_its_clock(clock: WorkingClock, expected: list[str]) -> None:
    d = people(1)
    alert = goal(d).with_notifications(NotificationSettings(on_at_risk=True))
    t = tracker(InMemoryStore(), d, clock=clock)
    t.store.save_goal(alert)
    assert t.refresh(at(2, 1), force=True).planned == ()  # too early in February to tell
    later = t.refresh(at(2, 20), force=True)  # no ticket in 19.5 of 28 days
    assert [n.event.value for n in later.planned] == expected


def test_on_goal_is_called_after_each_goal_is_evaluated(store: Store) -> None:
    d = people()
    calls: list[tuple[int, int]] = []
    t = tracker(store, d, january(d), on_goal=lambda done, total: calls.append((done, total)))
    for goal_id in ("g1", "g2", "g3"):
        store.save_goal(goal(d, goal_id))
    t.refresh(at(1, 20))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    t.refresh(at(1, 21, 6))  # not due: nothing is evaluated
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_a_failing_on_goal_stores_nothing(store: Store) -> None:
    d = people()

    def broken(done: int, total: int) -> None:
        raise RuntimeError("the progress bar broke")

    t = tracker(store, d, january(d), on_goal=broken)
    store.save_goal(goal(d))
    with pytest.raises(RuntimeError):
        t.refresh(at(1, 20))
    assert store.last_refresh() is None
    assert store.find_report("g1", as_of=at(1, 20)) is None


@pytest.mark.parametrize(("name", "value"), [("clock", "calendar"), ("on_goal", 42)])
def test_clock_and_on_goal_are_checked(name: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        tracker(InMemoryStore(), people(), **{name: value})
    assert caught.value.field == name
