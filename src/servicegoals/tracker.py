"""The tracker: refresh every goal's report, then deliver the notifications.

A refresh loads the goals from a store, measures them (in the database when
the source can aggregate there), evaluates them against their previous
snapshots (so expired rows stay frozen), plans the notifications, and commits
snapshots, notifications and the refresh time in one transaction.  Only then
does it deliver the outbox, so a crash at any point loses nothing: what was
committed is delivered by a later call, what was not is recalculated.
A refresh at an instant that already has a snapshot returns that snapshot
instead of calculating it again.

When the source is a `ChangeFeed` (an `SqliteFeedSource`), a long-lived tracker
keeps its measurements between refreshes and applies only the tickets written
since the last one (docs/incremental.md).

Each delivery attempt runs in a worker thread and is waited for at most
``delivery_deadline``: a notifier that hangs cannot block the tracker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from attrs import define, frozen

from ._validate import aware, integer, text
from .errors import DeliveryTimeout, InvalidInput, UndeliverableError
from .goals import Directory, Goal
from .incremental import ChangeFeed, IncrementalMeasure
from .kpis import Measurement
from .measure import CellKey, measure
from .notifiers import Notifier
from .notify import Notification, plan_notifications
from .sources import AggregatingSource, TicketQuery, TicketSource
from .status import GoalReport, evaluate
from .stores import DEFAULT_LEASE, Claim, Store, shorten
from .worktime import CALENDAR, WorkingClock

__all__ = ["DeliverySummary", "RefreshSummary", "Tracker", "describe"]

log = logging.getLogger("servicegoals.tracker")
#: How long one delivery attempt may take when the tracker is not told (at most half the lease).
DEFAULT_DELIVERY_DEADLINE = timedelta(minutes=1)


def describe(exc: BaseException) -> str:
    """``"TypeName: message"`` for any exception, even one whose ``__str__`` raises."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # a broken plug-in exception must not break the tracker
        return f"{name}: <the error's text could not be shown>"
    return f"{name}: {message}" if message else name


@frozen
class DeliverySummary:
    """What one [`Tracker.deliver`][] did.

    ``failed`` entries are queued again for a later try; ``dead`` ones will not
    be tried again; ``lost`` counts claims whose lease ran out during the
    attempt (another tracker may take them over).
    """

    delivered: int = 0
    failed: int = 0
    dead: int = 0
    lost: int = 0


@frozen
class RefreshSummary:
    """What one [`Tracker.refresh`][] did.

    ``skipped`` is true when the refresh interval had not passed: then
    ``reports`` and ``planned`` are empty, but due notifications were still
    delivered.  ``enqueued`` counts new outbox entries (a notification that
    another refresh already queued is not queued again).
    """

    at: datetime
    skipped: bool
    reports: tuple[GoalReport, ...]
    planned: tuple[Notification, ...]
    enqueued: int
    delivery: DeliverySummary

    @property
    def delivered(self) -> int:
        return self.delivery.delivered

    @property
    def failed(self) -> int:
        return self.delivery.failed


def _positive(name: str, value: Any, *, zero: bool = False) -> timedelta:
    if not isinstance(value, timedelta) or value < timedelta(0) or (not zero and not value):
        wanted = "a timedelta of zero or more" if zero else "a positive timedelta"
        raise InvalidInput(name, value, f"expected {wanted}")
    return value


