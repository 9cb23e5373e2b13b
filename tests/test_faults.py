"""Fault test: a refreshing process killed at random points, 200 times.

A driver process (single-threaded, so that forking it is safe) forks one child
per round.  Each child opens the SQLite store, refreshes the instants after the
last committed refresh, delivers, and calls ``os._exit`` after a random number
of operations: SQL statements (so a crash may fall inside a transaction), the
moment before a notifier's ``send`` and the moment after it.  Each send and
each recorded delivery is appended to a log with ``os.write``, which survives
``os._exit``.  The test then compares the file with a run that never crashed.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from servicegoals import (
    CLOSED_TICKETS,
    AccountSettings,
    Cadence,
    Directory,
    Goal,
    Notification,
    NotificationSettings,
    Retention,
    Ticket,
    User,
    date_range,
)
from servicegoals.sources import InMemorySource
from servicegoals.stores import Claim, OutboxState, SqliteStore
from servicegoals.testing import ManualClock
from servicegoals.tracker import Tracker

ROUNDS = 200
CRASHED = 9
ACCOUNT = AccountSettings()
DIRECTORY = Directory([User(f"u{i}", f"User {i}", email=f"u{i}@example.com") for i in range(3)])
EVERYTHING = NotificationSettings(
    on_achieved=True,
    on_exceeded=True,
    on_missed=True,
    progress_percents=(25, 50, 75, 100),
    on_milestone_start=True,
)
#: Two days of history: old snapshots are pruned while the children refresh.
RETENTION = Retention(days=2)
CHANNELS = ("a", "b")
START = datetime(2026, 1, 2, tzinfo=UTC)
#: Refreshes every 12 hours across January's end and into February.
INSTANTS = [START + timedelta(hours=12 * i) for i in range(70)]
LEASE_CLOCK = datetime(2030, 1, 1, tzinfo=UTC)


def goals() -> list[Goal]:
    span = date_range(date(2026, 1, 1), date(2026, 3, 31), ACCOUNT)
    return [
        Goal.create(
            id=f"g{k}",
            name=f"Close tickets {k}",
            kpi=CLOSED_TICKETS,
            cadence=Cadence.MONTHLY,
            span=span,
            settings=ACCOUNT,
            contributors=DIRECTORY.users,
            targets={u.id: 4 + 2 * k for u in DIRECTORY.users},
            notifications=EVERYTHING,
            created_at=datetime(2025, 12, 1, tzinfo=UTC),
        )
        for k in range(2)
    ]


def tickets() -> list[Ticket]:
    """Closed tickets spread over January and February, a different pace per user."""
    made = []
    for i, user in enumerate(DIRECTORY.users):
        for n in range(3 + 3 * i):
            closed = START + timedelta(days=(n * 11 + i * 3) % 34, hours=5)
            made.append(
                Ticket(
                    f"{user.id}-{n}",
                    closed - timedelta(hours=2),
                    "support",
                    owner_id=user.id,
                    closed_at=closed,
                )
            )
    return made


class LoggedStore(SqliteStore):
    """Appends ``marked channel key`` once a delivery is recorded."""

    log_fd = -1

    def mark_delivered(self, claim: Claim, now: datetime) -> bool:
        done = super().mark_delivered(claim, now)
        if done:
            os.write(self.log_fd, f"marked {claim.channel} {claim.notification.key}\n".encode())
        return done


class Fuse:
    """Exits the process (no clean-up at all) at the ``after``-th operation."""

    def __init__(self, after: int | None) -> None:
        self.after = after
        self.count = 0

    def tick(self, _statement: object = None) -> None:
        self.count += 1
        if self.count == self.after:
            os._exit(CRASHED)


class LoggedNotifier:
    def __init__(self, channel: str, log_fd: int, fuse: Fuse) -> None:
        self.channel = channel
        self.log_fd = log_fd
        self.fuse = fuse

    def send(self, notification: Notification) -> None:
        self.fuse.tick()  # dies before sending
        os.write(self.log_fd, f"sent {self.channel} {notification.key}\n".encode())
        self.fuse.tick()  # dies after sending, before the delivery is recorded


def run(path: Path, log_fd: int, round_: int, fuse: Fuse) -> None:
    """One tracker process: refresh what is left, then deliver."""
    store = LoggedStore(
        path, clock=ManualClock(LEASE_CLOCK + timedelta(hours=round_)), retention=RETENTION
    )
    store.log_fd = log_fd
    # Every SQL statement is a crash point, inside transactions too.
    store._db.set_trace_callback(fuse.tick)
    notifiers = [LoggedNotifier(c, log_fd, fuse) for c in CHANNELS]
    tracker = Tracker(
        store, InMemorySource(tickets()), notifiers, DIRECTORY, refresh_interval=timedelta(0)
    )
    last = store.last_refresh()
    for at in INSTANTS:
        if last is None or at >= last:
            tracker.refresh(at)
    tracker.deliver(INSTANTS[-1])
    store.close()


def drive(path: Path, log: Path, seed: int) -> None:
    """The driver: ROUNDS forked children, each killed at a random point, then a clean run."""
    rng = random.Random(seed)
    with SqliteStore(path, retention=RETENTION) as store:
        for g in goals():
            store.save_goal(g)
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    crashed = 0
    for round_ in range(ROUNDS):
        after = rng.randint(1, 60)
        os.write(log_fd, f"round {round_}\n".encode())
        pid = os.fork()
        if pid == 0:  # the child: never returns into the driver
            fuse = Fuse(after)
            try:
                while True:  # once all is done, start over (idempotent) until killed
                    run(path, log_fd, round_, fuse)
            finally:
                os._exit(1)  # an exception: not a crash we planned
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != CRASHED:
            raise SystemExit(f"round {round_}: the child failed with exit code {code}")
        crashed += 1
        os.write(log_fd, b"crashed\n")
    with SqliteStore(path) as store:
        reached = store.last_refresh()
    os.write(log_fd, b"round final\n")
    run(path, log_fd, ROUNDS, Fuse(None))
    print(json.dumps({"crashed": crashed, "reached": None if reached is None else str(reached)}))


def reference(path: Path) -> SqliteStore:
    """The same refreshes in a process that never crashes."""
    store = SqliteStore(path, retention=RETENTION)
    for g in goals():
        store.save_goal(g)
    notifiers = [LoggedNotifier(c, os.open(os.devnull, os.O_WRONLY), Fuse(None)) for c in CHANNELS]
    tracker = Tracker(
        store, InMemorySource(tickets()), notifiers, DIRECTORY, refresh_interval=timedelta(0)
    )
    for at in INSTANTS:
        tracker.refresh(at)
    return store


def entry(line: str) -> tuple[str, str]:
    """``(channel, key)`` of a ``sent`` or ``marked`` log line."""
    _, channel, key = line.split()
    return channel, key


def test_killing_a_refreshing_process_200_times_loses_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    path, log = tmp_path / "faults.db", tmp_path / "deliveries.log"
    tests = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}
    driver = (
        f"import test_faults as t, pathlib; t.drive(pathlib.Path({str(path)!r}), "
        f"pathlib.Path({str(log)!r}), {random.randrange(2**32)})"
    )
    done = subprocess.run(
        [sys.executable, "-c", driver], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    crashed = summary["crashed"]
    assert crashed == ROUNDS
    # The killed processes did the work between them: they reached the last refresh.
    assert summary["reached"] == str(INSTANTS[-1])

    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    raw.close()
    expected = reference(tmp_path / "reference.db")
    with SqliteStore(path) as found:
        # No snapshot lost, none half-written: the same snapshots as the clean run.
        for g in goals():
            times = found.report_times(g.id)
            assert times == expected.report_times(g.id)
            for t in times:
                assert found.find_report(g.id, as_of=t) == expected.find_report(g.id, as_of=t)
        assert found.last_refresh() == INSTANTS[-1]
        # No notification lost: the same outbox, every entry delivered.
        entries = found.outbox()
        assert {(e.key, e.channel) for e in entries} == {
            (e.key, e.channel) for e in expected.outbox()
        }
        assert {e.state for e in entries} == {OutboxState.DELIVERED}
    expected.close()
    assert len(entries) > 20

    # Each send is either recorded as delivered by the same process, or that
    # process died between the send and the record: the one window no outbox
    # can close.  Only such sends may repeat a key.
    marked: Counter[tuple[str, str]] = Counter()
    unrecorded: Counter[tuple[str, str]] = Counter()
    sends: Counter[tuple[str, str]] = Counter()
    for block in log.read_text().split("round ")[1:]:
        lines = block.splitlines()
        sent = Counter(entry(line) for line in lines if line.startswith("sent "))
        recorded = Counter(entry(line) for line in lines if line.startswith("marked "))
        sends.update(sent)
        marked.update(recorded)
        missing = sent - recorded
        if missing:
            assert lines[-1] == "crashed", f"round {lines[0]}: a send without a record"
            assert sum(missing.values()) == 1  # one process dies once
            unrecorded.update(missing)
    planned = {(e.channel, e.key) for e in entries}
    assert set(marked) == planned
    assert set(marked.values()) == {1}  # each delivery recorded once
    for key in planned:
        assert sends[key] == 1 + unrecorded[key], key  # every repeat is explained
    print(
        f"{crashed} of {ROUNDS} rounds killed; {len(planned)} deliveries; "
        f"{sum(unrecorded.values())} repeated after a crash between send and record"
    )
