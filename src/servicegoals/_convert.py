"""The library's one cattrs converter: goals and reports to plain data and back.

Plain data is what JSON and TOML can both hold: tables with string keys, lists,
strings, integers and booleans.  A value that is None is left out (TOML has no
null); a missing target cell is the empty table ``{}``.  Serialisation lives
here, not in the domain classes, as cattrs recommends.

The formats, chosen so that a round trip is exact and a person can read them:

* instants: ISO-8601 strings with an offset, ``"2026-04-01T00:00:00+02:00"``
  (TOML's native offset date-times are accepted too); a naive one is refused;
* durations: ISO-8601 durations in days, hours, minutes and seconds, exact to
  the microsecond: ``"PT4H"``, ``"P1DT2H30M"``, ``"PT0.000001S"``; years and
  months are refused (they have no fixed length), and so are bare integers (is
  ``4`` four hours or four microseconds?);
* exact fractions: ``"n/d"`` (or ``"n"``) strings, or ``[n, d]``;
* KPIs by key (``"closed_tickets"``), enums by value, weekdays by name.

Every error is an [`InvalidInput`][servicegoals.errors.InvalidInput] whose ``field`` is the
path inside the document, such as ``goals[2].targets.u7[3]``: cattrs' detailed
validation collects the problems as exception groups and `_locate`
turns the first one into that single located error.
"""

from __future__ import annotations

import enum
import re
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn

from ._validate import whole
from .calendar import (
    AccountSettings,
    Cadence,
    Milestone,
    Period,
    Weekday,
    date_range,
    milestones,
    weekday,
)
from .clock import DEFAULT_POLICY, ClockPolicy, Resolution
from .errors import InvalidInput, ServiceGoalsError
from .goals import Contributor, Directory, Goal, NotificationSettings, Target, Team, User
from .kpis import (
    KPI_TEMPLATES,
    Aggregation,
    Contribution,
    Direction,
    Kpi,
    Measurement,
    TicketEvent,
    Unit,
    kpi_by_key,
)
from .status import GoalReport
from .worktime import CALENDAR, CalendarClock, Holidays, Schedule, WorkingClock

__all__ = [
    "directory_from_dict",
    "directory_to_dict",
    "format_duration",
    "goal_from_dict",
    "goal_to_dict",
    "parse_duration",
    "report_from_dict",
    "report_to_dict",
    "schedule_from_dict",
    "schedule_to_dict",
    "settings_from_dict",
    "settings_to_dict",
]

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)