def _notifiers(value: Mapping[str, Notifier] | Iterable[Notifier]) -> dict[str, Notifier]:
    """Notifiers by channel name: a mapping as given, else each one's ``channel``."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        pairs = [(getattr(n, "channel", type(n).__name__), n) for n in value]
    found: dict[str, Notifier] = {}
    for name, notifier in pairs:
        text("notifiers", name)
        if not isinstance(notifier, Notifier):
            raise InvalidInput(f"notifiers[{name!r}]", notifier, "expected a Notifier")
        if name in found:
            raise InvalidInput(
                "notifiers", name, "two notifiers share a channel name; pass a mapping"
            )
        found[name] = notifier
    return found


@define
class _Following:
    """What a tracker measured from a change feed: for which goals, up to which cursor."""

    goals: tuple[Goal, ...]
    directory: Directory
    cursor: int
    measured: IncrementalMeasure
    #: The cursor up to which the feed's records were pruned.
    pruned: int = -1


class Tracker:
    """Refreshes the goals in ``store`` from ``source`` and notifies through ``notifiers``.

    A refresh loads the goals, measures them (in the source when it
    aggregates), evaluates them against their last snapshots (freezing expired
    rows), commits snapshots and planned notifications in one transaction, then
    delivers the outbox.  A refresh at an instant that already has a snapshot
    returns it and stores nothing new.

    Args:
        store: goals, snapshots and the notification outbox.
        source: the tickets; an `AggregatingSource` measures in its database; a
            `ChangeFeed` is followed: the tracker keeps its measurements and
            applies the changes since its last refresh.
        notifiers: channel name to notifier, or notifiers whose ``channel``
            attributes (else class names) name their channels; each
            notification is queued and delivered once per channel.
        directory: team trees, deactivated users and recipients; assign
            ``tracker.directory`` when it changes.
        refresh_interval: the least time between two refreshes (zero: every
            call refreshes).
        max_attempts: tries before an outbox entry is kept as dead.
        retry_backoff: the wait after a failed delivery, doubled each time...
        max_retry_delay: ...up to this.
        lease: how long a claimed entry is reserved for this tracker, on the
            store's clock.
        batch_size: outbox entries claimed at a time.
        delivery_deadline: the most one delivery attempt may take (at most
            half the lease; by default a minute, or half the lease when that is
            shorter).  A `send` still running then counts as a failed attempt
            and its entry is tried again after the lease; the late `send` may
            still land, so delivery is at least once and receivers deduplicate
            on the key.
        clock: measures the elapsed share of milestones for at-risk
            notifications: `CALENDAR` by default, or a working-time schedule.
        on_goal: called as ``on_goal(done, total)`` after each goal of a
            refresh is evaluated, for a progress bar.

    Raises:
        InvalidInput: an argument of the wrong type or out of range, naming it.
    """

    def __init__(
        self,
        store: Store,
        source: TicketSource,
        notifiers: Mapping[str, Notifier] | Iterable[Notifier],
        directory: Directory,
        *,
        refresh_interval: timedelta = timedelta(hours=24),
        max_attempts: int = 8,
        retry_backoff: timedelta = timedelta(minutes=1),
        max_retry_delay: timedelta = timedelta(hours=6),
        lease: timedelta = DEFAULT_LEASE,
        batch_size: int = 50,
        delivery_deadline: timedelta | None = None,
        clock: WorkingClock = CALENDAR,
        on_goal: Callable[[int, int], None] | None = None,
    ) -> None:
        if not isinstance(store, Store):
            raise InvalidInput("store", store, "expected a Store")
        if not isinstance(source, TicketSource):
            raise InvalidInput("source", source, "expected a TicketSource")
        if not isinstance(directory, Directory):
            raise InvalidInput("directory", directory, "expected a Directory")
        if not isinstance(clock, WorkingClock):
            raise InvalidInput("clock", clock, "expected a WorkingClock such as CALENDAR")
        if on_goal is not None and not callable(on_goal):
            raise InvalidInput("on_goal", on_goal, "expected a callable(done, total) or None")
        self.clock = clock
        self.on_goal = on_goal
        self._following: _Following | None = None
        self.store = store
        self.source = source
        self.notifiers = _notifiers(notifiers)
        self.directory = directory
        self.refresh_interval = _positive("refresh_interval", refresh_interval, zero=True)
        self.max_attempts = integer("max_attempts", max_attempts, low=1)
        self.retry_backoff = _positive("retry_backoff", retry_backoff)
        self.max_retry_delay = _positive("max_retry_delay", max_retry_delay)
        self.lease = _positive("lease", lease)
        self.batch_size = integer("batch_size", batch_size, low=1)
        self.delivery_deadline = (
            min(DEFAULT_DELIVERY_DEADLINE, self.lease / 2)
            if delivery_deadline is None
            else _positive("delivery_deadline", delivery_deadline)
        )
        if self.delivery_deadline * 2 > self.lease:
            raise InvalidInput(
                "delivery_deadline",
                delivery_deadline,
                f"must be at most half the lease ({self.lease})",
            )

    # -- refreshing -----------------------------------------------------------------

    def due(self, now: datetime) -> bool:
        """True when a refresh at ``now`` would run (the interval has passed)."""
        last = self.store.last_refresh()
        return last is None or aware("now", now) >= last + self.refresh_interval

    def measure(
        self, goals: Iterable[Goal], *, at: datetime | None = None
    ) -> dict[CellKey, Measurement]:
        """Measure ``goals`` as of ``at``: in the source when it aggregates, else one by one."""
        chosen = tuple(goals)
        if not chosen:
            return {}
        if isinstance(self.source, AggregatingSource):
            return self.source.measure(chosen, directory=self.directory, at=at)
        query = TicketQuery.for_goals(chosen, self.directory)
        return measure(chosen, self.source.tickets(query), directory=self.directory, at=at)

    def _measure_at(
        self, goals: tuple[Goal, ...], todo: list[Goal], now: datetime
    ) -> Mapping[CellKey, Measurement]:
        """The cells of ``todo`` as of ``now``: followed when the source is a change feed."""
        feed = self.source
        if not todo:
            return {}
        if not isinstance(feed, ChangeFeed) or not all(g.kpi.fast for g in goals):
            self._following = None  # custom KPIs keep no state to update
            return self.measure(todo, at=now)
        following = self._following
        self._following = None  # kept again only once up to date
        if following is not None and (
            following.goals != goals
            or following.directory != self.directory
            or (following.measured.at is not None and now < following.measured.at)
        ):
            following = None  # other goals, teams or an earlier instant: measure afresh
        if following is not None:
            try:
                batch = feed.changes(following.cursor)
                if batch is not None:
                    following.measured.apply(batch.changes)
                    following.measured.advance(now)
                    following.cursor = batch.cursor
                else:
                    following = None  # changes pruned by another reader: measure afresh
            except Exception as exc:
                log.warning("incremental refresh failed, measuring afresh: %s", describe(exc))
                following = None
        if following is None:
            cursor, tickets = feed.snapshot()
            measured = IncrementalMeasure(goals, tickets, directory=self.directory, at=now)
            following = _Following(goals, self.directory, cursor, measured)
        if following.pruned < following.cursor:  # what this tracker has read is not needed
            try:
                feed.prune(following.cursor)
                following.pruned = following.cursor
            except Exception as exc:  # housekeeping: the measurements are right, try again later
                log.warning("pruning the change feed failed: %s", describe(exc))
        self._following = following
        return following.measured

    def refresh(self, now: datetime, *, force: bool = False) -> RefreshSummary:
        """Refresh every goal at ``now`` if the interval has passed (or ``force``).

        Each goal is evaluated against its latest snapshot at or before ``now``;
        snapshots, planned notifications and the refresh time are committed in one
        transaction, then the outbox is delivered.  A skipped refresh still
        delivers what is due, so retries do not wait for the next refresh.  A
        goal that already has a snapshot at ``now`` keeps it: the refresh
        returns it, plans nothing for it and stores nothing new.
        """
        now = aware("now", now)
        if not force and not self.due(now):
            return RefreshSummary(now, True, (), (), 0, self.deliver(now))
        goals = self.store.goals()
        previous = {goal.id: self.store.find_report(goal.id, as_of=now) for goal in goals}
        # Re-evaluating at the instant of a snapshot would treat it as the past
        # (freezing milestones that end then): that snapshot is the answer.
        stored = {k: r for k, r in previous.items() if r is not None and r.calculated_at == now}
        todo = [goal for goal in goals if goal.id not in stored]
        measured = self._measure_at(goals, todo, now)
        fresh: dict[str, GoalReport] = {}
        planned: list[Notification] = []
        for done, goal in enumerate(todo, 1):
            report = evaluate(
                goal, measured, at=now, previous=previous[goal.id], directory=self.directory
            )
            fresh[goal.id] = report
            planned.extend(
                plan_notifications(
                    previous[goal.id], report, goal, self.directory, clock=self.clock
                )
            )
            if self.on_goal is not None:
                self.on_goal(done, len(todo))
        enqueued = self.store.commit_refresh(now, fresh.values(), planned, list(self.notifiers))
        reports = tuple(stored.get(goal.id) or fresh[goal.id] for goal in goals)
        return RefreshSummary(now, False, reports, tuple(planned), enqueued, self.deliver(now))

    # -- delivering -----------------------------------------------------------------

    def retry_at(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` failed tries; None once they are used up."""
        if attempts >= self.max_attempts:
            return None
        delay = self.retry_backoff * (1 << min(attempts - 1, 32))
        return now + min(delay, self.max_retry_delay)

    def deliver(self, now: datetime) -> DeliverySummary:
        """Send every outbox entry due at ``now`` on this tracker's channels."""
        now = aware("now", now)
        counts = {"delivered": 0, "failed": 0, "dead": 0, "lost": 0}
        while claims := self.store.claim(
            now, limit=self.batch_size, lease=self.lease, channels=self.notifiers
        ):
            for claim in claims:
                counts[self._attempt(claim, now)] += 1
        return DeliverySummary(**counts)

    def _send(self, claim: Claim) -> BaseException | None:
        """Run the notifier's `send` in a worker thread, waiting at most the deadline.

        Returns what it raised, None when it returned, or `DeliveryTimeout`.
        """
        notifier = self.notifiers[claim.channel]
        outcome: list[BaseException | None] = []

        def work() -> None:
            try:
                notifier.send(claim.notification)
            except BaseException as exc:  # handed to the caller's thread
                outcome.append(exc)
            else:
                outcome.append(None)

        worker = threading.Thread(
            target=work, name=f"servicegoals-deliver-{claim.channel}", daemon=True
        )
        worker.start()
        worker.join(self.delivery_deadline.total_seconds())
        if not outcome:  # still running: leave it; its result is ignored
            return DeliveryTimeout(
                f"{claim.channel}: send did not return within {self.delivery_deadline}"
            )
        return outcome[0]

    def _attempt(self, claim: Claim, now: datetime) -> str:
        exc = self._send(claim)
        if exc is not None and not isinstance(exc, Exception):
            raise exc  # KeyboardInterrupt, SystemExit: stop, the claim's lease will lapse
        if exc is not None:  # a plug-in's bug must not lose the entry either
            retry = (
                None
                if isinstance(exc, UndeliverableError)
                else self.retry_at(claim.attempts + 1, now)
            )
            if retry is not None and isinstance(exc, DeliveryTimeout):
                # The late send may still land: not before the lease would have run out.
                retry = max(retry, now + self.lease)
            error = shorten(describe(exc))
            log.warning(
                "delivery of %s on %s failed (attempt %d): %s",
                claim.notification.key,
                claim.channel,
                claim.attempts + 1,
                error,
            )
            if not self.store.mark_failed(claim, now, error, retry):
                return "lost"
            return "failed" if retry is not None else "dead"
        return "delivered" if self.store.mark_delivered(claim, now) else "lost"
