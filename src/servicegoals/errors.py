"""The exception hierarchy: `servicegoals.errors`.

Every error the library raises derives from `ServiceGoalsError` and its message
names the field and the offending value, so that a user reading one line knows
what to fix.  The classes live here, in a public module, so that tracebacks and
the docs show the names users catch (as `cattrs.errors` and `svcs.exceptions` do).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = [
    "BadRow",
    "DataSourceError",
    "DeliveryError",
    "DeliveryTimeout",
    "GoalFileError",
    "ImmutableField",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "ServiceGoalsError",
    "StoreError",
    "UndeliverableError",
]

#: How much of a bad value a message shows: a hostile row is not a message.
SHOWN = 200


class ServiceGoalsError(Exception):
    """Base class of every error raised by servicegoals."""


class InvalidInput(ServiceGoalsError, ValueError):
    """A value given to the library is not acceptable.

    ``field`` names what was wrong (``"span.start"``, ``"targets.u7[3]"``) and
    ``value`` is the offending value.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (got {value!r})")


class ImmutableField(ServiceGoalsError):
    """An edit tried to change something that cannot change after creation."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field} cannot be changed: {reason} (got {value!r})")


class PermissionDenied(ServiceGoalsError):
    """The permission policy refused an action; ``rule`` names the rule."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(f"permission denied by rule {rule!r}: {message}")


class NotFound(ServiceGoalsError, LookupError):
    """A goal, contributor or row that was asked for does not exist."""

    def __init__(self, field: str, value: Any) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field}: no such item (got {value!r})")


class DataSourceError(ServiceGoalsError):
    """A ticket source could not read its data (a broken file, a bad row)."""


class StoreError(ServiceGoalsError):
    """A store could not read or write its data."""


class DeliveryError(ServiceGoalsError):
    """A notifier could not deliver a notification."""


class GoalFileError(InvalidInput):
    """A goal file could not be read or written.

    ``file`` is the file, ``field`` the place inside it (``goals[2].targets.u7[3]``,
    or ``line 4, column 9`` for a syntax error) and ``value`` the offending value.
    """

    def __init__(self, file: str | os.PathLike[str], field: str, value: Any, reason: str) -> None:
        super().__init__(field, value, reason)
        self.file = os.fspath(file)
        where = f"{self.file}: {field}" if field else self.file
        self.args = (f"{where}: {reason} (got {value!r})",)


class BadRow(DataSourceError):
    """A row of a ticket source that cannot be read.

    ``source`` names the file or database, ``place`` the row (``"line 7"``,
    ``"ticket 't1'"``), ``column`` the column (None for the whole row) and
    ``value`` the offending raw value.
    """

    def __init__(
        self, source: str, place: str, column: str | None, value: Any, reason: str
    ) -> None:
        self.source = source
        self.place = place
        self.column = column
        self.value = value
        self.reason = reason
        where = f"{source}, {place}" + ("" if column is None else f", column {column!r}")
        shown = repr(value)
        if len(shown) > SHOWN:  # a whole hostile row would make a message of megabytes
            shown = f"{shown[:SHOWN]}... ({len(shown)} characters)"
        super().__init__(f"{where}: {reason} (got {shown})")


class UndeliverableError(DeliveryError):
    """Delivery failed in a way that retrying cannot fix."""


class DeliveryTimeout(DeliveryError):
    """A notifier's `send` did not return within the tracker's delivery deadline."""