class _Bad(Exception):
    """A bad value at the current place in the document (the path is added later)."""

    def __init__(self, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.value = value
        self.reason = reason


_converter = cattrs.Converter(
    detailed_validation=True,
    forbid_extra_keys=True,
    # Sets are written sorted, so that a file's text does not depend on hashing.
    unstruct_collection_overrides={Set: sorted, Sequence: list},
)


# -- leaves ------------------------------------------------------------------


def _str(value: Any, _: Any = None) -> str:
    if not isinstance(value, str):
        raise _Bad(value, "expected a string")
    return value


def _int(value: Any, _: Any = None) -> int:
    if not whole(value):
        raise _Bad(value, "expected an integer")
    return value


def _bool(value: Any, _: Any = None) -> bool:
    if not isinstance(value, bool):
        raise _Bad(value, "expected true or false")
    return value


def _instant(value: Any, _: Any = None) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _Bad(
                value, "expected an ISO-8601 date-time such as '2026-04-01T00:00:00+02:00'"
            ) from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise _Bad(value, "expected an ISO-8601 date-time string with an offset")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _Bad(value, "naive date-time: give an offset such as +00:00; UTC is never assumed")
    return parsed


_DURATION = re.compile(
    r"(?P<sign>-)?P(?:(?P<weeks>[0-9]+)W)?(?:(?P<days>[0-9]+)D)?"
    r"(?:T(?=[0-9])(?:(?P<hours>[0-9]+)H)?(?:(?P<minutes>[0-9]+)M)?"
    r"(?:(?P<seconds>[0-9]+)(?:[.,](?P<fraction>[0-9]{1,6}))?S)?)?"
)
_NOMINAL = re.compile(r"-?P(?:[^T]*[YM])")


def parse_duration(text: str) -> timedelta:
    """An ISO-8601 duration (``"PT4H"``, ``"P1DT30M"``, ``"-PT0.5S"``) as a timedelta.

    Weeks, days, hours, minutes and seconds with up to six decimals; years and
    months are refused because they have no fixed length.
    """
    found = _DURATION.fullmatch(text) if isinstance(text, str) else None
    parts = found.groupdict() if found else {}
    if not any(v for k, v in parts.items() if k != "sign"):
        reason = "expected an ISO-8601 duration such as 'PT4H' or 'P1DT12H'"
        if isinstance(text, str) and _NOMINAL.match(text):
            reason = "years and months have no fixed length; give days, hours, minutes, seconds"
        raise InvalidInput("duration", text, reason)
    try:
        value = timedelta(
            weeks=int(parts["weeks"] or 0),
            days=int(parts["days"] or 0),
            hours=int(parts["hours"] or 0),
            minutes=int(parts["minutes"] or 0),
            seconds=int(parts["seconds"] or 0),
            microseconds=int((parts["fraction"] or "").ljust(6, "0")),
        )
    except OverflowError:
        raise InvalidInput("duration", text, "too long for a timedelta") from None
    return -value if parts["sign"] else value


def format_duration(value: timedelta) -> str:
    """A timedelta as an exact ISO-8601 duration: ``"PT4H"``, ``"P2DT0.5S"``."""
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = f"{hours}H" if hours else ""
    clock += f"{minutes}M" if minutes else ""
    if seconds or value.microseconds:
        clock += f"{seconds}.{value.microseconds:06d}".rstrip("0").rstrip(".") + "S"
    date_part = f"{value.days}D" if value.days else ""
    if not clock and not date_part:
        clock = "0S"
    return f"{sign}P{date_part}" + (f"T{clock}" if clock else "")


def _duration(value: Any, _: Any = None) -> timedelta:
    if not isinstance(value, str):
        raise _Bad(value, "expected an ISO-8601 duration string such as 'PT4H'")
    try:
        return parse_duration(value)
    except InvalidInput as exc:
        raise _Bad(value, exc.reason) from None


_FRACTION = re.compile(r"(-?[0-9]+)(?:/([0-9]+))?")


def _fraction(value: Any, _: Any = None) -> Fraction:
    if whole(value):
        return Fraction(value)
    pair: tuple[Any, ...] = ()
    if isinstance(value, str) and (found := _FRACTION.fullmatch(value)):
        pair = (int(found[1]), int(found[2] or 1))
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        pair = tuple(value)
    exact = len(pair) == 2 and all(whole(p) for p in pair)
    if exact and pair[1] > 0:
        return Fraction(pair[0], pair[1])
    raise _Bad(value, "expected an exact number: an integer, 'n/d' or [n, d] with d > 0")


def _amount(value: Any, _: Any = None) -> int | Fraction:
    """A report amount: an int, or a fraction when it is not whole."""
    exact = _fraction(value)
    return exact.numerator if exact.denominator == 1 else exact


def _enum(kind: type[E]) -> Callable[[Any], E]:
    def structure(value: Any) -> E:
        try:
            return kind(_str(value))
        except ValueError:
            known = ", ".join(m.value for m in kind)
            raise _Bad(value, f"unknown {kind.__name__}; known: {known}") from None

    return structure


def _threshold(value: Any) -> int | timedelta:
    return _int(value) if isinstance(value, int) else _duration(value)


def _where_in(value: Any) -> dict[str, list[Any]]:
    """Property name to its allowed values; `Kpi` checks the values and names the
    property of a bad one."""
    table = _table(value, "where: property = allowed values")
    return {_str(k): x if isinstance(x, list) else [x] for k, x in table.items()}


#: A custom KPI's table in a goal file: key, (required, structure).
_KPI_FIELDS: dict[str, tuple[bool, Callable[[Any], Any]]] = {
    "key": (True, _str),
    "label": (True, _str),
    "unit": (True, _enum(Unit)),
    "direction": (True, _enum(Direction)),
    "event": (False, _enum(TicketEvent)),
    "contribution": (False, _enum(Contribution)),
    "aggregation": (False, _enum(Aggregation)),
    "start": (False, _enum(TicketEvent)),
    "threshold": (False, _threshold),
    "percentile": (False, lambda v: _int(v) if isinstance(v, int) else _fraction(v)),
    "value_property": (False, _str),
    "event_property": (False, _str),
    "where": (False, _where_in),
}


def _kpi(value: Any, _: Any = None) -> Kpi:
    """A template's key, or a custom KPI's table (by value)."""
    if isinstance(value, Mapping):
        got = _fields(value, Kpi, _KPI_FIELDS)
        try:
            return Kpi(**got)
        except InvalidInput as exc:  # located at the KPI field it names, ``where['x']`` too
            name = exc.field.removeprefix("kpi.")
            note = AttributeValidationNote(f"@ attribute {name}", name, Kpi)
            bad = _note(_Bad(exc.value, exc.reason), note)
            raise ClassValidationError("While structuring Kpi", [bad], Kpi) from None
    try:
        return kpi_by_key(_str(value))
    except InvalidInput as exc:
        raise _Bad(value, exc.reason) from None


def _kpi_key(kpi: Kpi) -> str | dict[str, Any]:
    """A template by its key; any other KPI by value, as a table."""
    if KPI_TEMPLATES.get(kpi.key) == kpi:
        return kpi.key
    table: dict[str, Any] = {}
    for a in attrs.fields(Kpi):
        value = getattr(kpi, a.name)
        if not a.init or value is None or value == ():
            continue
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, timedelta):
            value = format_duration(value)
        elif isinstance(value, Fraction):
            value = value.numerator if value.denominator == 1 else str(value)
        elif a.name == "where":
            value = {k: sorted(v, key=repr) for k, v in value}
        table[a.name] = value
    return table


