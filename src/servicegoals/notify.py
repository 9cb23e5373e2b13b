"""Planning notifications: the difference between two reports, as messages.

[`plan_notifications`][] is pure.  It compares a goal's previous report with
its current one and returns the notifications the goal's
[`NotificationSettings`][servicegoals.goals.NotificationSettings] select, each with a stable
idempotency key, so that planning the same change twice (two refreshes, two
trackers) yields the same keys and a store enqueues each one once.

The ``AT_RISK`` event re-arms: a row that recovers and falls again notifies
again.  Its key therefore also names the report that armed it, the last one in
which the row was not at risk (see `notification_key`).

Delivery is the notifiers' job ([`servicegoals.notifiers`][servicegoals.notifiers]).
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from attrs import field, frozen

from ._validate import aware, checked, integer, text, to_us
from .errors import InvalidInput
from .forecast import GoalForecast, RowForecast, forecast
from .goals import ContributorKind, Directory, Goal, User
from .status import GoalReport, Progress, Status, _check_report_of
from .worktime import CALENDAR, WorkingClock

__all__ = [
    "Notification",
    "NotificationEvent",
    "notification_key",
    "plan_notifications",
]


class NotificationEvent(enum.Enum):
    """What a notification tells its recipient."""

    ACHIEVED = "achieved"
    EXCEEDED = "exceeded"
    MISSED = "missed"
    PROGRESS_CROSSED = "progress_crossed"
    MILESTONE_STARTED = "milestone_started"
    AT_RISK = "at_risk"


_FINAL_EVENTS = {
    Status.ACHIEVED: NotificationEvent.ACHIEVED,
    Status.EXCEEDED: NotificationEvent.EXCEEDED,
    Status.MISSED: NotificationEvent.MISSED,
}


def notification_key(
    goal_id: str,
    contributor_id: str,
    milestone_index: int,
    event: NotificationEvent,
    percent: int | None,
    recipient_id: str,
    *,
    armed_at: datetime | None = None,
) -> str:
    """The idempotency key of one notification: a hex SHA-256 of its identity.

    The parts are JSON-encoded before hashing, so ids containing any separator
    cannot make two different notifications share a key.  ``armed_at`` (for
    ``AT_RISK``: the calculation time of the last report in which the row was
    not at risk) is added as epoch microseconds when given, so each fall of a
    row has its own key; without it a key is the same as before at-risk events.
    """
    parts: list[Any] = [goal_id, contributor_id, milestone_index, event.value, percent]
    parts.append(recipient_id)
    if armed_at is not None:
        parts.append(to_us(aware("armed_at", armed_at)))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _event(value: Any) -> NotificationEvent:
    if isinstance(value, NotificationEvent):
        return value
    try:
        return NotificationEvent(value)
    except ValueError:
        raise InvalidInput("event", value, "unknown notification event") from None


def _optional_percent(value: Any) -> int | None:
    return None if value is None else integer("percent", value, low=1)


@frozen
class Notification:
    """One message to one recipient about one row of a goal.

    ``percent`` is the threshold crossed for ``PROGRESS_CROSSED`` and None for
    the other events.  ``key`` identifies the notification: the same goal,
    contributor, milestone, event, percent and recipient always give the same
    key (see [`notification_key`][]).
    """

    key: str = field(validator=checked(text, "key"))
    goal_id: str = field(validator=checked(text, "goal_id"))
    contributor_id: str = field(validator=checked(text, "contributor_id"))
    milestone_index: int = field(validator=checked(integer, "milestone_index", low=0))
    event: NotificationEvent = field(converter=_event)
    percent: int | None = field(validator=lambda _, __, v: _optional_percent(v))
    recipient_id: str = field(validator=checked(text, "recipient_id"))
    recipient_email: str | None = field(validator=checked(text, "recipient_email", optional=True))
    subject: str = field(validator=checked(text, "subject"))
    body: str = field(validator=checked(text, "body"))
    created_at: datetime = field(validator=checked(aware, "created_at"))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire form (the webhook body; see ``docs/plugins.md``)."""
        return {
            "key": self.key,
            "goal_id": self.goal_id,
            "contributor_id": self.contributor_id,
            "milestone_index": self.milestone_index,
            "event": self.event.value,
            "percent": self.percent,
            "recipient_id": self.recipient_id,
            "recipient_email": self.recipient_email,
            "subject": self.subject,
            "body": self.body,
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Notification:
        """Read the wire form back; a bad field raises [`InvalidInput`][]."""
        if not isinstance(data, dict):
            raise InvalidInput("notification", data, "expected a JSON object")
        missing = sorted(_WIRE_FIELDS - data.keys())
        if missing:
            raise InvalidInput("notification", missing, "missing fields")
        created = data["created_at"]
        try:
            instant = datetime.fromisoformat(created)
        except (TypeError, ValueError):
            raise InvalidInput("created_at", created, "expected an ISO-8601 instant") from None
        return cls(**{**{k: data[k] for k in _WIRE_FIELDS}, "created_at": instant})


_WIRE_FIELDS = frozenset(
    (
        "key",
        "goal_id",
        "contributor_id",
        "milestone_index",
        "event",
        "percent",
        "recipient_id",
        "recipient_email",
        "subject",
        "body",
        "created_at",
    )
)


# -- planning ----------------------------------------------------------------


def plan_notifications(
    previous: GoalReport | None,
    current: GoalReport,
    goal: Goal,
    directory: Directory,
    *,
    clock: WorkingClock = CALENDAR,
) -> tuple[Notification, ...]:
    """The notifications that the change from ``previous`` to ``current`` calls for.

    Only cell rows (one contributor, one milestone) notify, and only rows that
    were calculated now: a frozen row (expired, or of an inactive contributor)
    never does.  For each row, compared with the same row in ``previous`` (or
    with nothing when there was none):

    - ``ACHIEVED`` / ``EXCEEDED`` / ``MISSED``: the row reached that final status;
    - ``PROGRESS_CROSSED``: the progress percent rose to or past a threshold it
      was below; when one refresh crosses several, only the highest is sent;
      an infinitely good average crosses every threshold;
    - ``MILESTONE_STARTED``: the row became in progress;
    - ``AT_RISK``: the row's forecast (`servicegoals.forecast`, with ``clock``)
      is at risk and was not in ``previous``; its key names ``previous``'s
      calculation time, so a row that recovers and falls again notifies again.

    A user contributor is the recipient; a team's recipients are the active
    members of the team and its child teams ([`Directory.members`][]).
    Inactive or unknown users receive nothing.
    """
    _check_reports(previous, current, goal)
    if not isinstance(directory, Directory):
        raise InvalidInput("directory", directory, "expected a Directory")
    if not isinstance(clock, WorkingClock):
        raise InvalidInput("clock", clock, "expected a WorkingClock such as CALENDAR")
    risks = _Risks(previous, current, goal, clock)
    planned: list[Notification] = []
    for row in current.rows:
        if row.frozen is not None or row.contributor_id is None or row.milestone_index is None:
            continue
        old = previous.find_row(row.contributor_id, row.milestone_index) if previous else None
        fell = risks.fell(row.contributor_id, row.milestone_index)
        events = list(_events(goal, old, row, fell is not None))
        if not events:
            continue
        who, recipients = _recipients(goal, row.contributor_id, directory)
        for event, percent in events:
            risk = fell if event is NotificationEvent.AT_RISK else None
            planned.extend(
                _notification(goal, current, row, event, percent, user, who, risk)
                for user in recipients
            )
    return tuple(planned)


class _Risks:
    """Which rows fell at risk between two reports (only when the goal asks)."""

    def __init__(
        self, previous: GoalReport | None, current: GoalReport, goal: Goal, clock: WorkingClock
    ) -> None:
        on = goal.notifications.on_at_risk
        self.armed_at = None if previous is None else previous.calculated_at
        self.now = forecast(goal, current, clock=clock) if on else None
        self.before: GoalForecast | None = None
        if on and previous is not None:
            self.before = forecast(goal, previous, clock=clock)

    def fell(self, contributor_id: str, milestone_index: int) -> _Fall | None:
        """The row's fall when it is at risk now and was not before, else None."""
        now = None if self.now is None else self.now.find_row(contributor_id, milestone_index)
        if now is None or not now.at_risk:
            return None
        before = (
            None if self.before is None else self.before.find_row(contributor_id, milestone_index)
        )
        return None if before is not None and before.at_risk else _Fall(now, self.armed_at)


@frozen
class _Fall:
    """A row that fell at risk: its forecast, and when it was last not at risk."""

    forecast: RowForecast
    armed_at: datetime | None


def _check_reports(previous: GoalReport | None, current: GoalReport, goal: Goal) -> None:
    if not isinstance(goal, Goal):
        raise InvalidInput("goal", goal, "expected a Goal")
    _check_report_of(goal, "current", current)
    _check_report_of(goal, "previous", previous, optional=True)
    if previous is None:
        return
    if previous.calculated_at > current.calculated_at:
        raise InvalidInput(
            "previous.calculated_at",
            previous.calculated_at,
            f"after the current report's {current.calculated_at}",
        )


def _events(
    goal: Goal, old: Progress | None, row: Progress, fell: bool
) -> Iterator[tuple[NotificationEvent, int | None]]:
    settings = goal.notifications
    was = None if old is None else old.status
    if (
        settings.on_milestone_start
        and row.status is Status.IN_PROGRESS
        and was in (None, Status.PENDING)
    ):
        yield NotificationEvent.MILESTONE_STARTED, None
    crossed = [p for p in settings.progress_percents if _reached(row, p) and not _reached(old, p)]
    if crossed:
        yield NotificationEvent.PROGRESS_CROSSED, crossed[-1]
    if fell:
        yield NotificationEvent.AT_RISK, None
    final = _FINAL_EVENTS.get(row.status)
    if final is not None and row.status is not was and _selected(goal, row.status):
        yield final, None


def _reached(row: Progress | None, percent: int) -> bool:
    # A pending milestone has no progress yet, whatever its measurement says.
    if row is None or row.status is Status.PENDING:
        return False
    if row.infinite:
        return True
    return row.percent is not None and row.percent >= percent


def _selected(goal: Goal, status: Status) -> bool:
    settings = goal.notifications
    return {
        Status.ACHIEVED: settings.on_achieved,
        Status.EXCEEDED: settings.on_exceeded,
        Status.MISSED: settings.on_missed,
    }[status]


def _recipients(
    goal: Goal, contributor_id: str, directory: Directory
) -> tuple[str, tuple[User, ...]]:
    """Who the row is about, as the message names it, and who receives it."""
    contributor = goal.contributor(contributor_id)
    if contributor.kind is ContributorKind.TEAM:
        team = directory.find_team(contributor.id)
        if team is None:
            return "", ()
        return f"team {team.name}", tuple(u for u in directory.members(team.id) if u.active)
    user = directory.find_user(contributor.id)
    return "you", ((user,) if user is not None and user.active else ())


def _notification(
    goal: Goal,
    report: GoalReport,
    row: Progress,
    event: NotificationEvent,
    percent: int | None,
    user: User,
    who: str,
    fall: _Fall | None,
) -> Notification:
    assert row.contributor_id is not None
    assert row.milestone_index is not None
    subject, body = _text(goal, report, row, event, percent, user, who)
    if fall is not None:
        body += (
            f"Forecast: {fall.forecast.percent_text} at the milestone's end, below the "
            f"{goal.notifications.at_risk_below_percent}% you should reach.\n"
        )
    return Notification(
        key=notification_key(
            goal.id,
            row.contributor_id,
            row.milestone_index,
            event,
            percent,
            user.id,
            armed_at=None if fall is None else fall.armed_at,
        ),
        goal_id=goal.id,
        contributor_id=row.contributor_id,
        milestone_index=row.milestone_index,
        event=event,
        percent=percent,
        recipient_id=user.id,
        recipient_email=user.email,
        subject=subject,
        body=body,
        created_at=report.calculated_at,
    )


_HEADLINES = {
    NotificationEvent.ACHIEVED: "target achieved",
    NotificationEvent.EXCEEDED: "target exceeded",
    NotificationEvent.MISSED: "target missed",
    NotificationEvent.MILESTONE_STARTED: "milestone started",
    NotificationEvent.AT_RISK: "at risk",
}


def _text(
    goal: Goal,
    report: GoalReport,
    row: Progress,
    event: NotificationEvent,
    percent: int | None,
    user: User,
    who: str,
) -> tuple[str, str]:
    assert row.milestone_index is not None
    label = report.milestones[row.milestone_index].label
    headline = _HEADLINES.get(event) or f"progress reached {percent}%"
    subject = f"{goal.name} ({label}): {headline}"
    body = (
        f"Hello {user.name},\n\n"
        f"Goal {goal.name!r}, milestone {label}, for {who}: {headline}.\n"
        f"Status: {row.status.value.replace('_', ' ')}; progress {row.percent_text}.\n"
    )
    return subject, body
