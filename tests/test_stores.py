"""Stores: one contract, run against InMemoryStore and a real SQLite file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicegoals import (
    CLOSED_TICKETS,
    AccountSettings,
    Cadence,
    Goal,
    GoalReport,
    InvalidInput,
    Measurement,
    NotFound,
    Notification,
    NotificationEvent,
    StoreError,
    User,
    date_range,
    evaluate,
    notification_key,
)
from servicegoals.stores import (
    SCHEMA_VERSION,
    InMemoryStore,
    OutboxState,
    Retention,
    SqliteStore,
    Store,
)
from servicegoals.testing import ManualClock

ACCOUNT = AccountSettings(timezone="Europe/Oslo")
SPAN = date_range(date(2026, 1, 1), date(2026, 3, 31), ACCOUNT)
T0 = datetime(2026, 1, 10, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
TRICKY = "g'; DROP TABLE goals; --"


def goal(goal_id: str = "g1") -> Goal:
    return Goal.create(
        id=goal_id,
        name="Close tickets",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.MONTHLY,
        span=SPAN,
        settings=ACCOUNT,
        contributors=[User("ada", "Ada")],
        targets={"ada": 4},
        pipelines=["support", 'it\'s "quoted"'],
        created_at=datetime(2025, 12, 1, tzinfo=UTC),
    )


def report(g: Goal, at: datetime, closed: int = 1) -> GoalReport:
    return evaluate(g, {(g.id, "ada", 0): Measurement(closed, 0)}, at=at)


def notification(goal_id: str = "g1", n: int = 0) -> Notification:
    event = NotificationEvent.PROGRESS_CROSSED
    return Notification(
        key=notification_key(goal_id, "ada", 0, event, n + 1, "ada"),
        goal_id=goal_id,
        contributor_id="ada",
        milestone_index=0,
        event=event,
        percent=n + 1,
        recipient_id="ada",
        recipient_email=None,
        subject=f"progress {n + 1}%",
        body="Hello Ada",
        created_at=T0,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> Iterator[Store]:
    made: Store = (
        InMemoryStore(clock=clock)
        if request.param == "memory"
        else SqliteStore(tmp_path / "s.db", clock=clock)
    )
    yield made
    made.close()


def test_both_stores_satisfy_the_protocol(tmp_path: Path) -> None:
    assert isinstance(InMemoryStore(), Store)
    with SqliteStore(tmp_path / "s.db") as sqlite_store:
        assert isinstance(sqlite_store, Store)


# -- goals -------------------------------------------------------------------------


def test_goals_save_get_list_replace_delete(store: Store) -> None:
    g1, g2 = goal("g1"), goal(TRICKY)
    store.save_goal(g2)
    store.save_goal(g1)
    assert store.goal(TRICKY) == g2  # SQL-looking ids are stored literally
    assert store.goals() == (g2, g1)  # by id ("'" sorts before "1")
    renamed = g1.with_name("Renamed")
    store.save_goal(renamed)
    assert store.goal("g1") == renamed
    store.delete_goal("g1")
    assert store.goals() == (g2,)
    with pytest.raises(NotFound, match="goal_id"):
        store.goal("g1")
    with pytest.raises(NotFound, match="goal_id"):
        store.delete_goal("g1")
    with pytest.raises(InvalidInput, match="goal"):
        store.save_goal("g1")  # type: ignore[arg-type]


# -- reports -----------------------------------------------------------------------


def test_report_history_answers_as_of_any_past_time(store: Store) -> None:
    g = goal()
    store.save_goal(g)
    assert store.find_report("g1") is None
    first, second, third = (report(g, T0 + i * HOUR, closed=i) for i in range(3))
    for r in (third, first, second):  # any order
        store.save_report(r)
    assert store.find_report("g1") == third
    assert store.find_report("g1", as_of=T0 - HOUR) is None
    assert store.find_report("g1", as_of=T0) == first
    assert store.find_report("g1", as_of=T0 + 90 * timedelta(minutes=1)) == second
    assert store.find_report("g1", as_of=T0 + 10 * HOUR) == third
    assert store.report_times("g1") == (T0, T0 + HOUR, T0 + 2 * HOUR)
    # The same instant again replaces that snapshot.
    again = report(g, T0 + HOUR, closed=3)
    store.save_report(again)
    assert store.find_report("g1", as_of=T0 + HOUR) == again
    assert len(store.report_times("g1")) == 3
    # Deleting the goal deletes its history.
    store.delete_goal("g1")
    assert store.find_report("g1") is None
    assert store.report_times("g1") == ()


def test_a_report_needs_its_goal(store: Store) -> None:
    with pytest.raises(NotFound, match=r"goal_id: no such item \(got 'g1'\)"):
        store.save_report(report(goal(), T0))
    with pytest.raises(InvalidInput, match="naive"):
        store.find_report("g1", as_of=datetime(2026, 1, 1))


@settings(max_examples=25)
@given(
    saved=st.lists(st.integers(0, 500), min_size=1, max_size=8, unique=True),
    asked=st.integers(-10, 510),
)
def test_as_of_is_the_latest_snapshot_not_after_it(saved: list[int], asked: int) -> None:
    g = goal()
    with tempfile.TemporaryDirectory() as folder:
        for made in (InMemoryStore(), SqliteStore(Path(folder) / "p.db")):
            made.save_goal(g)
            for minutes in saved:
                made.save_report(report(g, T0 + timedelta(minutes=minutes)))
            got = made.find_report("g1", as_of=T0 + timedelta(minutes=asked))
            earlier = [m for m in saved if m <= asked]
            if not earlier:
                assert got is None
            else:
                assert got is not None
                assert got.calculated_at == T0 + timedelta(minutes=max(earlier))
            made.close()


# -- the outbox ------------------------------------------------------------------


def test_enqueue_is_idempotent_per_key_and_channel(store: Store) -> None:
    a, b = notification(n=0), notification(n=1)
    assert store.enqueue([a, b], ["email", "webhook"], T0) == 4
    assert store.enqueue([a, b, a], ["email", "webhook", "email"], T0 + HOUR) == 0
    entries = store.outbox()
    assert [(e.key, e.channel) for e in entries] == [
        (a.key, "email"),
        (a.key, "webhook"),
        (b.key, "email"),
        (b.key, "webhook"),
    ]
    assert {e.state for e in entries} == {OutboxState.PENDING}
    assert entries[0].notification == a
    assert entries[0].enqueued_at == T0
    assert entries[0].next_attempt_at == T0


def test_claims_lease_entries_to_one_caller(store: Store, clock: ManualClock) -> None:
    store.enqueue([notification(n=i) for i in range(3)], ["email"], T0)
    assert store.claim(T0 - HOUR) == ()  # not due yet
    first = store.claim(T0, limit=2, lease=HOUR)
    assert [c.notification.percent for c in first] == [1, 2]
    assert first[0].lease_until == T0 + HOUR
    second = store.claim(T0, lease=HOUR)
    assert [c.notification.percent for c in second] == [3]
    # Leases run on the store's clock: a caller's later "now" does not end them.
    assert store.claim(T0 + 1000 * HOUR) == ()
    assert store.mark_delivered(first[0], T0)
    assert not store.mark_delivered(first[0], T0)  # settled once
    # A lease that ran out is claimed again; the old claim can no longer settle.
    clock.advance(HOUR)
    again = store.claim(T0 + HOUR, lease=HOUR)
    assert {c.notification.percent for c in again} == {2, 3}
    assert not store.mark_delivered(first[1], T0 + HOUR)
    assert all(store.mark_delivered(c, T0 + HOUR) for c in again)
    assert store.claim(T0 + 10 * HOUR) == ()
    delivered = store.outbox(OutboxState.DELIVERED)
    assert len(delivered) == 3
    assert all(e.attempts == 1 and e.next_attempt_at is None for e in delivered)
    assert delivered[0].delivered_at == T0


def test_failures_back_off_and_dead_entries_are_kept(store: Store) -> None:
    store.enqueue([notification()], ["email"], T0)
    (claim,) = store.claim(T0)
    assert claim.attempts == 0
    assert store.mark_failed(claim, T0, "smtp down", T0 + HOUR)
    (entry,) = store.outbox()
    assert (entry.state, entry.attempts, entry.last_error) == (OutboxState.PENDING, 1, "smtp down")
    assert entry.next_attempt_at == T0 + HOUR
    assert store.claim(T0 + 59 * timedelta(minutes=1)) == ()
    (claim,) = store.claim(T0 + HOUR)
    assert claim.attempts == 1
    assert store.mark_failed(claim, T0 + HOUR, "still down", None)
    (entry,) = store.outbox(OutboxState.DEAD)
    assert (entry.attempts, entry.last_error, entry.next_attempt_at) == (2, "still down", None)
    assert store.claim(T0 + 1000 * HOUR) == ()
    assert store.enqueue([notification()], ["email"], T0 + 2 * HOUR) == 0  # never re-queued


def test_claims_can_be_limited_to_channels(store: Store) -> None:
    store.enqueue([notification()], ["email", "webhook"], T0)
    assert store.claim(T0, channels=[]) == ()
    (claim,) = store.claim(T0, channels=["webhook", "sms"])
    assert claim.channel == "webhook"
    with pytest.raises(InvalidInput, match="channels"):
        store.claim(T0, channels="email")
    with pytest.raises(InvalidInput, match="limit"):
        store.claim(T0, limit=0)
    with pytest.raises(InvalidInput, match="lease"):
        store.claim(T0, lease=timedelta(0))


def test_the_lease_clock_must_tell_aware_time() -> None:
    with pytest.raises(InvalidInput, match="clock"):
        InMemoryStore(clock="now")  # type: ignore[arg-type]
    naive = InMemoryStore(clock=lambda: datetime(2026, 1, 1))
    naive.enqueue([notification()], ["email"], T0)
    with pytest.raises(InvalidInput, match=r"clock\(\): naive"):
        naive.claim(T0)


# -- refreshes -------------------------------------------------------------------


def test_commit_refresh_stores_everything_together(store: Store) -> None:
    g = goal()
    store.save_goal(g)
    assert store.last_refresh() is None
    added = store.commit_refresh(T0, [report(g, T0)], [notification()], ["email", "log"])
    assert added == 2
    assert store.find_report("g1") == report(g, T0)
    assert store.last_refresh() == T0
    # An older refresh that commits late adds its snapshot but never moves time back.
    assert store.commit_refresh(T0 - HOUR, [report(g, T0 - HOUR)], [notification()], ["email"]) == 0
    assert store.last_refresh() == T0
    assert store.report_times("g1") == (T0 - HOUR, T0)


def test_commit_refresh_leaves_out_goals_deleted_meanwhile(store: Store) -> None:
    g = goal()
    store.save_goal(g)
    store.delete_goal("g1")
    assert store.commit_refresh(T0, [report(g, T0)], [notification()], ["email"]) == 0
    assert store.find_report("g1") is None
    assert store.outbox() == ()
    assert store.last_refresh() == T0


def test_a_failure_mid_refresh_writes_nothing(store: Store) -> None:
    g = goal()
    store.save_goal(g)

    def planned() -> Iterator[Notification]:
        yield notification(n=0)
        raise RuntimeError("the planner broke")

    with pytest.raises(RuntimeError, match="planner"):
        store.commit_refresh(T0, [report(g, T0)], planned(), ["email"])
    with pytest.raises(InvalidInput, match=r"reports\[1\]"):
        store.commit_refresh(T0, [report(g, T0), "not a report"], [], ["email"])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="naive"):
        store.commit_refresh(datetime(2026, 1, 1), [report(g, T0)], [], ["email"])
    assert store.find_report("g1") is None
    assert store.outbox() == ()
    assert store.last_refresh() is None


# -- SQLite specifics -------------------------------------------------------------


def test_sqlite_file_has_wal_schema_version_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SqliteStore(path) as made:
        assert made.schema_version == SCHEMA_VERSION
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        raw.execute("PRAGMA foreign_keys=ON")
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            raw.execute("INSERT INTO reports VALUES ('nope', 1, '{}')")
        raw.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
        raw.commit()
    finally:
        raw.close()
    with pytest.raises(StoreError, match=f"schema_version is {SCHEMA_VERSION + 1}"):
        SqliteStore(path)


def test_sqlite_keeps_everything_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    g = goal(TRICKY)
    r = evaluate(g, {(g.id, "ada", 0): Measurement(2, 0)}, at=T0)
    with SqliteStore(path) as made:
        made.save_goal(g)
        made.commit_refresh(T0, [r], [notification(TRICKY)], ["email"])
        (claim,) = made.claim(T0)
        made.mark_failed(claim, T0, "down", T0 + HOUR)
    with SqliteStore(path) as reopened:
        assert reopened.goals() == (g,)
        assert reopened.find_report(TRICKY) == r
        assert reopened.last_refresh() == T0
        (entry,) = reopened.outbox()
        assert entry.notification == notification(TRICKY)
        assert (entry.attempts, entry.last_error) == (1, "down")


def test_sqlite_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        SqliteStore(path)


CRASH = textwrap.dedent(
    """
    import os, sys
    from datetime import UTC, datetime
    from servicegoals.stores import SqliteStore
    import test_stores as t

    store = SqliteStore(sys.argv[1])
    g = t.goal()
    store.save_goal(g)
    original = SqliteStore._enqueue

    def crash(*args):
        original(*args)  # the snapshot and the outbox rows are written, not committed
        os._exit(3)

    SqliteStore._enqueue = staticmethod(crash)
    store.commit_refresh(t.T0, [t.report(g, t.T0)], [t.notification()], ["email"])
    """
)


def child_env() -> dict[str, str]:
    """The environment of a child Python: these tests, then the library under test."""
    paths = [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def test_a_process_crash_mid_transaction_leaves_nothing_half_written(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    done = subprocess.run(
        [sys.executable, "-c", CRASH, str(path)],
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    with SqliteStore(path) as reopened:
        assert [g.id for g in reopened.goals()] == ["g1"]  # committed before the crash
        assert reopened.find_report("g1") is None
        assert reopened.outbox() == ()
        assert reopened.last_refresh() is None


# -- hardening (issue 16) ----------------------------------------------------------


def test_the_first_snapshot_at_an_instant_wins_a_refresh(store: Store) -> None:
    g = goal()
    store.save_goal(g)
    first, second = report(g, T0, closed=1), report(g, T0, closed=3)
    store.commit_refresh(T0, [first], [notification(n=0)], ["email"])
    # A second tracker computed the same instant from other data: it adds nothing.
    assert store.commit_refresh(T0, [second], [notification(n=1)], ["email"]) == 0
    assert store.report_times("g1") == (T0,)
    assert store.find_report("g1") == first
    assert [e.notification for e in store.outbox()] == [notification(n=0)]


DAILY = [datetime(2026, 1, 1, 12, tzinfo=UTC) + timedelta(days=i) for i in range(90)]


def keep_every(kind: str, tmp_path: Path, retention: Retention) -> Store:
    if kind == "memory":
        return InMemoryStore(retention=retention)
    return SqliteStore(tmp_path / f"{retention.days}.db", retention=retention)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_retention_keeps_recent_days_and_milestone_ends(kind: str, tmp_path: Path) -> None:
    g = goal()
    pruned, full = (
        keep_every(kind, tmp_path, Retention(days=7)),
        keep_every(kind, tmp_path, Retention(days=None)),
    )
    for s in (pruned, full):
        s.save_goal(g)
        for i, day in enumerate(DAILY):
            s.commit_refresh(day, [report(g, day, closed=i % 5)], [], ["email"])
    last = DAILY[-1]
    kept = pruned.report_times("g1")
    assert full.report_times("g1") == tuple(DAILY)
    assert len(kept) <= 7 + 1 + 3  # the last 7 days, the one before, one per milestone end
    # "What was the status on date X" answers as before for the last 7 days and
    # at every milestone end.
    recent = [last - timedelta(hours=h) for h in range(0, 7 * 24 + 1, 5)]
    ends = [m.period.end for m in g.milestones]
    for x in [*recent, *ends, *(e - timedelta(microseconds=1) for e in ends)]:
        assert pruned.find_report("g1", as_of=x) == full.find_report("g1", as_of=x), x
    assert pruned.find_report("g1") == full.find_report("g1")
    # Milestone ends keep their latest snapshot at or before the end.
    assert {max(t for t in DAILY if t <= e) for e in ends if e <= last - timedelta(days=7)} <= set(
        kept
    )
    pruned.close()
    full.close()


def test_retention_is_checked() -> None:
    assert Retention().days == 30
    for wrong in (-1, 1.5, "30", True):
        with pytest.raises(InvalidInput, match="days"):
            Retention(days=wrong)
    with pytest.raises(InvalidInput, match="retention"):
        InMemoryStore(retention=30)  # type: ignore[arg-type]


def test_a_huge_error_text_is_stored_shortened(store: Store) -> None:
    store.save_goal(goal())
    store.enqueue([notification()], ["email"], T0)
    (claim,) = store.claim(T0)
    store.mark_failed(claim, T0, "boom " * 1_000_000, T0 + HOUR)
    (entry,) = store.outbox()
    assert entry.last_error is not None
    assert len(entry.last_error) == 1_000
    assert entry.last_error.startswith("boom boom")
    assert entry.last_error.endswith("... [shortened from 5,000,000 characters]")


@pytest.mark.parametrize("table", ["goals", "reports"])
def test_a_damaged_row_raises_store_error_naming_the_file(tmp_path: Path, table: str) -> None:
    path = tmp_path / "damaged.db"
    with SqliteStore(path) as made:
        made.save_goal(goal())
        made.save_report(report(goal(), T0))
    raw = sqlite3.connect(path)
    raw.execute(f"UPDATE {table} SET data = '{{not json'")
    raw.commit()
    raw.close()
    with (
        SqliteStore(path) as reopened,
        pytest.raises(StoreError, match=rf"damaged\.db: {table}\[.*not JSON"),
    ):
        reopened.goals() if table == "goals" else reopened.find_report("g1")


def test_a_read_only_store_reads_and_refuses_writes_by_name(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    with SqliteStore(path) as made:
        made.save_goal(goal())
        made.save_report(report(goal(), T0))
    with SqliteStore(path, read_only=True) as ro:
        assert ro.read_only
        assert ro.find_report("g1") == report(goal(), T0)
        assert [g.id for g in ro.goals()] == ["g1"]
        for write in (
            lambda: ro.save_goal(goal("g2")),
            lambda: ro.commit_refresh(T0 + HOUR, [], [], ["email"]),
            lambda: ro.claim(T0),
        ):
            with pytest.raises(StoreError, match=r"ro\.db: the store is read-only"):
                write()
    with pytest.raises(InvalidInput, match="read_only"):
        SqliteStore(path, read_only="yes")  # type: ignore[arg-type]


READ_ONLY_CHILD = textwrap.dedent(
    """
    import json, sys
    from servicegoals.stores import SqliteStore
    from servicegoals import StoreError
    import test_stores as t

    store = SqliteStore(sys.argv[1])
    found = {"read_only": store.read_only, "goals": [g.id for g in store.goals()],
             "report": store.find_report("g1") == t.report(t.goal(), t.T0)}
    try:
        store.save_goal(t.goal("g2"))
    except StoreError as exc:
        found["error"] = str(exc)
    print(json.dumps(found))
    """
)


def as_reader(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as a user who cannot write the files (root writes anything)."""
    prefix = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, *command], capture_output=True, text=True, check=False, **options
    )


