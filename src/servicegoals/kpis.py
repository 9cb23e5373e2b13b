"""Service KPIs, tickets and the measurements a milestone accumulates."""

from __future__ import annotations

import enum
import heapq
import itertools
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from attrs import Factory, field, frozen

from ._validate import (
    Validator,
    checked,
    duration_us,
    identifier,
    instance_of,
    instant,
    integer,
    text,
    to_us,
)
from ._validate import optional as vopt
from .errors import InvalidInput

__all__ = [
    "AVG_RESOLUTION_TIME",
    "AVG_RESPONSE_TIME",
    "CLOSED_TICKETS",
    "KPI_TEMPLATES",
    "MEDIAN_RESPONSE_TIME",
    "REOPENED_TICKETS",
    "RESPONDED_WITHIN_TARGET",
    "SERVICE_TEMPLATES",
    "TICKETS_CREATED",
    "Aggregation",
    "Contribution",
    "Direction",
    "Kpi",
    "Measurement",
    "Reopen",
    "StatusInterval",
    "Ticket",
    "TicketEvent",
    "Unit",
    "kpi_by_key",
]


class Unit(enum.Enum):
    """What a KPI's value is: a number of tickets or a duration."""

    COUNT = "count"
    DURATION = "duration"
    #: A share in percent (targets are whole percents): share-within-threshold KPIs.
    PERCENT = "percent"


class Direction(enum.Enum):
    """Whether a bigger value is better (counts) or worse (waiting times)."""

    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class TicketEvent(enum.Enum):
    """The ticket timestamp that places a ticket in a milestone."""

    #: The close that resolves the ticket under the goal's clock policy (final by default).
    CLOSED = "closed_at"
    FIRST_RESPONSE = "first_response_at"
    CREATED = "created_at"
    #: The earliest close, whatever the clock policy.
    FIRST_CLOSE = "first_closed_at"
    #: Each reopen (`Ticket.reopens`); a ticket counts once per milestone.
    REOPENED = "reopened_at"
    #: The datetime in the ticket property named by `Kpi.event_property`.
    PROPERTY = "property"


class Contribution(enum.Enum):
    """What one ticket contributes to a KPI."""

    ONE = "one"
    #: From `Kpi.start` to the placing event, under the goal's clock policy.
    DURATION = "duration"
    #: The int ticket property named by `Kpi.value_property`.
    PROPERTY = "property"


class Aggregation(enum.Enum):
    """How the contributions of a cell's tickets combine into its value."""

    COUNT = "count"
    SUM = "sum"
    AVERAGE = "average"
    MINIMUM = "minimum"
    MAXIMUM = "maximum"
    #: The percentage of tickets whose contribution is at most `Kpi.threshold`.
    SHARE = "share"
    #: The nearest-rank percentile `Kpi.percentile`: an exact order statistic.
    PERCENTILE = "percentile"


def _default_contribution(kpi: Any) -> Contribution:
    return Contribution.DURATION if kpi.unit is Unit.DURATION else Contribution.ONE


def _default_aggregation(kpi: Any) -> Aggregation:
    if kpi.contribution is Contribution.ONE:
        return Aggregation.COUNT
    return Aggregation.AVERAGE


def _percentile(value: Any) -> Fraction | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Fraction)):
        raise InvalidInput("kpi.percentile", value, "expected an int or a Fraction (no float)")
    if not 0 < value <= 100:
        raise InvalidInput("kpi.percentile", value, "a percentile is in (0, 100]")
    return Fraction(value)


def _where(value: Any) -> tuple[tuple[str, frozenset[str | int]], ...]:
    if not isinstance(value, Mapping) and (
        isinstance(value, (str, bytes)) or not isinstance(value, Iterable)
    ):
        raise InvalidInput("kpi.where", value, "expected a mapping of property to allowed values")
    pairs = value.items() if isinstance(value, Mapping) else value
    found: dict[str, frozenset[str | int]] = {}
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InvalidInput("kpi.where", pair, "expected (property, allowed values)")
        name, allowed = pair
        identifier("kpi.where", name)
        if isinstance(allowed, (str, int)):
            allowed = (allowed,)  # equals: a set of one
        if not isinstance(allowed, Iterable):
            raise InvalidInput(f"kpi.where[{name!r}]", allowed, "expected a value or a set")
        items = tuple(allowed)
        for v in items:  # before hashing them: an unhashable value is named too
            if isinstance(v, bool) or not isinstance(v, (str, int)):
                raise InvalidInput(f"kpi.where[{name!r}]", v, "expected a str or an int")
        if not items:
            empty = frozenset[str | int]()
            raise InvalidInput(f"kpi.where[{name!r}]", empty, "an empty set lets no ticket in")
        found[name] = frozenset(items)
    return tuple(sorted(found.items()))