def _measurement_out(m: Measurement) -> dict[str, Any]:
    """Count and total, and a custom KPI's extra fields only when set."""
    out: dict[str, Any] = {"count": m.count, "total": m.total}
    if m.within:
        out["within"] = m.within
    for name in ("low", "high", "values"):
        if getattr(m, name) is not None:
            out[name] = getattr(m, name) if name != "values" else list(m.values or ())
    return out


def _weekday(value: Any, _: Any = None) -> Weekday:
    if isinstance(value, Weekday):  # plain data holds names and numbers only
        raise _Bad(value, "expected a weekday name such as 'monday'")
    try:
        return weekday(value)
    except InvalidInput:
        raise _Bad(value, "expected a weekday name such as 'monday'") from None


def _enum_hook(cl: type[enum.Enum]) -> Callable[[Any, Any], enum.Enum]:
    values = {member.value: member for member in cl}

    def structure(value: Any, _: Any) -> enum.Enum:
        if isinstance(value, str) or whole(value):
            member = values.get(value)
            if member is not None and type(member.value) is type(value):
                return member
        raise _Bad(value, f"expected one of {', '.join(repr(v) for v in values)}")

    return structure


# -- containers --------------------------------------------------------------


def _note(exc: Exception, note: str) -> Exception:
    exc.add_note(note)
    return exc


def _each(values: Iterable[Any], structure: Callable[[Any], T], cl: Any) -> list[T]:
    """Structure every item, collecting failures (with their index) as cattrs does."""
    done: list[T] = []
    errors: list[Exception] = []
    for i, value in enumerate(values):
        try:
            done.append(structure(value))
        except Exception as exc:
            errors.append(_note(exc, IterableValidationNote(f"@ index {i}", i, cl)))
    if errors:
        raise IterableValidationError(f"While structuring {cl!r}", errors, cl)
    return done


def _is_collection(t: Any) -> bool:
    origin, args = typing.get_origin(t), typing.get_args(t)
    return origin is frozenset or (origin is tuple and len(args) == 2 and args[1] is Ellipsis)


def _collection_hook(t: Any) -> Callable[[Any, Any], Any]:
    origin, item = typing.get_origin(t), typing.get_args(t)[0]

    def structure(value: Any, _: Any) -> Any:
        # A string is iterable, but "abc" is never meant as ["a", "b", "c"].
        if not isinstance(value, (list, tuple)):
            raise _Bad(value, "expected a list")
        return origin(_each(value, lambda v: _converter.structure(v, item), t))

    return structure


def _is_optional(t: Any) -> bool:
    return typing.get_origin(t) in (typing.Union, type(int | None)) and type(None) in (
        typing.get_args(t)
    )