@pytest.fixture
def read_only_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="servicegoals-ro-"))
    os.chmod(folder, 0o755)
    yield folder
    os.chmod(folder, 0o755)
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()


def test_a_file_this_process_cannot_write_opens_read_only(read_only_folder: Path) -> None:
    path = read_only_folder / "shared.db"
    with SqliteStore(path) as made:
        made.save_goal(goal())
        made.save_report(report(goal(), T0))
    os.chmod(path, 0o444)
    os.chmod(read_only_folder, 0o555)
    done = as_reader([sys.executable, "-c", READ_ONLY_CHILD, str(path)], env=child_env(), cwd="/")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["read_only"] is True
    assert found["goals"] == ["g1"]
    assert found["report"] is True
    assert found["error"].startswith(f"{path}: the store is read-only")


def test_the_cli_lists_a_read_only_workspace_and_refuses_to_refresh_it(
    read_only_folder: Path,
) -> None:
    path = read_only_folder / "workspace.db"
    cli = [sys.executable, "-m", "servicegoals"]
    made = subprocess.run([*cli, "demo", "--db", str(path)], capture_output=True, check=False)
    assert made.returncode == 0, made.stderr
    os.chmod(path, 0o444)
    os.chmod(read_only_folder, 0o555)
    listed = as_reader([*cli, "goals", "list", "--db", str(path)], env=child_env(), cwd="/")
    assert listed.returncode == 0, listed.stderr
    assert "Contributor" in listed.stdout
    refreshed = as_reader([*cli, "refresh", "--db", str(path)], env=child_env(), cwd="/")
    assert refreshed.returncode == 2
    assert refreshed.stderr.strip().endswith(
        f"{path}: the store is read-only (this process "
        "cannot write the file or its folder); nothing was changed"
    )


