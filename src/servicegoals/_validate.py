"""Small validators shared by the domain classes; each raises InvalidInput."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, TypeGuard, TypeVar

from .errors import InvalidInput

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def aware(field: str, value: Any) -> datetime:
    """Return ``value`` if it is a time-zone aware datetime, else raise."""
    if not isinstance(value, datetime):
        raise InvalidInput(field, value, "expected a time-zone aware datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            field, value, "naive datetime: give a time zone, it is never assumed to be UTC"
        )
    return value


def instant(field: str, value: Any) -> datetime:
    """Return ``value`` if it is an aware datetime whose UTC time is representable.

    9999-12-31 23:00-05:00 is a valid local time, but in UTC it falls in year
    10000: it could be stored as epoch microseconds and then never read back.
    """
    moment = aware(field, value)
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(
            field, value, "outside the supported range in UTC (years 1 to 9999)"
        ) from None
    return moment


def plain_date(field: str, value: Any) -> date:
    """Return ``value`` if it is a date (and not a datetime), else raise."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidInput(field, value, "expected a date")
    return value


def text(field: str, value: Any, *, optional: bool = False) -> Any:
    """Return ``value`` if it is a non-empty string (or None when optional)."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidInput(field, value, "expected a non-empty string")
    return value


def identifier(field: str, value: Any, *, optional: bool = False) -> Any:
    """Return ``value`` if it is an id every store and database can keep.

    That is a non-empty string without NUL (PostgreSQL text cannot hold it, and
    SQLite compares it differently from Python) and without lone surrogates
    (not Unicode text: they cannot be encoded as UTF-8).
    """
    if value is None and optional:
        return None
    text(field, value)
    if "\x00" in value:
        raise InvalidInput(field, value, "an id cannot contain the NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(
                field, value, "an id cannot contain a lone surrogate (not valid Unicode)"
            ) from None
    return value


def whole(value: Any) -> TypeGuard[int]:
    """True for an int that is not a bool (``True`` is not the number 1 here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def integer(field: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` if it is an int (not a bool) within ``[low, high]``."""
    if not whole(value):
        raise InvalidInput(field, value, "expected an integer")
    if low is not None and value < low:
        raise InvalidInput(field, value, f"must be at least {low}")
    if high is not None and value > high:
        raise InvalidInput(field, value, f"must be at most {high}")
    return value


def flag(field: str, value: Any) -> bool:
    """Return ``value`` if it is a bool."""
    if not isinstance(value, bool):
        raise InvalidInput(field, value, "expected True or False")
    return value


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_Identified = TypeVar("_Identified", bound=_HasId)


def by_id(field: str, items: Iterable[Any], kind: type[_Identified]) -> dict[str, _Identified]:
    """``items`` keyed by id, in order; an item of another type or a repeated id is an error."""
    found: dict[str, _Identified] = {}
    for i, item in enumerate(items):
        if not isinstance(item, kind):
            raise InvalidInput(f"{field}[{i}]", item, f"expected a {kind.__name__}")
        if item.id in found:
            raise InvalidInput(f"{field}[{i}].id", item.id, f"duplicate {kind.__name__.lower()} id")
        found[item.id] = item
    return found


def to_us(value: datetime) -> int:
    """Epoch microseconds of an aware datetime, exactly (no float on the way)."""
    return (value - EPOCH) // MICROSECOND


def from_us(us: int) -> datetime:
    """The UTC datetime of epoch microseconds."""
    return EPOCH + timedelta(microseconds=us)


def duration_us(value: timedelta) -> int:
    """A timedelta in whole microseconds, exactly."""
    return value // MICROSECOND


# -- validator factories ------------------------------------------------------
# Composable attrs validators in the style of `attrs.validators`, each raising
# `InvalidInput` that names the field as users see it ("kpi.unit", not "unit").

#: An attrs validator: ``(instance, attribute, value)``, raising on a bad value.
Validator = Callable[[Any, Any, Any], None]


def require(field: str, value: Any, *kinds: type) -> None:
    """Raise `InvalidInput` naming ``field`` unless ``value`` is one of ``kinds``."""
    if not isinstance(value, kinds):
        wanted = " or ".join(k.__name__ for k in kinds)
        raise InvalidInput(field, value, f"expected a {wanted}")


def instance_of(field: str, *kinds: type) -> Validator:
    """The value is an instance of one of ``kinds``."""

    def check(instance: Any, attribute: Any, value: Any) -> None:
        require(field, value, *kinds)

    return check


def optional(validator: Validator) -> Validator:
    """``validator``, or None."""

    def check(instance: Any, attribute: Any, value: Any) -> None:
        if value is not None:
            validator(instance, attribute, value)

    return check


def in_(field: str, options: Iterable[Any]) -> Validator:
    """The value is one of ``options``."""
    allowed = tuple(options)

    def check(instance: Any, attribute: Any, value: Any) -> None:
        if value not in allowed:
            listed = ", ".join(repr(o) for o in allowed)
            raise InvalidInput(field, value, f"expected one of {listed}")

    return check


def deep_iterable(field: str, member: Callable[[str, Any], Any]) -> Validator:
    """Every item passes ``member(f"{field}[i]", item)``, a value check such as `text`."""

    def check(instance: Any, attribute: Any, value: Any) -> None:
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise InvalidInput(field, value, "expected a collection")
        for i, item in enumerate(value):
            member(f"{field}[{i}]", item)

    return check


def checked(check: Callable[..., Any], field: str, **options: Any) -> Validator:
    """A value check (`text`, `identifier`, `aware`, `integer`, `flag`) as a validator."""

    def validate(instance: Any, attribute: Any, value: Any) -> None:
        check(field, value, **options)

    return validate