def _table(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Bad(value, f"expected a table ({what})")
    return value


def _attrs_structure_hook(cl: type) -> Callable[[Any, Any], Any]:
    """cattrs' generated structuring, after checking for a table.

    Optional attributes without a default may be left out (None is never written).
    """
    attrs.resolve_types(cl)
    generated: Callable[[Any, Any], Any] = make_dict_structure_fn(cl, _converter)
    implicit = {
        a.name: None
        for a in attrs.fields(cl)
        if a.init and a.default is attrs.NOTHING and _is_optional(a.type)
    }

    def structure(value: Any, _: Any) -> Any:
        table = _table(value, cl.__name__)
        return generated({**implicit, **table}, cl)

    return structure


def _attrs_unstructure_hook(cl: type) -> Callable[[Any], dict[str, Any]]:
    generated: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(cl, _converter)

    def unstructure(value: Any) -> dict[str, Any]:
        return {k: v for k, v in generated(value).items() if v is not None}

    return unstructure


def _fields(
    value: Any, cl: type, spec: Mapping[str, tuple[bool, Callable[[Any], Any]]]
) -> dict[str, Any]:
    """Structure a hand-written table: ``spec`` maps key to (required, structure).

    Problems are collected per key with cattrs' notes, and unknown keys refused,
    like cattrs' own generated functions do.
    """
    table = _table(value, cl.__name__)
    done: dict[str, Any] = {}
    errors: list[Exception] = []
    for key, (required, structure) in spec.items():
        note = AttributeValidationNote(f"@ attribute {key}", key, cl)
        if key not in table or table[key] is None:
            if required:
                errors.append(_note(KeyError(key), note))
            continue
        try:
            done[key] = structure(table[key])
        except Exception as exc:
            errors.append(_note(exc, note))
    for key in sorted(set(map(str, table)) - set(spec)):
        errors.append(InvalidInput(_key(key), key, _unknown_key(spec)))
    if errors:
        raise ClassValidationError(f"While structuring {cl.__name__}", errors, cl)
    return done


def _unknown_key(known: Iterable[str]) -> str:
    return f"unknown key (known keys: {', '.join(sorted(known))})"


def _as(t: Any) -> Callable[[Any], Any]:
    return lambda value: _converter.structure(value, t)


# -- milestones, targets and goals -------------------------------------------


def _milestones(value: Any, _: Any = None) -> tuple[Milestone, ...]:
    if not isinstance(value, (list, tuple)):
        raise _Bad(value, "expected a list of milestones")
    spec = {"label": (True, _str), "start": (True, _instant), "end": (True, _instant)}

    def one(index: int, item: Any) -> Milestone:
        got = _fields(item, Milestone, spec)
        return Milestone(index, Period(got["start"], got["end"]), got["label"])

    return tuple(_each(enumerate(value), lambda pair: one(*pair), tuple[Milestone, ...]))


def _milestones_out(value: Iterable[Milestone]) -> list[dict[str, str]]:
    return [
        {"label": m.label, "start": m.period.start.isoformat(), "end": m.period.end.isoformat()}
        for m in value
    ]


def _target_amount(value: Any, unit: Unit) -> int | timedelta:
    if unit is Unit.COUNT:
        if isinstance(value, str):
            raise _Bad(value, "a count goal's target is a whole number of tickets")
        return _int(value)
    if unit is Unit.PERCENT:
        if isinstance(value, str):
            raise _Bad(value, "a percent goal's target is a whole percent")
        return _int(value)
    if whole(value):
        raise _Bad(value, "a duration goal's target is an ISO-8601 duration such as 'PT4H'")
    return _duration(value)


def _target(value: Any, unit: Unit) -> Target | None:
    """A target cell: an amount, ``{amount, pipeline}``, or empty for no target."""
    if value is None or (isinstance(value, Mapping) and not value):
        return None
    if isinstance(value, Mapping):
        got = _fields(
            value,
            Target,
            {"amount": (True, lambda v: _target_amount(v, unit)), "pipeline": (False, _str)},
        )
        try:
            return Target(**got)
        except InvalidInput as exc:  # "target.amount" -> "amount": the key in the table
            raise InvalidInput(exc.field.rpartition(".")[2], exc.value, exc.reason) from None
    amount = _target_amount(value, unit)
    try:
        return Target(amount)
    except InvalidInput as exc:
        raise _Bad(value, exc.reason) from None


def _target_out(target: Target | None) -> Any:
    if target is None:
        return {}
    amount = _converter.unstructure(target.amount)
    return amount if target.pipeline is None else {"amount": amount, "pipeline": target.pipeline}


def _target_row(value: Any, count: int, unit: Unit) -> tuple[Target | None, ...]:
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise _Bad(value, f"expected {count} targets, one per milestone, got {len(value)}")
        return tuple(_each(value, lambda v: _target(v, unit), list[Target | None]))
    # One amount (or cell) for every milestone: the product's "apply target".
    return (_target(value, unit),) * count


def _targets(
    value: Any, contributors: Sequence[Contributor], count: int, unit: Unit
) -> tuple[tuple[Target | None, ...], ...]:
    table = _table(value, "contributor id = targets")
    known = [c.id for c in contributors]
    for key in table:
        if key not in known:
            raise InvalidInput(_key(key), key, f"not a contributor of this goal ({known})")
    rows: list[tuple[Target | None, ...]] = []
    errors: list[Exception] = []
    for c in contributors:
        try:
            rows.append(_target_row(table.get(c.id), count, unit))
        except Exception as exc:
            errors.append(_note(exc, IterableValidationNote(f"@ key {c.id!r}", c.id, Target)))
    if errors:
        raise IterableValidationError("While structuring targets", errors, dict)
    return tuple(rows)


def _span(value: Any, settings: AccountSettings | None) -> Period:
    """``{start, end}`` instants, or inclusive ``{first_day, last_day}`` dates."""
    table = _table(value, "span")
    if "first_day" not in table and "last_day" not in table:
        span: Period = _converter.structure(table, Period)
        return span
    if settings is None:
        raise _Bad(value, "first_day/last_day need an [account] table for the time zone")
    got = _fields(table, Period, {"first_day": (True, _day), "last_day": (True, _day)})
    return date_range(got["first_day"], got["last_day"], settings)


def _day(value: Any) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise _Bad(value, "expected a date such as '2026-01-31'") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise _Bad(value, "expected a date such as 2026-01-31")


_PERIOD_PART = re.compile(r"(milestones\[\d+\])\.period\.")


def _checked_goal(**parts: Any) -> Goal:
    """``Goal(**parts)``, naming a milestone's ``start`` and ``end`` as the file does."""
    try:
        return Goal(**parts)
    except InvalidInput as exc:
        field = _PERIOD_PART.sub(r"\1.", exc.field)
        raise InvalidInput(field, exc.value, exc.reason) from None


def _goal(
    value: Any,
    settings: AccountSettings | None,
    created_at: datetime | None = None,
    schedules: Mapping[str, Schedule] | None = None,
) -> Goal:
    got = _fields(
        value,
        Goal,
        {
            "id": (True, _str),
            "name": (True, _str),
            "kpi": (True, _kpi),
            "cadence": (True, _as(Cadence)),
            "align_to_fiscal_year": (False, _bool),
            "pipelines": (False, _as(frozenset[str])),
            "created_at": (created_at is None, _instant),
            "created_by": (False, _str),
            "span": (True, lambda v: _span(v, settings)),
            "contributors": (True, _as(tuple[Contributor, ...])),
            "notifications": (False, _as(NotificationSettings)),
            "targets": (False, lambda v: v),  # needs the contributors: checked below
            "milestones": (False, _milestones),
            "clock": (False, lambda v: _clock_policy(v, schedules or {})),
        },
    )
    aligned = got.get("align_to_fiscal_year", False)
    if "milestones" not in got:
        if settings is None:
            raise InvalidInput(
                "milestones",
                None,
                "missing: list the milestones, or give an [account] table to compute them",
            )
        got["milestones"] = milestones(
            got["cadence"], got["span"], settings, align_to_fiscal_year=aligned
        )
    count = len(got["milestones"])
    # Build without targets first: a broken span, milestone list or contributor
    # list is reported as such, not as a targets problem that follows from it.
    goal = _checked_goal(
        id=got["id"],
        name=got["name"],
        kpi=got["kpi"],
        cadence=got["cadence"],
        span=got["span"],
        align_to_fiscal_year=aligned,
        milestones=got["milestones"],
        contributors=got["contributors"],
        pipelines=got.get("pipelines", frozenset()),
        targets=[(None,) * count for _ in got["contributors"]],
        notifications=got.get("notifications", NotificationSettings()),
        created_at=got.get("created_at", created_at),
        created_by=got.get("created_by"),
        clock_policy=got.get("clock", DEFAULT_POLICY),
    )
    try:
        rows = _targets(got.get("targets", {}), goal.contributors, count, goal.kpi.unit)
    except Exception as exc:
        note = AttributeValidationNote("@ attribute targets", "targets", Goal)
        raise ClassValidationError("While structuring Goal", [_note(exc, note)], Goal) from None
    return attrs.evolve(goal, targets=rows)


def _goal_out(goal: Goal) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": goal.id,
        "name": goal.name,
        "kpi": _kpi_key(goal.kpi),
        "cadence": goal.cadence.value,
        "align_to_fiscal_year": goal.align_to_fiscal_year,
        "pipelines": sorted(goal.pipelines),
        "created_at": goal.created_at.isoformat(),
        "created_by": goal.created_by,
        "span": _converter.unstructure(goal.span),
        "contributors": _converter.unstructure(goal.contributors, tuple[Contributor, ...]),
        "notifications": _converter.unstructure(goal.notifications),
        "targets": {
            c.id: [_target_out(t) for t in row]
            for c, row in zip(goal.contributors, goal.targets, strict=True)
        },
        "milestones": _milestones_out(goal.milestones),
        "clock": _clock_policy_out(goal.clock_policy),
    }
    return {k: v for k, v in out.items() if v is not None}


