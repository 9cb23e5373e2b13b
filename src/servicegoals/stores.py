"""Stores: goals, report snapshots with history, and the notification outbox.

Two implementations of one [`Store`][] protocol: [`InMemoryStore`][]
(for tests and short-lived processes) and [`SqliteStore`][] (stdlib
`sqlite3`, WAL, a ``schema_version`` table, foreign keys), which several
processes may share; a file this process cannot write is opened read-only.

The outbox holds one entry per (notification key, channel).  Its life cycle::

    enqueue -> PENDING -> claim (leased to one caller) -> DELIVERED
                  ^                   |
                  +---- failure ------+--> DEAD (after the last attempt; kept)

Claiming is atomic: an entry is leased to one caller until the lease ends, and
only that caller's token can settle it, so one store never hands the same
entry to two trackers at once.  Leases run on the store's ``clock`` (the wall
clock by default), not on the ``now`` that callers pass: trackers whose ``now``
differ (tests, back-fills) still never take each other's claims.

Snapshots are pruned by a [Retention][servicegoals.Retention] policy inside
each refresh's transaction: every snapshot of the last N days is kept, and
older ones only where they answer "the status at the end of a milestone".
"""

from __future__ import annotations

import enum
import json
import os
import secrets
import sqlite3
import threading
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs
from attrs import field, frozen

from ._convert import goal_from_dict, goal_to_dict, report_from_dict, report_to_dict
from ._validate import aware, from_us, integer, text, to_us
from .errors import InvalidInput, NotFound, StoreError
from .goals import Goal
from .notify import Notification
from .status import GoalReport

__all__ = [
    "DEFAULT_LEASE",
    "SCHEMA_VERSION",
    "Claim",
    "InMemoryStore",
    "OutboxEntry",
    "OutboxState",
    "Retention",
    "SqliteStore",
    "Store",
    "open_read_only",
    "wall_clock",
]

#: The schema version [`SqliteStore`][] writes and reads.
SCHEMA_VERSION = 1
#: How long a claim is held when the caller does not say.
DEFAULT_LEASE = timedelta(minutes=10)
_MICROSECOND = timedelta(microseconds=1)
#: Stored error texts longer than this are shortened (a notifier's error may be huge).
MAX_ERROR_CHARS = 1_000
_DAY_US = 86_400_000_000


def _days(value: Any) -> int | None:
    return None if value is None else integer("days", value, low=0)


@frozen
class Retention:
    """Which report snapshots a store keeps when it commits a refresh.

    Every snapshot calculated in the ``days`` before the refresh is kept; of
    older ones, a goal keeps only its latest and, for each milestone, the
    latest calculated at or before the milestone's end.  So ``find_report(goal_id,
    as_of=X)`` answers as before for any X in the last ``days`` days and at
    every milestone end.  ``days=None`` keeps every snapshot.
    """

    days: int | None = field(default=30, converter=_days)

    def doomed(self, times: Sequence[int], at_us: int, ends: Iterable[int]) -> list[int]:
        """Of a goal's sorted snapshot times (epoch µs), those to delete at ``at_us``."""
        if self.days is None:
            return []
        older = times[: bisect_left(times, at_us - self.days * _DAY_US)]
        if len(older) < 2:
            return []
        kept = {older[-1]}
        for end in ends:
            i = bisect_right(older, end)
            if i:
                kept.add(older[i - 1])
        return [us for us in older if us not in kept]