@frozen
class Kpi:
    """A measurable quantity a goal sets targets on: data, not code.

    ``event`` says which timestamp puts a ticket into a milestone, ``contribution``
    what each ticket adds (one; the duration from ``start`` to ``event`` under the
    goal's clock policy; or the int property ``value_property``), ``aggregation``
    how a cell combines them, ``where`` which tickets count (property name to the
    allowed values).  The defaults give the templates' shapes: a COUNT unit counts
    tickets, a DURATION unit averages the time from creation.  See docs/kpis.md.
    """

    key: str = field(validator=checked(text, "kpi.key"))
    label: str = field(validator=checked(text, "kpi.label"))
    unit: Unit = field(validator=instance_of("kpi.unit", Unit))
    direction: Direction = field(validator=instance_of("kpi.direction", Direction))
    event: TicketEvent = field(
        default=TicketEvent.CLOSED, validator=instance_of("kpi.event", TicketEvent)
    )
    contribution: Contribution = field(
        default=Factory(_default_contribution, takes_self=True),
        validator=instance_of("kpi.contribution", Contribution),
    )
    aggregation: Aggregation = field(
        default=Factory(_default_aggregation, takes_self=True),
        validator=instance_of("kpi.aggregation", Aggregation),
    )
    start: TicketEvent = field(
        default=TicketEvent.CREATED,
        validator=instance_of("kpi.start", TicketEvent),
    )
    #: SHARE only: an int for PROPERTY contributions, a timedelta for durations.
    threshold: int | timedelta | None = None
    percentile: Fraction | None = field(default=None, converter=_percentile)
    value_property: str | None = field(
        default=None, validator=checked(identifier, "kpi.value_property", optional=True)
    )
    event_property: str | None = field(
        default=None, validator=checked(identifier, "kpi.event_property", optional=True)
    )
    where: tuple[tuple[str, frozenset[str | int]], ...] = field(default=(), converter=_where)
    #: True for the templates' shapes, which `measure`'s integer loop handles.
    fast: bool = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        _check_kpi(self)
        object.__setattr__(self, "fast", self._fast())

    @property
    def additive(self) -> bool:
        """True when cells add up (COUNT, SUM): forecasts scale them by elapsed time."""
        return self.aggregation in (Aggregation.COUNT, Aggregation.SUM)

    @property
    def property_names(self) -> frozenset[str]:
        """The ticket properties this KPI reads: its filters', its value's and its event's."""
        names = {name for name, _ in self.where}
        names.update(n for n in (self.value_property, self.event_property) if n is not None)
        return frozenset(names)

    def _fast(self) -> bool:
        return (
            self.event in (TicketEvent.CLOSED, TicketEvent.FIRST_RESPONSE)
            and not self.where
            and self.start is TicketEvent.CREATED
            and (
                (self.contribution, self.aggregation, self.unit)
                in (
                    (Contribution.ONE, Aggregation.COUNT, Unit.COUNT),
                    (Contribution.DURATION, Aggregation.AVERAGE, Unit.DURATION),
                )
            )
        )

    def value_of(self, values: tuple[int, ...]) -> Fraction | None:
        """The nearest-rank percentile of sorted ``values``: the ⌈p·n/100⌉-th smallest."""
        if not values or self.percentile is None:
            return None
        return Fraction(values[math.ceil(self.percentile * len(values) / 100) - 1])