# -- schedules ---------------------------------------------------------------

_WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _holidays(value: Any) -> dict[str, Any]:
    return _fields(
        value,
        Holidays,
        {
            "dates": (False, lambda v: _each(_list(v), _day, list[date])),
            "country": (False, _str),
            "subdivision": (False, _str),
        },
    )


def _list(value: Any) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise _Bad(value, "expected a list")
    return list(value)


def _schedule(value: Any, _: Any = None) -> Schedule:
    """``{timezone, week: {mon: [["09:00", "17:00"]], ...}, holidays: {dates, country}}``."""
    got = _fields(
        value,
        Schedule,
        {
            "timezone": (True, _str),
            "week": (True, lambda v: dict(_table(v, "day = list of [start, end] slots"))),
            "holidays": (False, _holidays),
        },
    )
    days, holidays = got["week"], got.get("holidays", {})
    try:
        return Schedule.weekly(
            got["timezone"],
            holidays=holidays.get("dates", ()),
            country=holidays.get("country"),
            subdivision=holidays.get("subdivision"),
            **days,
        )
    except InvalidInput as exc:  # a day's slots: "mon[0].end" is "week.mon[0].end" here
        day = re.split(r"[.\[]", exc.field, maxsplit=1)[0]
        field = f"week.{exc.field}" if day in days else exc.field
        raise InvalidInput(field, exc.value, exc.reason) from None


