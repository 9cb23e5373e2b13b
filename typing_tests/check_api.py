"""Type-interface checks: mypy --strict runs this file; it is never executed.

`assert_type` pins what the public API returns, and the `type: ignore[...]`
lines pin what it must refuse (strict mode reports an unused ignore, so a check
that stops failing fails the build).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import assert_type

from servicegoals import (
    AVG_RESPONSE_TIME,
    AccountSettings,
    AggregatingSource,
    Cadence,
    CellKey,
    Directory,
    Goal,
    GoalReport,
    Measurement,
    Notification,
    Notifier,
    Ticket,
    TicketQuery,
    TicketSource,
    User,
    calendar_year,
    evaluate,
    measure,
)

account = AccountSettings(timezone="Europe/Oslo")
goal = Goal.create(
    id="g1",
    name="Answer within four hours",
    kpi=AVG_RESPONSE_TIME,
    cadence=Cadence.QUARTERLY,
    span=calendar_year(2026, account),
    settings=account,
    contributors=[User("u1", "Ada")],
    targets={"u1": timedelta(hours=4)},
)
assert_type(goal, Goal)

tickets = [Ticket("t1", datetime(2026, 1, 5, 9, tzinfo=UTC), "support", owner_id="u1")]
measured = measure([goal], tickets)
assert_type(measured, dict[CellKey, Measurement])
report = evaluate(goal, measured, at=datetime(2026, 2, 1, tzinfo=UTC))
assert_type(report, GoalReport)

measure([goal], ["not a ticket"])  # type: ignore[list-item]
evaluate(goal, measured)  # type: ignore[call-arg]
Goal.create(id="g2", name="No settings")  # type: ignore[call-arg]


class MyTickets:
    """A user-written ticket source: structurally a TicketSource."""

    def tickets(self, query: TicketQuery | None = None) -> Iterator[Ticket]:
        return iter(tickets)


class MyNotifier:
    """A user-written notifier: structurally a Notifier."""

    def send(self, notification: Notification) -> None:
        print(notification.key)


class MyAggregatingTickets(MyTickets):
    """A user-written push-down source: structurally an AggregatingSource."""

    def measure(
        self,
        goals: Iterable[Goal],
        *,
        directory: Directory | None = None,
        at: datetime | None = None,
    ) -> dict[CellKey, Measurement]:
        return measure(goals, self.tickets(), directory=directory, at=at)


class WithoutAsOf(MyTickets):
    """A push-down source from before as-of measuring: no ``at`` parameter."""

    def measure(
        self, goals: Iterable[Goal], *, directory: Directory | None = None
    ) -> dict[CellKey, Measurement]:
        return measure(goals, self.tickets(), directory=directory)


class NotANotifier:
    """`send` takes the wrong argument type: not a Notifier."""

    def send(self, notification: str) -> None:
        print(notification)


source: TicketSource = MyTickets()
pushed: AggregatingSource = MyAggregatingTickets()
stale: AggregatingSource = WithoutAsOf()  # type: ignore[assignment]
assert_type(pushed.measure([goal], at=datetime(2026, 2, 1, tzinfo=UTC)), dict[CellKey, Measurement])
notifier: Notifier = MyNotifier()
wrong: Notifier = NotANotifier()  # type: ignore[assignment]
measure([goal], source.tickets())