def _check_kpi(kpi: Kpi) -> None:
    """The combinations that make sense; each wrong one names its field."""
    agg, contribution = kpi.aggregation, kpi.contribution
    if (agg is Aggregation.SHARE) != (kpi.unit is Unit.PERCENT):
        raise InvalidInput("kpi.unit", kpi.unit, "a SHARE KPI, and only it, is in PERCENT")
    if contribution is Contribution.ONE and agg is not Aggregation.COUNT:
        raise InvalidInput("kpi.aggregation", agg, "a KPI contributing one per ticket counts")
    if contribution is not Contribution.ONE and agg is Aggregation.COUNT:
        raise InvalidInput("kpi.aggregation", agg, "COUNT needs the contribution ONE")
    if contribution is Contribution.ONE and kpi.unit is not Unit.COUNT:
        raise InvalidInput("kpi.unit", kpi.unit, "a count of tickets is in COUNT")
    if contribution is Contribution.DURATION and kpi.unit not in (Unit.DURATION, Unit.PERCENT):
        raise InvalidInput("kpi.unit", kpi.unit, "a duration KPI is in DURATION (or PERCENT)")
    if contribution is Contribution.PROPERTY and kpi.unit is Unit.DURATION:
        raise InvalidInput("kpi.unit", kpi.unit, "a property KPI is a number (COUNT or PERCENT)")
    if (contribution is Contribution.PROPERTY) != (kpi.value_property is not None):
        raise InvalidInput(
            "kpi.value_property", kpi.value_property, "needed exactly by PROPERTY contributions"
        )
    if (kpi.event is TicketEvent.PROPERTY) != (kpi.event_property is not None):
        raise InvalidInput(
            "kpi.event_property", kpi.event_property, "needed exactly by the PROPERTY event"
        )
    if kpi.start in (TicketEvent.REOPENED, TicketEvent.PROPERTY):
        raise InvalidInput("kpi.start", kpi.start, "a duration starts at a single ticket event")
    if kpi.event is TicketEvent.REOPENED and contribution is not Contribution.ONE:
        raise InvalidInput("kpi.event", kpi.event, "reopens can only be counted")
    if (agg is Aggregation.PERCENTILE) != (kpi.percentile is not None):
        raise InvalidInput("kpi.percentile", kpi.percentile, "needed exactly by PERCENTILE")
    if agg is not Aggregation.SHARE:
        if kpi.threshold is not None:
            raise InvalidInput("kpi.threshold", kpi.threshold, f"a {agg.name} KPI has no threshold")
        return
    want = timedelta if contribution is Contribution.DURATION else int
    if type(kpi.threshold) is not want:
        raise InvalidInput("kpi.threshold", kpi.threshold, f"a SHARE KPI needs a {want.__name__}")
    threshold = kpi.threshold
    if isinstance(threshold, timedelta):
        threshold = duration_us(threshold)
    if threshold is None or threshold < 0:  # contributions never are: none would be within
        raise InvalidInput("kpi.threshold", kpi.threshold, "must not be negative")


CLOSED_TICKETS = Kpi(
    "closed_tickets", "Closed tickets", Unit.COUNT, Direction.HIGHER_IS_BETTER, TicketEvent.CLOSED
)
AVG_RESPONSE_TIME = Kpi(
    "avg_response_time",
    "Average ticket response time",
    Unit.DURATION,
    Direction.LOWER_IS_BETTER,
    TicketEvent.FIRST_RESPONSE,
)
AVG_RESOLUTION_TIME = Kpi(
    "avg_resolution_time",
    "Average ticket resolution time",
    Unit.DURATION,
    Direction.LOWER_IS_BETTER,
    TicketEvent.CLOSED,
)

RESPONDED_WITHIN_TARGET = Kpi(
    "responded_within_target",
    "Tickets answered within target (%)",
    Unit.PERCENT,
    Direction.HIGHER_IS_BETTER,
    TicketEvent.FIRST_RESPONSE,
    Contribution.DURATION,
    Aggregation.SHARE,
    threshold=timedelta(hours=2),
)
MEDIAN_RESPONSE_TIME = Kpi(
    "median_response_time",
    "Median first response time",
    Unit.DURATION,
    Direction.LOWER_IS_BETTER,
    TicketEvent.FIRST_RESPONSE,
    Contribution.DURATION,
    Aggregation.PERCENTILE,
    percentile=Fraction(50),
)
TICKETS_CREATED = Kpi(
    "tickets_created",
    "Tickets created",
    Unit.COUNT,
    Direction.HIGHER_IS_BETTER,
    TicketEvent.CREATED,
)
REOPENED_TICKETS = Kpi(
    "reopened_tickets",
    "Reopened tickets",
    Unit.COUNT,
    Direction.LOWER_IS_BETTER,
    TicketEvent.REOPENED,
)