def _schedule_out(schedule: Schedule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "timezone": schedule.timezone,
        "week": {
            key: [list(slot.clock_times()) for slot in slots]
            for key, slots in zip(_WEEKDAY_KEYS, schedule.week, strict=True)
            if slots
        },
    }
    found = schedule.holidays
    holidays = {
        "dates": [day.isoformat() for day in sorted(found.dates)],
        "country": found.country,
        "subdivision": found.subdivision,
    }
    holidays = {k: v for k, v in holidays.items() if v}
    if holidays:
        out["holidays"] = holidays
    return out


#: Written only when they differ from these defaults, so that goal files that
#: do not use at-risk alerts stay readable by versions that predate them.
_AT_RISK_DEFAULTS = {"on_at_risk": False, "at_risk_below_percent": 100, "at_risk_after_percent": 25}


def _notifications_out(value: NotificationSettings) -> dict[str, Any]:
    data = _notifications_fields(value)
    return {
        k: v for k, v in data.items() if k not in _AT_RISK_DEFAULTS or _AT_RISK_DEFAULTS[k] != v
    }


_notifications_fields = _attrs_unstructure_hook(NotificationSettings)


def _schedule_ref(value: Any, named: Mapping[str, Schedule]) -> Schedule:
    """A schedule written inline, or the name of one of the file's ``[schedules]``."""
    if isinstance(value, str):
        if value not in named:
            known = ", ".join(sorted(named)) or "none"
            raise _Bad(value, f"no such schedule (the file's [schedules]: {known})")
        return named[value]
    return _schedule(value)


def _clock_policy(value: Any, named: Mapping[str, Schedule]) -> ClockPolicy:
    """A goal's ``clock`` table: schedule, team schedules, paused statuses, resolution."""

    def schedule(v: Any) -> Schedule:
        return _schedule_ref(v, named)

    def team_schedules(v: Any) -> dict[str, Schedule]:
        teams = _table(v, "team id = schedule")
        return _fields(teams, dict, {str(k): (True, schedule) for k in teams})

    got = _fields(
        value,
        ClockPolicy,
        {
            "schedule": (False, schedule),
            "team_schedules": (False, team_schedules),
            "paused_statuses": (False, _as(frozenset[str])),
            "resolution": (False, _as(Resolution)),
        },
    )
    return ClockPolicy(
        clock=got.pop("schedule", CALENDAR), team_clocks=got.pop("team_schedules", {}), **got
    )


def _written_clock(field: str, clock: WorkingClock) -> dict[str, Any]:
    if not isinstance(clock, Schedule):
        raise InvalidInput(field, clock, "only a Schedule can be written to a goal file")
    return _schedule_out(clock)


def _clock_policy_out(policy: ClockPolicy) -> dict[str, Any] | None:
    if policy == DEFAULT_POLICY:
        return None  # today's behaviour: no table
    out: dict[str, Any] = {}
    if not isinstance(policy.clock, CalendarClock):
        out["schedule"] = _written_clock("clock_policy.clock", policy.clock)
    if policy.team_clocks:
        out["team_schedules"] = {
            team: _written_clock(f"clock_policy.team_clocks.{team}", clock)
            for team, clock in policy.team_clocks
        }
    out["paused_statuses"] = sorted(policy.paused_statuses)
    out["resolution"] = policy.resolution.value
    return out