class OutboxState(enum.Enum):
    """Where an outbox entry stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@frozen
class OutboxEntry:
    """One notification to deliver over one channel, and its delivery record.

    ``next_attempt_at`` is when a pending entry is due (None once it is
    delivered or dead); ``attempts`` counts every try, failed or not.
    """

    notification: Notification
    channel: str
    state: OutboxState
    attempts: int
    enqueued_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None = None
    last_error: str | None = None

    @property
    def key(self) -> str:
        return self.notification.key


@frozen
class Claim:
    """An outbox entry leased to one caller until ``lease_until``.

    ``attempts`` is the number of earlier tries.  Settle it with
    [`Store.mark_delivered`][] or [`Store.mark_failed`][]; only the
    holder of ``token`` can.
    """

    notification: Notification
    channel: str
    attempts: int
    token: str = field(repr=False)
    lease_until: datetime


@runtime_checkable
class Store(Protocol):
    """Where goals, report snapshots, the outbox and the refresh time live.

    Every method either completes or changes nothing.
    """

    def save_goal(self, goal: Goal) -> None:
        """Insert or replace a goal."""

    def goal(self, goal_id: str) -> Goal:
        """The goal ``goal_id``; [`NotFound`][] when there is none."""
        ...

    def goals(self) -> tuple[Goal, ...]:
        """Every goal, by id."""
        ...

    def delete_goal(self, goal_id: str) -> None:
        """Delete a goal and its snapshots (the outbox keeps its entries)."""

    def save_report(self, report: GoalReport) -> None:
        """Add a snapshot (a snapshot at the same instant is replaced)."""

    def find_report(self, goal_id: str, as_of: datetime | None = None) -> GoalReport | None:
        """The latest snapshot calculated at or before ``as_of`` (default: the latest)."""
        ...

    def report_times(self, goal_id: str) -> tuple[datetime, ...]:
        """When the snapshots of a goal were calculated, oldest first."""
        ...

    def enqueue(
        self, notifications: Iterable[Notification], channels: Iterable[str], now: datetime
    ) -> int:
        """Queue each notification on each channel, once per (key, channel).

        Returns how many entries are new; known ones are left as they are.
        """
        ...

    def claim(
        self,
        now: datetime,
        *,
        limit: int = 100,
        lease: timedelta = DEFAULT_LEASE,
        channels: Iterable[str] | None = None,
    ) -> tuple[Claim, ...]:
        """Lease up to ``limit`` entries due at ``now`` (on ``channels``, or any).

        An entry is due when it is pending, its next attempt is at or before
        ``now`` and it is not leased: the lease is ``lease`` on the store's clock.
        """
        ...

    def mark_delivered(self, claim: Claim, now: datetime) -> bool:
        """Record a delivery; False when the claim was no longer held."""
        ...

    def mark_failed(
        self, claim: Claim, now: datetime, error: str, retry_at: datetime | None
    ) -> bool:
        """Record a failed try: due again at ``retry_at``, or dead when it is None."""
        ...

    def outbox(self, state: OutboxState | None = None) -> tuple[OutboxEntry, ...]:
        """The outbox entries (in one state, or all), in the order they were queued."""
        ...

    def last_refresh(self) -> datetime | None:
        """When the last refresh was committed, or None before the first."""
        ...

    def commit_refresh(
        self,
        at: datetime,
        reports: Iterable[GoalReport],
        notifications: Iterable[Notification],
        channels: Iterable[str],
    ) -> int:
        """Store a refresh in one transaction: its snapshots, its notifications on
        every channel and its time, and apply the store's retention.  Reports
        and notifications of goals deleted meanwhile are left out; a goal that
        already has a snapshot at that instant keeps it and gets no new
        notifications (the first refresh at an instant wins).  Returns how many
        outbox entries are new.
        """
        ...

    def close(self) -> None:
        """Release the store's resources."""


# -- shared checks ----------------------------------------------------------------


def _goal(value: Any) -> Goal:
    if not isinstance(value, Goal):
        raise InvalidInput("goal", value, "expected a Goal")
    return value


def _report(value: Any, where: str = "report") -> GoalReport:
    if not isinstance(value, GoalReport):
        raise InvalidInput(where, value, "expected a GoalReport")
    return value


def _notifications(values: Iterable[Notification]) -> list[Notification]:
    found = list(values)
    for i, n in enumerate(found):
        if not isinstance(n, Notification):
            raise InvalidInput(f"notifications[{i}]", n, "expected a Notification")
    return found


def _channels(values: Iterable[str]) -> list[str]:
    if isinstance(values, str):
        raise InvalidInput("channels", values, "expected a collection of channel names")
    found = [text("channels", c) for c in values]
    return list(dict.fromkeys(found))


def wall_clock() -> datetime:
    """The current time in UTC: the default clock of the stores' leases."""
    return datetime.now(UTC)