#: The service goal templates by key.
SERVICE_TEMPLATES: dict[str, Kpi] = {
    k.key: k for k in (CLOSED_TICKETS, AVG_RESPONSE_TIME, AVG_RESOLUTION_TIME)
}

#: Every KPI template by key: the service templates, then the custom-engine ones.
KPI_TEMPLATES: dict[str, Kpi] = {
    **SERVICE_TEMPLATES,
    **{
        k.key: k
        for k in (
            RESPONDED_WITHIN_TARGET,
            MEDIAN_RESPONSE_TIME,
            TICKETS_CREATED,
            REOPENED_TICKETS,
        )
    },
}


def kpi_by_key(key: str) -> Kpi:
    """The KPI template (`KPI_TEMPLATES`) called ``key``."""
    try:
        return KPI_TEMPLATES[key]
    except (KeyError, TypeError):
        raise InvalidInput(
            "kpi", key, f"unknown goal template; known: {', '.join(KPI_TEMPLATES)}"
        ) from None


def _id(name: str, *, optional: bool = False) -> Validator:
    return checked(identifier, name, optional=optional)


def _instant(name: str, *, optional: bool = False) -> Validator:
    check = checked(instant, name)
    return vopt(check) if optional else check


@frozen
class StatusInterval:
    """A time a ticket spent in one status, such as "waiting on customer".

    ``end`` is None while the ticket is still in that status.
    """

    status: str = field(validator=_id("status"))
    start: datetime = field(validator=_instant("start"))
    end: datetime | None = field(default=None, validator=_instant("end", optional=True))


@frozen
class Reopen:
    """An earlier close of a ticket that was reopened: the close and the reopen instants."""

    closed_at: datetime = field(validator=_instant("closed_at"))
    reopened_at: datetime = field(validator=_instant("reopened_at"))