def _register() -> None:
    c = _converter
    # Later registrations win: general factories first, then the specific hooks.
    c.register_structure_hook_factory(attrs.has, _attrs_structure_hook)
    c.register_unstructure_hook_factory(attrs.has, _attrs_unstructure_hook)
    c.register_structure_hook_factory(_is_collection, _collection_hook)
    c.register_structure_hook_factory(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), _enum_hook
    )
    for cl, structure in ((str, _str), (int, _int), (bool, _bool), (datetime, _instant)):
        c.register_structure_hook(cl, structure)
    c.register_structure_hook(timedelta, _duration)
    c.register_structure_hook(Fraction, _fraction)
    c.register_structure_hook_func(lambda t: t == (int | Fraction), _amount)
    c.register_structure_hook(Kpi, _kpi)
    c.register_structure_hook(Weekday, _weekday)
    c.register_structure_hook_func(lambda t: t == tuple[Milestone, ...], _milestones)
    c.register_structure_hook(Goal, lambda v, _: _goal(v, None))
    c.register_unstructure_hook(datetime, datetime.isoformat)
    c.register_unstructure_hook(timedelta, format_duration)
    c.register_unstructure_hook(Fraction, str)
    c.register_unstructure_hook(Kpi, _kpi_key)
    c.register_unstructure_hook(Measurement, _measurement_out)
    c.register_unstructure_hook(Weekday, lambda w: w.name.lower())
    c.register_unstructure_hook_func(lambda t: t == tuple[Milestone, ...], _milestones_out)
    c.register_unstructure_hook(Goal, _goal_out)
    c.register_structure_hook(Schedule, _schedule)
    c.register_unstructure_hook(Schedule, _schedule_out)
    c.register_unstructure_hook(NotificationSettings, _notifications_out)


_register()


# -- errors ------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(key: Any) -> str:
    """A table key as it appears in a path: bare when it can be, else quoted."""
    text = str(key)
    return text if _BARE_KEY.fullmatch(text) else '"' + text.replace('"', '\\"') + '"'


def _join(path: str, field: str) -> str:
    if not field:
        return path
    if not path or field.startswith("["):
        return path + field
    return f"{path}.{field}"


def _within(cl: type, field: str) -> str:
    """A domain constructor's field name, relative to the table of ``cl``.

    Constructors name fields relative to themselves (``end``) or after a prefix
    that names the object (``contributor.id``, ``notifications.progress_percents``).
    """
    first = re.split(r"[.\[]", field, maxsplit=1)[0]
    if not attrs.has(cl) or first in attrs.fields_dict(cl) or "." not in field:
        return field
    return field.split(".", 1)[1]


def _locate(exc: BaseException, where: str) -> InvalidInput:
    """The first problem in cattrs' exception groups as one located InvalidInput."""
    path, owner = where, None
    while isinstance(exc, BaseValidationError) and exc.exceptions:
        sub = exc.exceptions[0]
        notes = [
            n
            for n in getattr(sub, "__notes__", ())
            if isinstance(n, (AttributeValidationNote, IterableValidationNote))
        ]
        if not notes:  # the class's constructor refused, or unknown keys
            owner = exc.cl
        elif isinstance(notes[-1], AttributeValidationNote):
            path, owner = _join(path, notes[-1].name), None
        elif isinstance(notes[-1].index, int):
            path, owner = f"{path}[{notes[-1].index}]", None
        else:
            path, owner = _join(path, _key(notes[-1].index)), None
        exc = sub
    if isinstance(exc, ForbiddenExtraKeysError):
        key = sorted(map(str, exc.extra_fields))[0]
        known = attrs.fields_dict(exc.cl) if attrs.has(exc.cl) else {}
        return InvalidInput(_join(path, _key(key)), key, _unknown_key(known))
    if isinstance(exc, _Bad):
        return InvalidInput(path, exc.value, exc.reason)
    if isinstance(exc, InvalidInput):
        field = exc.field if owner is None else _within(owner, exc.field)
        return InvalidInput(_join(path, field), exc.value, exc.reason)
    if isinstance(exc, KeyError):
        return InvalidInput(path, None, "a required key is missing")
    if isinstance(exc, ServiceGoalsError):
        return InvalidInput(path, getattr(exc, "value", None), str(exc))
    return InvalidInput(path, None, f"{type(exc).__name__}: {exc}")


def _structured(where: str, structure: Callable[[], T]) -> T:
    try:
        return structure()
    except (InvalidInput, _Bad, BaseValidationError, KeyError, TypeError, ValueError) as exc:
        raise _locate(exc, where) from None