def _clock(value: Any) -> Callable[[], datetime]:
    if not callable(value):
        raise InvalidInput("clock", value, "expected a callable returning an aware datetime")
    return value  # type: ignore[no-any-return]


@frozen
class _ClaimArgs:
    now_us: int
    limit: int
    clock_us: int
    lease_until_us: int
    channels: list[str] | None


def _claim_args(
    now: datetime,
    limit: int,
    lease: timedelta,
    channels: Iterable[str] | None,
    clock: Callable[[], datetime],
) -> _ClaimArgs:
    now_us = to_us(aware("now", now))
    integer("limit", limit, low=1)
    if not isinstance(lease, timedelta) or lease <= timedelta(0):
        raise InvalidInput("lease", lease, "expected a positive timedelta")
    names = None if channels is None else _channels(channels)
    clock_us = to_us(aware("clock()", clock()))
    return _ClaimArgs(now_us, limit, clock_us, clock_us + lease // _MICROSECOND, names)


def _settle_args(claim: Any, now: datetime) -> tuple[Claim, int]:
    if not isinstance(claim, Claim):
        raise InvalidInput("claim", claim, "expected a Claim from Store.claim()")
    return claim, to_us(aware("now", now))


def _retry_us(retry_at: datetime | None) -> int | None:
    return None if retry_at is None else to_us(aware("retry_at", retry_at))


def shorten(value: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``value``, or its start marked as shortened: at most ``limit`` characters."""
    if len(value) <= limit:
        return value
    mark = f"... [shortened from {len(value):,} characters]"
    return value[: max(0, limit - len(mark))] + mark


def _error_text(error: Any) -> str:
    return shorten(text("error", error))


def _retention(value: Any) -> Retention:
    if not isinstance(value, Retention):
        raise InvalidInput("retention", value, "expected a Retention")
    return value


def _ends(report: GoalReport) -> list[int]:
    return [m.period.end_us for m in report.milestones]


# -- in memory --------------------------------------------------------------------


@attrs.define
class _Item:
    """The mutable record behind an [`OutboxEntry`][]."""

    notification: Notification
    channel: str
    enqueued_us: int
    state: OutboxState = OutboxState.PENDING
    attempts: int = 0
    next_us: int | None = None
    delivered_us: int | None = None
    last_error: str | None = None
    token: str | None = None
    lease_us: int | None = None

    def entry(self) -> OutboxEntry:
        return OutboxEntry(
            self.notification,
            self.channel,
            self.state,
            self.attempts,
            from_us(self.enqueued_us),
            None if self.next_us is None else from_us(self.next_us),
            None if self.delivered_us is None else from_us(self.delivered_us),
            self.last_error,
        )

    def due(self, args: _ClaimArgs) -> bool:
        return (
            self.state is OutboxState.PENDING
            and self.next_us is not None
            and self.next_us <= args.now_us
            and (self.lease_us is None or self.lease_us <= args.clock_us)
            and (args.channels is None or self.channel in args.channels)
        )


class InMemoryStore:
    """A [`Store`][] in this process's memory; thread-safe, gone when it ends.

    Goals and reports are kept as the immutable objects they are.  Claims are
    leased on ``clock`` (the wall clock unless given); refreshes prune
    snapshots by ``retention``.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = wall_clock,
        retention: Retention = Retention(),
    ) -> None:
        self.clock = _clock(clock)
        self.retention = _retention(retention)
        self._lock = threading.RLock()
        self._goals: dict[str, Goal] = {}
        self._times: dict[str, list[int]] = {}
        self._reports: dict[tuple[str, int], GoalReport] = {}
        self._outbox: dict[tuple[str, str], _Item] = {}
        self._last_refresh: int | None = None

    # goals
    def save_goal(self, goal: Goal) -> None:
        goal = _goal(goal)
        with self._lock:
            self._goals[goal.id] = goal

    def goal(self, goal_id: str) -> Goal:
        with self._lock:
            try:
                return self._goals[goal_id]
            except (KeyError, TypeError):
                raise NotFound("goal_id", goal_id) from None

    def goals(self) -> tuple[Goal, ...]:
        with self._lock:
            return tuple(self._goals[k] for k in sorted(self._goals))

    def delete_goal(self, goal_id: str) -> None:
        with self._lock:
            self.goal(goal_id)
            del self._goals[goal_id]
            for us in self._times.pop(goal_id, []):
                del self._reports[(goal_id, us)]

    # reports
    def _add_report(self, report: GoalReport) -> None:
        us = to_us(report.calculated_at)
        times = self._times.setdefault(report.goal_id, [])
        if (report.goal_id, us) not in self._reports:
            insort(times, us)
        self._reports[(report.goal_id, us)] = report

    def _has(self, report: GoalReport) -> bool:
        return (report.goal_id, to_us(report.calculated_at)) in self._reports

    def _prune(self, report: GoalReport, at_us: int) -> None:
        times = self._times[report.goal_id]
        doomed = self.retention.doomed(times, at_us, _ends(report))
        for us in doomed:
            del self._reports[(report.goal_id, us)]
        if doomed:
            gone = set(doomed)
            times[:] = [us for us in times if us not in gone]

    def save_report(self, report: GoalReport) -> None:
        report = _report(report)
        with self._lock:
            self.goal(report.goal_id)
            self._add_report(report)

    def find_report(self, goal_id: str, as_of: datetime | None = None) -> GoalReport | None:
        with self._lock:
            times = self._times.get(goal_id, [])
            i = len(times) if as_of is None else bisect_right(times, to_us(aware("as_of", as_of)))
            return self._reports[(goal_id, times[i - 1])] if i else None

    def report_times(self, goal_id: str) -> tuple[datetime, ...]:
        with self._lock:
            return tuple(from_us(us) for us in self._times.get(goal_id, []))

    # outbox
    def _enqueue(self, notifications: list[Notification], channels: list[str], now_us: int) -> int:
        added = 0
        for n in notifications:
            for channel in channels:
                if (n.key, channel) not in self._outbox:
                    self._outbox[(n.key, channel)] = _Item(n, channel, now_us, next_us=now_us)
                    added += 1
        return added

    def enqueue(
        self, notifications: Iterable[Notification], channels: Iterable[str], now: datetime
    ) -> int:
        now_us = to_us(aware("now", now))
        found, names = _notifications(notifications), _channels(channels)
        with self._lock:
            return self._enqueue(found, names, now_us)

    def claim(
        self,
        now: datetime,
        *,
        limit: int = 100,
        lease: timedelta = DEFAULT_LEASE,
        channels: Iterable[str] | None = None,
    ) -> tuple[Claim, ...]:
        args = _claim_args(now, limit, lease, channels, self.clock)
        until = from_us(args.lease_until_us)
        with self._lock:
            due = [item for item in self._outbox.values() if item.due(args)]
            due.sort(key=lambda item: item.next_us or 0)  # stable: queue order within a time
            claims = []
            for item in due[: args.limit]:
                item.token = secrets.token_hex(16)
                item.lease_us = args.lease_until_us
                claims.append(
                    Claim(item.notification, item.channel, item.attempts, item.token, until)
                )
            return tuple(claims)

    def _held(self, claim: Claim) -> _Item | None:
        item = self._outbox.get((claim.notification.key, claim.channel))
        if item is None or item.token != claim.token or item.state is not OutboxState.PENDING:
            return None
        return item

    def mark_delivered(self, claim: Claim, now: datetime) -> bool:
        claim, now_us = _settle_args(claim, now)
        with self._lock:
            item = self._held(claim)
            if item is None:
                return False
            item.state, item.delivered_us, item.next_us = OutboxState.DELIVERED, now_us, None
            item.attempts += 1
            item.token = item.lease_us = None
            return True

    def mark_failed(
        self, claim: Claim, now: datetime, error: str, retry_at: datetime | None
    ) -> bool:
        claim, _ = _settle_args(claim, now)
        error, retry_us = _error_text(error), _retry_us(retry_at)
        with self._lock:
            item = self._held(claim)
            if item is None:
                return False
            item.attempts += 1
            item.last_error = error
            item.next_us = retry_us
            item.state = OutboxState.DEAD if retry_us is None else OutboxState.PENDING
            item.token = item.lease_us = None
            return True

    def outbox(self, state: OutboxState | None = None) -> tuple[OutboxEntry, ...]:
        with self._lock:
            return tuple(
                item.entry()
                for item in self._outbox.values()
                if state is None or item.state is state
            )

    # refreshes
    def last_refresh(self) -> datetime | None:
        with self._lock:
            return None if self._last_refresh is None else from_us(self._last_refresh)

    def commit_refresh(
        self,
        at: datetime,
        reports: Iterable[GoalReport],
        notifications: Iterable[Notification],
        channels: Iterable[str],
    ) -> int:
        # Read and check every input before the first change: all or nothing.
        at_us = to_us(aware("at", at))
        found = [_report(r, f"reports[{i}]") for i, r in enumerate(reports)]
        planned, names = _notifications(notifications), _channels(channels)
        with self._lock:
            # A goal refreshed at this instant already keeps that refresh's snapshot
            # and notifications: a concurrent refresh at the same instant adds nothing.
            done = {g for g in self._goals if (g, at_us) in self._reports}
            for report in found:
                if report.goal_id in self._goals and not self._has(report):
                    self._add_report(report)
                    self._prune(report, at_us)
            wanted = [n for n in planned if n.goal_id in self._goals and n.goal_id not in done]
            added = self._enqueue(wanted, names, at_us)
            self._last_refresh = max(at_us, self._last_refresh or at_us)
            return added

    def close(self) -> None:
        """Nothing to release."""


# -- SQLite -----------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS goals (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    goal_id TEXT NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
    calculated_us INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (goal_id, calculated_us)
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    channel TEXT NOT NULL,
    data TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    enqueued_us INTEGER NOT NULL,
    next_us INTEGER,
    delivered_us INTEGER,
    last_error TEXT,
    token TEXT,
    lease_us INTEGER,
    UNIQUE (key, channel)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_us);
