"""Helpers for testing code that uses servicegoals, in the spirit of ``structlog.testing``.

Import them in your own test suite::

    from hypothesis import given, strategies as st
    from servicegoals.testing import goals, tickets

    @given(goal=goals(), data=st.data())
    def test_my_report(goal, data):
        batch = data.draw(st.lists(tickets(goal), unique_by=lambda t: t.id))
        ...

Sections: assertions about servicegoals errors (`raises`); hypothesis
strategies for time zones and calendars, people, custom KPIs, goals and tickets; test
doubles that stand in for plug-ins.

The strategies need [hypothesis](https://hypothesis.readthedocs.io), which the
``testing`` extra installs (``pip install 'servicegoals[testing]'``); they are
loaded on first use.  ``raises``, ``CapturingNotifier``, ``ManualClock`` and
``InMemorySource`` need nothing beyond the library.

Every strategy here produces *valid* objects: whatever it draws passes the
library's own validation, so a failure in a test that uses them is a finding
about the code under test, not about the test data.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .errors import DeliveryError, ServiceGoalsError
from .notify import Notification
from .sources import InMemorySource

if TYPE_CHECKING:  # loaded lazily at run time: see __getattr__ below
    from ._strategies import (
        AMOUNT,
        CHANNELS,
        DUE,
        PIPELINES,
        TIERS,
        TRICKY_TIMEZONES,
        account_settings,
        directories,
        goals,
        kpis,
        notification_settings,
        periods,
        schedules,
        tickets,
        timezones,
    )

__all__ = [
    "AMOUNT",
    "CHANNELS",
    "DUE",
    "PIPELINES",
    "TIERS",
    "TRICKY_TIMEZONES",
    "CapturingNotifier",
    "InMemorySource",
    "ManualClock",
    "Raised",
    "account_settings",
    "directories",
    "goals",
    "kpis",
    "notification_settings",
    "periods",
    "raises",
    "schedules",
    "tickets",
    "timezones",
]

# == Assertions ================================================================

_ANY = object()


class Raised:
    """What `raises` caught; ``error`` is set when the block raised."""

    error: ServiceGoalsError | None = None


@contextmanager
def raises(kind: type[ServiceGoalsError], field: str, value: object = _ANY) -> Iterator[Raised]:
    """Assert that the block raises ``kind`` naming ``field`` and ``value``.

    Checks the error's ``field`` and ``value`` attributes (``value`` by type and
    equality, so ``True`` is not ``1``) and that its message shows both, which
    is the library's promise for every error it raises.
    """
    caught = Raised()
    try:
        yield caught
    except kind as exc:
        caught.error = exc
        _check_names(exc, field, value)
    else:
        raise AssertionError(f"{kind.__name__} naming {field!r} was not raised")


def _check_names(error: ServiceGoalsError, field: str, value: object) -> None:
    # Explicit raises rather than assert statements: python -O must not skip them.
    message = str(error)
    problems = []
    if getattr(error, "field", None) != field or field not in message:
        problems.append(f"does not name field {field!r}")
    if value is not _ANY:
        got = getattr(error, "value", _ANY)
        if type(got) is not type(value) or got != value or repr(value) not in message:
            problems.append(f"does not name value {value!r}")
    if problems:
        raise AssertionError(f"{type(error).__name__} {' and '.join(problems)}: {message}")


# == Test doubles: notifiers ==================================================


class CapturingNotifier:
    """A notifier that keeps what it is given, in the spirit of ``structlog.testing``.

    ``sent`` lists the notifications delivered, in order; ``attempts`` counts
    every call to `send`.  Make it fail with `DeliveryError` for the
    next ``fail_next`` calls, or for every call while ``failing`` is true, to
    test retries.  Appending to a list is atomic, so trackers in several
    threads may share one.
    """

    def __init__(self, *, channel: str = "capture", fail_next: int = 0) -> None:
        self.channel = channel
        self.sent: list[Notification] = []
        self.attempts = 0
        self.fail_next = fail_next
        self.failing = False

    def send(self, notification: Notification) -> None:
        self.attempts += 1
        if self.failing or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            raise DeliveryError(f"capture: refusing notification {notification.key} as asked")
        self.sent.append(notification)

    @property
    def keys(self) -> list[str]:
        """The keys of the delivered notifications, in order."""
        return [n.key for n in self.sent]


class ManualClock:
    """A clock that stands still until moved: pass it as a store's ``clock``.

    Calling it returns the current time; `advance` moves it forward, for
    example past a claim's lease, without waiting.
    """

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` and return the new time."""
        self.now += delta
        return self.now


# == The strategies, loaded when first asked for ==============================

_STRATEGIES = frozenset(
    {
        "AMOUNT",
        "CHANNELS",
        "DUE",
        "PIPELINES",
        "TIERS",
        "TRICKY_TIMEZONES",
        "account_settings",
        "directories",
        "goals",
        "kpis",
        "notification_settings",
        "periods",
        "schedules",
        "tickets",
        "timezones",
    }
)


def __getattr__(name: str) -> Any:
    """The hypothesis strategies, imported on first use (PEP 562)."""
    if name not in _STRATEGIES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        strategies = importlib.import_module("._strategies", __package__)
    except ModuleNotFoundError as exc:
        if exc.name != "hypothesis":
            raise
        raise ImportError(
            f"servicegoals.testing.{name} needs hypothesis: pip install 'servicegoals[testing]'"
        ) from None
    return getattr(strategies, name)