# -- the public functions ----------------------------------------------------


def goal_to_dict(goal: Goal) -> dict[str, Any]:
    """A goal as plain data (JSON- and TOML-ready); `goal_from_dict` reverses it."""
    if not isinstance(goal, Goal):
        raise InvalidInput("goal", goal, "expected a Goal")
    return _goal_out(goal)


def goal_from_dict(
    data: Any,
    *,
    where: str = "goal",
    settings: AccountSettings | None = None,
    created_at: datetime | None = None,
    schedules: Mapping[str, Schedule] | None = None,
) -> Goal:
    """The goal that ``data`` describes; errors name the path from ``where``.

    ``milestones`` may be left out when ``settings`` (the account's calendar) is
    given: they are then computed as `Goal.create` does, and the span may
    be given as inclusive dates ``{first_day, last_day}`` in the account's zone.
    ``created_at`` may be left out when a default ``created_at`` is given.
    ``schedules`` are the named schedules a ``clock`` table may refer to.
    """
    return _structured(where, lambda: _goal(data, settings, created_at, schedules))


def report_to_dict(report: GoalReport) -> dict[str, Any]:
    """A report as plain data; `report_from_dict` reverses it exactly."""
    if not isinstance(report, GoalReport):
        raise InvalidInput("report", report, "expected a GoalReport")
    data: dict[str, Any] = _converter.unstructure(report, GoalReport)
    return data


def report_from_dict(data: Any, *, where: str = "report") -> GoalReport:
    """The report that ``data`` describes; errors name the path from ``where``."""
    return _structured(where, lambda: _converter.structure(data, GoalReport))


def settings_to_dict(settings: AccountSettings) -> dict[str, Any]:
    """Account settings as plain data (an ``[account]`` table)."""
    data: dict[str, Any] = _converter.unstructure(settings, AccountSettings)
    return data


def settings_from_dict(data: Any, *, where: str = "account") -> AccountSettings:
    """Account settings from plain data: timezone, fiscal year start, week start."""
    return _structured(where, lambda: _converter.structure(data, AccountSettings))


def schedule_to_dict(schedule: Schedule) -> dict[str, Any]:
    """A schedule as plain data; `schedule_from_dict` reverses it exactly."""
    if not isinstance(schedule, Schedule):
        raise InvalidInput("schedule", schedule, "expected a Schedule")
    return _schedule_out(schedule)


def schedule_from_dict(data: Any, *, where: str = "schedule") -> Schedule:
    """The schedule that ``data`` describes; errors name the path from ``where``.

    ``{"timezone": "America/New_York", "week": {"mon": [["09:00", "17:00"]]},
    "holidays": {"dates": ["2026-12-24"], "country": "US", "subdivision": "NY"}}``:
    days ``mon`` .. ``sun`` (or ``mon_fri``, ``sat_sun``, ``every_day``) list
    ``[start, end]`` local times; a day left out is closed.
    """
    return _structured(where, lambda: _schedule(data))


def directory_to_dict(directory: Directory) -> dict[str, Any]:
    """An account's people as plain data: ``users`` and ``teams`` lists."""
    return {
        "users": [
            {
                "id": u.id,
                "name": u.name,
                **({} if u.email is None else {"email": u.email}),
                "active": u.active,
                "team_ids": sorted(u.team_ids),
            }
            for u in directory.users
        ],
        "teams": [
            {
                "id": t.id,
                "name": t.name,
                **({} if t.parent_id is None else {"parent_id": t.parent_id}),
            }
            for t in directory.teams
        ],
    }


def _directory(users: Any, teams: Any, users_key: str) -> Directory:
    found_users = _structured(users_key, lambda: _converter.structure(users, tuple[User, ...]))
    found_teams = _structured("teams", lambda: _converter.structure(teams, tuple[Team, ...]))
    team_ids = {t.id for t in found_teams}
    for i, user in enumerate(found_users):
        for team_id in sorted(user.team_ids - team_ids):
            raise InvalidInput(f"{users_key}[{i}].team_ids", team_id, "unknown team")
    return _structured("", lambda: Directory(found_users, found_teams))


def directory_from_dict(data: Any, *, users_key: str = "users") -> Directory:
    """The `Directory` of plain data: a ``users`` (or ``users_key``) list and a ``teams`` list.

    A user's ``team_ids`` must name teams of the list; a team's ``parent_id`` too,
    and the team tree may not have a cycle.
    """
    table = _structured("", lambda: _table(data, "directory"))
    return _directory(table.get(users_key, []), table.get("teams", []), users_key)