def _history(name: str, kind: type[Any], value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidInput(name, value, f"expected a sequence of {kind.__name__}")
    items = tuple(value)
    for i, item in enumerate(items):
        if not isinstance(item, kind):
            raise InvalidInput(f"{name}[{i}]", item, f"expected a {kind.__name__}")
    return items


def _statuses(value: Any) -> tuple[StatusInterval, ...]:
    return _history("statuses", StatusInterval, value)


def _reopens(value: Any) -> tuple[Reopen, ...]:
    return _history("reopens", Reopen, value)


#: A ticket property's value: text, an int (amounts in whole units such as cents) or an
#: aware datetime.  Floats are refused: they cannot be summed or compared exactly.
PropertyValue = str | int | datetime


_NO_PROPERTIES: Mapping[str, PropertyValue] = MappingProxyType({})


def _properties(value: Any) -> Mapping[str, PropertyValue]:
    if not value and type(value) is dict:
        return _NO_PROPERTIES  # the usual ticket: one shared empty mapping
    if not isinstance(value, Mapping):
        raise InvalidInput("properties", value, "expected a mapping of property name to value")
    found: dict[str, PropertyValue] = {}
    for name, item in value.items():
        identifier("properties", name)
        if isinstance(item, datetime):
            instant(f"properties[{name!r}]", item)
        elif isinstance(item, bool) or not isinstance(item, (str, int)):
            raise InvalidInput(
                f"properties[{name!r}]", item, "expected a str, an int or an aware datetime"
            )
        found[name] = item
    return MappingProxyType(found)


def _properties_repr(value: Mapping[str, PropertyValue]) -> str:
    return repr(dict(value))


#: ``(status, start_us, end_us or None)`` of one status interval.
StatusSpan = tuple[str, int, int | None]


@frozen
class Ticket:
    """A helpdesk ticket, as much of it as the service KPIs need.

    ``first_response_at`` and ``closed_at`` may not be before ``created_at``.
    ``closed_at`` is the current (final) close; ``reopens`` lists the earlier
    closes that were reopened, in order, and ``statuses`` the status intervals
    (which of them pause the clock is a goal's `ClockPolicy`).  The ``*_us``
    attributes hold the instants as epoch microseconds for the measuring loop,
    which works on plain integers; ``has_history`` is false for the usual
    ticket without reopens or statuses, which then costs nothing extra.
    """

    id: str = field(validator=_id("id"))
    created_at: datetime = field(validator=_instant("created_at"))
    pipeline: str = field(validator=_id("pipeline"))
    owner_id: str | None = field(default=None, validator=_id("owner_id", optional=True))
    team_id: str | None = field(default=None, validator=_id("team_id", optional=True))
    first_response_at: datetime | None = field(
        default=None, validator=_instant("first_response_at", optional=True)
    )
    closed_at: datetime | None = field(default=None, validator=_instant("closed_at", optional=True))
    statuses: tuple[StatusInterval, ...] = field(default=(), converter=_statuses)
    reopens: tuple[Reopen, ...] = field(default=(), converter=_reopens)
    #: Extra properties (priority, channel, amounts, dates) that custom KPIs read.
    #: Checked and frozen in ``__attrs_post_init__``, where the usual ticket without
    #: properties costs one identity test (a converter would cost a call).
    properties: Mapping[str, PropertyValue] = field(
        default=_NO_PROPERTIES, hash=False, repr=_properties_repr
    )
    created_us: int = field(init=False, eq=False, repr=False)
    first_response_us: int | None = field(init=False, eq=False, repr=False)
    closed_us: int | None = field(init=False, eq=False, repr=False)
    has_history: bool = field(init=False, eq=False, repr=False)
    #: The earliest close (``closed_us`` without reopens).
    first_closed_us: int | None = field(init=False, eq=False, repr=False)
    #: ``(close_us, reopen_us)`` of each reopened close, in order.
    reopens_us: tuple[tuple[int, int], ...] = field(init=False, eq=False, repr=False)
    #: ``(status, start_us, end_us or None)`` of each status interval, by start.
    statuses_us: tuple[StatusSpan, ...] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.properties is not _NO_PROPERTIES:
            object.__setattr__(self, "properties", _properties(self.properties))
        created = to_us(self.created_at)
        first = None if self.first_response_at is None else to_us(self.first_response_at)
        closed = None if self.closed_at is None else to_us(self.closed_at)
        if first is not None and first < created:
            raise InvalidInput(
                "first_response_at",
                self.first_response_at,
                f"ticket {self.id!r} was answered before it was created ({self.created_at})",
            )
        if closed is not None and closed < created:
            raise InvalidInput(
                "closed_at",
                self.closed_at,
                f"ticket {self.id!r} was closed before it was created ({self.created_at})",
            )
        object.__setattr__(self, "created_us", created)
        object.__setattr__(self, "first_response_us", first)
        object.__setattr__(self, "closed_us", closed)
        object.__setattr__(self, "has_history", bool(self.statuses or self.reopens))
        reopens = self._check_reopens(created, closed)
        object.__setattr__(self, "reopens_us", reopens)
        object.__setattr__(self, "first_closed_us", reopens[0][0] if reopens else closed)
        object.__setattr__(self, "statuses_us", self._check_statuses(created))

    def _check_reopens(self, created: int, closed: int | None) -> tuple[tuple[int, int], ...]:
        found: list[tuple[int, int]] = []
        since = created  # each close comes at or after the previous reopen
        for i, reopen in enumerate(self.reopens):
            close, again = to_us(reopen.closed_at), to_us(reopen.reopened_at)
            if close < since:
                what = "created" if i == 0 else f"reopened ({self.reopens[i - 1].reopened_at})"
                raise InvalidInput(
                    f"reopens[{i}].closed_at",
                    reopen.closed_at,
                    f"ticket {self.id!r}: closes out of order: before the ticket was {what}",
                )
            if again < close:
                raise InvalidInput(
                    f"reopens[{i}].reopened_at",
                    reopen.reopened_at,
                    f"ticket {self.id!r} was reopened before it was closed ({reopen.closed_at})",
                )
            found.append((close, again))
            since = again
        if found and closed is not None and closed < since:
            raise InvalidInput(
                "closed_at",
                self.closed_at,
                f"ticket {self.id!r}: the final close is before the last reopen "
                f"({self.reopens[-1].reopened_at})",
            )
        return tuple(found)

    def _check_statuses(self, created: int) -> tuple[StatusSpan, ...]:
        spans: list[tuple[int, int | None, int]] = []
        for i, interval in enumerate(self.statuses):
            start = to_us(interval.start)
            end = None if interval.end is None else to_us(interval.end)
            if start < created:
                raise InvalidInput(
                    f"statuses[{i}].start",
                    interval.start,
                    f"ticket {self.id!r} entered {interval.status!r} before it was created",
                )
            if end is not None and end < start:
                raise InvalidInput(
                    f"statuses[{i}].end",
                    interval.end,
                    f"ticket {self.id!r} left {interval.status!r} before it entered it "
                    f"({interval.start})",
                )
            spans.append((start, end, i))
        spans.sort(key=lambda s: (s[0], s[2]))
        for (_, end, i), (later, _, j) in itertools.pairwise(spans):
            if end is None or end > later:
                before, after = self.statuses[i], self.statuses[j]
                raise InvalidInput(
                    f"statuses[{j}].start",
                    after.start,
                    f"ticket {self.id!r}: {after.status!r} overlaps {before.status!r} "
                    f"({before.start} to {before.end or 'now'})",
                )
        return tuple((self.statuses[i].status, start, end) for start, end, i in spans)


def _count(name: str) -> Validator:
    return checked(integer, name, low=0)


def _within(instance: Any, attribute: Any, value: Any) -> None:
    integer("within", value, low=0, high=instance.count)


def _optional_int(name: str) -> Any:
    def check(instance: Any, attribute: Any, value: Any) -> None:
        if value is not None:
            integer(name, value)

    return check


def _values(instance: Any, attribute: Any, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, tuple) or len(value) != instance.count:
        raise InvalidInput("values", value, f"expected a tuple of {instance.count} ints")
    for a, b in itertools.pairwise(value):
        if a > b:
            raise InvalidInput("values", value, "expected the values sorted")


@frozen(repr=False)
class Measurement:
    """What one milestone of one contributor accumulated.

    ``count`` is the number of tickets that counted; ``total`` is the sum of their
    durations in integer microseconds (0 for COUNT KPIs), or of their int property.
    Custom KPIs also fill ``within`` (tickets within a SHARE threshold), ``low`` and
    ``high`` (MINIMUM, MAXIMUM) or ``values`` (PERCENTILE: every value, sorted, so
    a cell keeps one int per ticket).  Measurements add up, pooling all of these.
    """

    count: int = field(default=0, validator=_count("count"))
    total: int = field(default=0, validator=_count("total"))
    within: int = field(default=0, validator=_within)
    low: int | None = field(default=None, validator=_optional_int("low"))
    high: int | None = field(default=None, validator=_optional_int("high"))
    values: tuple[int, ...] | None = field(default=None, validator=_values)

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}={value!r}"
            for name, value, default in (
                ("within", self.within, 0),
                ("low", self.low, None),
                ("high", self.high, None),
                ("values", self.values, None),
            )
            if value != default
        )
        return f"Measurement(count={self.count}, total={self.total}{extra})"

    @property
    def plain(self) -> bool:
        """True when only ``count`` and ``total`` are set (the templates' cells)."""
        return self.within == 0 and self.low is None and self.high is None and self.values is None

    def __add__(self, other: Measurement) -> Measurement:
        if not isinstance(other, Measurement):
            return NotImplemented
        if self.plain and other.plain:
            return Measurement(self.count + other.count, self.total + other.total)
        values = None
        if self.values is not None or other.values is not None:
            values = tuple(heapq.merge(self.values or (), other.values or ()))
        return Measurement(
            self.count + other.count,
            self.total + other.total,
            self.within + other.within,
            _pick(min, self.low, other.low),
            _pick(max, self.high, other.high),
            values,
        )

    @property
    def average(self) -> Fraction | None:
        """The mean duration in microseconds, exactly; None without tickets."""
        if self.count == 0:
            return None
        return Fraction(self.total, self.count)

    @property
    def average_duration(self) -> timedelta | None:
        """The mean duration rounded to the microsecond, for display."""
        mean = self.average
        return None if mean is None else timedelta(microseconds=round(mean))


def _pick(best: Any, a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else int(best(a, b))
