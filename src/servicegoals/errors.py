"""The exception hierarchy: `servicegoals.errors`.

Every error the library raises derives from `ServiceGoalsError` and its message
names the field and the offending value, so that a user reading one line knows
what to fix.  The classes live here, in a public module, so that tracebacks and
the docs show the names users catch (as `cattrs.errors` and `svcs.exceptions` do).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DataSourceError",
    "DeliveryError",
    "ImmutableField",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "ServiceGoalsError",
    "StoreError",
]


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