CRASH_WHILE_PRUNING = textwrap.dedent(
    """
    import os, sys
    from datetime import timedelta
    from servicegoals import Retention
    from servicegoals.stores import SqliteStore
    import test_stores as t

    store = SqliteStore(sys.argv[1], retention=Retention(days=1))
    g = t.goal()
    store.save_goal(g)
    for days in (10, 5):
        at = t.T0 - timedelta(days=days)
        store.commit_refresh(at, [t.report(g, at)], [], ["email"])
    original = SqliteStore._enqueue

    def crash(*args):
        original(*args)  # old snapshots are deleted, the new one written: not committed
        os._exit(3)

    SqliteStore._enqueue = staticmethod(crash)
    store.commit_refresh(t.T0, [t.report(g, t.T0)], [t.notification()], ["email"])
    """
)


def test_retention_runs_inside_the_refresh_transaction(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    done = subprocess.run(
        [sys.executable, "-c", CRASH_WHILE_PRUNING, str(path)],
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    with SqliteStore(path, retention=Retention(days=1)) as reopened:
        before = (T0 - timedelta(days=10), T0 - timedelta(days=5))
        assert reopened.report_times("g1") == before  # nothing pruned, nothing added
        reopened.commit_refresh(T0, [report(goal(), T0)], [], ["email"])
        assert reopened.report_times("g1") == (T0 - timedelta(days=5), T0)