CREATE TABLE IF NOT EXISTS refreshes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_us INTEGER NOT NULL
);
"""

_ENTRY_COLUMNS = "data, channel, state, attempts, enqueued_us, next_us, delivered_us, last_error"


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _optional_from_us(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def _writable(path: Path) -> bool:
    """False when this process cannot write the store file (or create its WAL files)."""
    folder = path.parent if str(path.parent) else Path(".")
    if not path.exists():
        return True
    return os.access(path, os.W_OK) and os.access(folder, os.W_OK)


def open_read_only(path: str | os.PathLike[str], timeout: float = 30.0) -> sqlite3.Connection:
    """A read-only connection to the SQLite file at ``path``.

    SQLite cannot read a WAL file read-only unless it may create the WAL
    index next to it; when the folder forbids that and no WAL file exists
    (so the main file holds every commit), the file is opened as immutable.

    Raises:
        sqlite3.Error: the file cannot be read.
    """
    uri = Path(path).resolve().as_uri()
    db = sqlite3.connect(
        f"{uri}?mode=ro", uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
    )
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        db.close()
        if Path(f"{path}-wal").exists():
            raise
    db = sqlite3.connect(
        f"{uri}?mode=ro&immutable=1",
        uri=True,
        timeout=timeout,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        db.close()
        raise
    return db


class SqliteStore:
    """A [`Store`][] in an SQLite file (stdlib `sqlite3`).

    The file uses WAL journaling, foreign keys and a ``schema_version`` table;
    a file written by a newer schema is refused.  Writes run in ``BEGIN
    IMMEDIATE`` transactions, so processes sharing the file take turns (each
    waits up to ``busy_timeout`` seconds) and a crash mid-write leaves the file
    as it was before that write.  One store may be used from several threads.
    Claims are leased on ``clock`` (the wall clock unless given); refreshes
    prune snapshots by ``retention``.

    A file this process cannot write (or whose folder it cannot write) is
    opened read-only, as is any file when ``read_only`` is true: reading
    works, and every write raises `StoreError` naming the file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 30.0,
        clock: Callable[[], datetime] = wall_clock,
        retention: Retention = Retention(),
        read_only: bool | None = None,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise InvalidInput("path", path, "expected a file path")
        if read_only not in (None, True, False):
            raise InvalidInput("read_only", read_only, "expected True, False or None")
        self.path = Path(path)
        self.clock = _clock(clock)
        self.retention = _retention(retention)
        self.read_only = not _writable(self.path) if read_only is None else read_only
        self._lock = threading.RLock()
        try:
            self._db = (
                open_read_only(self.path, busy_timeout)
                if self.read_only
                else sqlite3.connect(
                    str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
                )
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from None
        try:
            self._setup()
        except BaseException:
            self._db.close()
            raise

    def _setup(self) -> None:
        if self.read_only:
            self._check_version(self._read("SELECT version FROM schema_version"))
            return
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from None
        with self._write() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            rows = db.execute("SELECT version FROM schema_version").fetchall()
            if not rows:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            self._check_version(rows or [(SCHEMA_VERSION,)])

    def _check_version(self, rows: list[Any]) -> None:
        if not rows or rows[0][0] != SCHEMA_VERSION:
            found = rows[0][0] if rows else None
            raise StoreError(
                f"{self.path}: schema_version is {found!r}; this library reads "
                f"version {SCHEMA_VERSION}"
            )

    @property
    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        version: int = self._read("SELECT version FROM schema_version")[0][0]
        return version

    def require_writable(self) -> None:
        """Raise `StoreError` naming the file when the store was opened read-only."""
        if self.read_only:
            raise StoreError(
                f"{self.path}: the store is read-only (this process cannot write the file "
                "or its folder); nothing was changed"
            )

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE, then COMMIT, or ROLLBACK on any error."""
        self.require_writable()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot start a transaction: {exc}") from None
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:  # SQLite may have rolled back already
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"{self.path}: {exc}") from None
                raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from None

    # goals
    def save_goal(self, goal: Goal) -> None:
        data = _dump(goal_to_dict(_goal(goal)))
        with self._write() as db:
            db.execute(
                "INSERT INTO goals (id, data) VALUES (?, ?) "
                "ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                (goal.id, data),
            )

    def _goal_from(self, goal_id: str, data: str) -> Goal:
        where = f"{self.path}: goals[{goal_id!r}]"
        return goal_from_dict(self._json(where, data), where=where)

    @staticmethod
    def _json(where: str, data: str) -> Any:
        try:
            return json.loads(data)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{where}: a damaged row, not JSON: {exc}") from None

    def goal(self, goal_id: str) -> Goal:
        rows = self._read("SELECT data FROM goals WHERE id = ?", (goal_id,))
        if not rows:
            raise NotFound("goal_id", goal_id)
        return self._goal_from(goal_id, rows[0][0])

    def goals(self) -> tuple[Goal, ...]:
        rows = self._read("SELECT id, data FROM goals ORDER BY id")
        return tuple(self._goal_from(goal_id, data) for goal_id, data in rows)

    def delete_goal(self, goal_id: str) -> None:
        with self._write() as db:
            if db.execute("DELETE FROM goals WHERE id = ?", (goal_id,)).rowcount == 0:
                raise NotFound("goal_id", goal_id)

    # reports
    @staticmethod
    def _report_rows(reports: Iterable[GoalReport]) -> list[tuple[str, int, str, str]]:
        """Serialised before the transaction starts, so that it holds the lock briefly."""
        return [
            (r.goal_id, to_us(r.calculated_at), _dump(report_to_dict(r)), r.goal_id)
            for r in reports
        ]

    @staticmethod
    def _insert_reports(
        db: sqlite3.Connection, rows: list[tuple[str, int, str, str]], *, replace: bool = True
    ) -> None:
        db.executemany(
            f"INSERT OR {'REPLACE' if replace else 'IGNORE'} INTO reports "
            "(goal_id, calculated_us, data) "
            "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM goals WHERE id = ?)",
            rows,
        )

    def _prune(self, db: sqlite3.Connection, reports: list[GoalReport], at_us: int) -> None:
        """Delete the snapshots that the retention drops, of the goals in ``reports``."""
        if self.retention.days is None:
            return
        cutoff = at_us - self.retention.days * _DAY_US
        for report in reports:
            # Older snapshots were pruned by earlier refreshes: this reads a few rows.
            times = [
                us
                for (us,) in db.execute(
                    "SELECT calculated_us FROM reports WHERE goal_id = ? AND calculated_us < ? "
                    "ORDER BY calculated_us",
                    (report.goal_id, cutoff),
                )
            ]
            doomed = self.retention.doomed(times, at_us, _ends(report))
            db.executemany(
                "DELETE FROM reports WHERE goal_id = ? AND calculated_us = ?",
                [(report.goal_id, us) for us in doomed],
            )

    def save_report(self, report: GoalReport) -> None:
        report = _report(report)
        rows = self._report_rows([report])
        with self._write() as db:
            if not db.execute("SELECT 1 FROM goals WHERE id = ?", (report.goal_id,)).fetchone():
                raise NotFound("report.goal_id", report.goal_id)
            self._insert_reports(db, rows)

    def find_report(self, goal_id: str, as_of: datetime | None = None) -> GoalReport | None:
        limit = None if as_of is None else to_us(aware("as_of", as_of))
        rows = self._read(
            "SELECT calculated_us, data FROM reports WHERE goal_id = ? "
            "AND (? IS NULL OR calculated_us <= ?) ORDER BY calculated_us DESC LIMIT 1",
            (goal_id, limit, limit),
        )
        if not rows:
            return None
        us, data = rows[0]
        where = f"{self.path}: reports[{goal_id!r}, {us}]"
        return report_from_dict(self._json(where, data), where=where)

    def report_times(self, goal_id: str) -> tuple[datetime, ...]:
        rows = self._read(
            "SELECT calculated_us FROM reports WHERE goal_id = ? ORDER BY calculated_us",
            (goal_id,),
        )
        return tuple(from_us(us) for (us,) in rows)

    # outbox
    @staticmethod
    def _enqueue(db: sqlite3.Connection, rows: list[tuple[str, str, str]], now_us: int) -> int:
        """Insert ``(goal_id, key, data)`` rows on every channel; returns how many are new."""
        before = db.total_changes
        db.executemany(
            "INSERT INTO outbox (key, channel, data, state, enqueued_us, next_us) "
            "VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT (key, channel) DO NOTHING",
            ((key, channel, data, now_us, now_us) for key, channel, data in rows),
        )
        return db.total_changes - before

    @staticmethod
    def _outbox_rows(
        notifications: list[Notification], channels: list[str]
    ) -> list[tuple[str, str, str]]:
        return [(n.key, c, _dump(n.to_dict())) for n in notifications for c in channels]

    def enqueue(
        self, notifications: Iterable[Notification], channels: Iterable[str], now: datetime
    ) -> int:
        now_us = to_us(aware("now", now))
        rows = self._outbox_rows(_notifications(notifications), _channels(channels))
        with self._write() as db:
            return self._enqueue(db, rows, now_us)

    def _notification(self, data: str) -> Notification:
        try:
            return Notification.from_dict(json.loads(data))
        except (ValueError, InvalidInput) as exc:
            raise StoreError(f"{self.path}: outbox: unreadable notification: {exc}") from None

    def claim(
        self,
        now: datetime,
        *,
        limit: int = 100,
        lease: timedelta = DEFAULT_LEASE,
        channels: Iterable[str] | None = None,
    ) -> tuple[Claim, ...]:
        args = _claim_args(now, limit, lease, channels, self.clock)
        names = args.channels
        if names == []:
            return ()
        token = secrets.token_hex(16)
        only = "" if names is None else f" AND channel IN ({', '.join('?' * len(names))})"
        with self._write() as db:
            # BEGIN IMMEDIATE holds the write lock: no other connection can
            # claim the same rows between this UPDATE and the COMMIT.
            db.execute(
                "UPDATE outbox SET token = ?, lease_us = ? WHERE id IN ("
                " SELECT id FROM outbox WHERE state = 'pending' AND next_us <= ?"
                f" AND (lease_us IS NULL OR lease_us <= ?){only} ORDER BY next_us, id LIMIT ?)",
                (
                    token,
                    args.lease_until_us,
                    args.now_us,
                    args.clock_us,
                    *(names or ()),
                    args.limit,
                ),
            )
            rows = db.execute(
                "SELECT data, channel, attempts FROM outbox WHERE token = ? ORDER BY next_us, id",
                (token,),
            ).fetchall()
        until = from_us(args.lease_until_us)
        return tuple(
            Claim(self._notification(data), channel, attempts, token, until)
            for data, channel, attempts in rows
        )

    def _settle(self, claim: Claim, sql: str, params: Sequence[Any]) -> bool:
        with self._write() as db:
            changed = db.execute(
                f"UPDATE outbox SET {sql}, attempts = attempts + 1, token = NULL, lease_us = NULL "
                "WHERE key = ? AND channel = ? AND token = ? AND state = 'pending'",
                (*params, claim.notification.key, claim.channel, claim.token),
            ).rowcount
        return changed == 1

    def mark_delivered(self, claim: Claim, now: datetime) -> bool:
        claim, now_us = _settle_args(claim, now)
        return self._settle(
            claim, "state = 'delivered', delivered_us = ?, next_us = NULL", (now_us,)
        )

    def mark_failed(
        self, claim: Claim, now: datetime, error: str, retry_at: datetime | None
    ) -> bool:
        claim, _ = _settle_args(claim, now)
        error, retry_us = _error_text(error), _retry_us(retry_at)
        state = OutboxState.DEAD if retry_us is None else OutboxState.PENDING
        return self._settle(
            claim, "state = ?, next_us = ?, last_error = ?", (state.value, retry_us, error)
        )

    def outbox(self, state: OutboxState | None = None) -> tuple[OutboxEntry, ...]:
        wanted = None if state is None else OutboxState(state).value
        rows = self._read(
            f"SELECT {_ENTRY_COLUMNS} FROM outbox WHERE ? IS NULL OR state = ? ORDER BY id",
            (wanted, wanted),
        )
        return tuple(self._entry(*row) for row in rows)

    def _entry(
        self,
        data: str,
        channel: str,
        state: str,
        attempts: int,
        enqueued_us: int,
        next_us: int | None,
        delivered_us: int | None,
        last_error: str | None,
    ) -> OutboxEntry:
        return OutboxEntry(
            self._notification(data),
            channel,
            OutboxState(state),
            attempts,
            from_us(enqueued_us),
            _optional_from_us(next_us),
            _optional_from_us(delivered_us),
            last_error,
        )

    # refreshes
    def last_refresh(self) -> datetime | None:
        rows = self._read("SELECT last_us FROM refreshes WHERE id = 1")
        return from_us(rows[0][0]) if rows else None

    def commit_refresh(
        self,
        at: datetime,
        reports: Iterable[GoalReport],
        notifications: Iterable[Notification],
        channels: Iterable[str],
    ) -> int:
        at_us = to_us(aware("at", at))
        checked = [_report(r, f"reports[{i}]") for i, r in enumerate(reports)]
        found = self._report_rows(checked)
        planned, names = _notifications(notifications), _channels(channels)
        with self._write() as db:
            # A goal refreshed at this instant already keeps that refresh's snapshot
            # and notifications: a concurrent refresh at the same instant adds nothing.
            ids = {r.goal_id for r in checked} | {n.goal_id for n in planned}
            done = {
                goal_id
                for goal_id in ids
                if db.execute(
                    "SELECT 1 FROM reports WHERE goal_id = ? AND calculated_us = ?",
                    (goal_id, at_us),
                ).fetchone()
            }
            self._insert_reports(db, found, replace=False)
            self._prune(db, checked, at_us)
            existing = {row[0] for row in db.execute("SELECT id FROM goals")} - done
            rows = self._outbox_rows([n for n in planned if n.goal_id in existing], names)
            added = self._enqueue(db, rows, at_us)
            db.execute(
                "INSERT INTO refreshes (id, last_us) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET last_us = max(last_us, excluded.last_us)",
                (at_us,),
            )
            return added

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
