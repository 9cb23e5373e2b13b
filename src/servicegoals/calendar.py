"""Account calendars: time zones, periods, fiscal years and milestones.

Every boundary is the first instant of a local day in the account's time zone,
so a March month in New York is 31 days minus one hour long.  Where local
midnight does not exist (a daylight-saving jump at midnight) the day starts at
its first instant that exists; where midnight happens twice, the first one
counts.
"""

from __future__ import annotations

import enum
import functools
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import pendulum
from attrs import field, frozen

from ._validate import aware, flag, integer, plain_date, to_us, whole
from .errors import InvalidInput

__all__ = [
    "MAX_SPAN_YEARS",
    "AccountSettings",
    "Cadence",
    "Milestone",
    "Period",
    "Weekday",
    "calendar_year",
    "date_range",
    "day_start",
    "fiscal_year",
    "fiscal_year_of",
    "milestones",
]

MAX_SPAN_YEARS = 20
_SECOND = timedelta(seconds=1)
_OUTSIDE = "outside the supported calendar (years 1..9999) in this time zone"


class Weekday(enum.IntEnum):
    """Days of the week, numbered as `datetime.date.weekday` numbers them."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


class Cadence(enum.Enum):
    """A goal's duration; its calendar units are the goal's milestones."""

    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"
    CUSTOM = "custom"


# Room for every IANA zone (about 600): with fewer, goals that cycle through all of
# them reload each zone from disk on every call (an LRU evicts the one needed next).
@functools.lru_cache(maxsize=1024)
def _zone(name: str) -> tzinfo:
    try:
        zone = pendulum.timezone(name)
    except Exception as exc:  # pendulum raises several kinds for bad names
        raise InvalidInput("timezone", name, "unknown IANA time zone") from exc
    return zone


def _timezone_name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput("timezone", value, "expected an IANA time zone name")
    _zone(value)
    return value


def weekday(value: Any, field: str = "week_start") -> Weekday:
    """A `Weekday` from itself, its number (0 is Monday) or its name in any case."""
    if isinstance(value, Weekday):
        return value
    if whole(value) and 0 <= value <= 6:
        return Weekday(value)
    if isinstance(value, str) and value.upper() in Weekday.__members__:
        return Weekday[value.upper()]
    raise InvalidInput(field, value, "expected a Weekday (MONDAY..SUNDAY) or its name")


def _start_month(value: Any) -> int:
    return integer("fiscal_year_start_month", value, low=1, high=12)


@frozen
class AccountSettings:
    """An account's calendar: its time zone, fiscal year start and week start."""

    timezone: str = field(default="UTC", converter=_timezone_name)
    fiscal_year_start_month: int = field(default=1, converter=_start_month)
    week_start: Weekday = field(default=Weekday.MONDAY, converter=weekday)

    @property
    def tz(self) -> tzinfo:
        """The account's time zone object."""
        return _zone(self.timezone)


def _utc_start(value: Any) -> datetime:
    return aware("start", value).astimezone(UTC)


def _utc_end(value: Any) -> datetime:
    return aware("end", value).astimezone(UTC)


def _check_end(instance: Period, attribute: Any, value: datetime) -> None:
    if not instance.start < value:
        raise InvalidInput(
            "end", value, f"a period must end after it starts (start is {instance.start!r})"
        )


@frozen
class Period:
    """A half-open interval of time, ``[start, end)``, with ``start < end``.

    Both ends are stored in UTC: Python compares and subtracts two datetimes that
    share a ``tzinfo`` by their wall clocks, which is wrong across daylight-saving
    changes, so instants are kept in UTC and shown in local time only for labels.
    """

    start: datetime = field(converter=_utc_start)
    end: datetime = field(converter=_utc_end, validator=_check_end)

    @classmethod
    def _between(cls, start: datetime, end: datetime) -> Period:
        """A period of UTC instants already known to be ordered, not checked again.

        For [`milestones`][], whose boundaries come from [`day_start`][] in
        increasing order: checking them again costs a sixth of its time.
        """
        period = object.__new__(cls)
        object.__setattr__(period, "start", start)
        object.__setattr__(period, "end", end)
        return period

    @property
    def start_us(self) -> int:
        """The start in epoch microseconds."""
        return to_us(self.start)

    @property
    def end_us(self) -> int:
        """The end in epoch microseconds."""
        return to_us(self.end)

    @property
    def duration(self) -> timedelta:
        """How long the period lasts (absolute time, DST included)."""
        return self.end - self.start

    def __contains__(self, instant: object) -> bool:
        if not isinstance(instant, datetime):
            return False
        return self.start <= aware("instant", instant) < self.end

    def overlaps(self, other: Period) -> bool:
        """True when the two periods share at least one instant."""
        return self.start < other.end and other.start < self.end


@frozen
class Milestone:
    """One unit of a goal's duration, clipped to the goal's span."""

    index: int
    period: Period
    label: str


def day_start(day: date, tz: tzinfo) -> datetime:
    """The first instant of local ``day`` in ``tz``, as an aware UTC datetime.

    Usually local midnight.  A midnight that happens twice counts the first time;
    a midnight that does not exist is replaced by the first instant of the day.
    """
    return _start_of(plain_date("day", day), tz, "day", day)


def _start_of(day: date, tz: tzinfo, field: str, value: Any) -> datetime:
    """[`day_start`][], blaming ``field`` when the day is beyond the calendar."""
    try:
        return _day_start(day, tz)
    except OverflowError:  # the first or last day of the calendar, east or west of UTC
        raise InvalidInput(field, value, _OUTSIDE) from None


def _day_start(day: date, tz: tzinfo) -> datetime:
    utc = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)  # fold=0: the earlier
    local = utc.astimezone(tz)
    # Midnight exists when it converts back to itself (comparing the fields is
    # cheaper than building a naive copy: this runs for every milestone).
    if local.hour == 0 and local.minute == 0 and local.second == 0 and local.day == day.day:
        return utc
    # Midnight falls into a gap.  fold=1 resolves it to an instant before the jump;
    # search the seconds between for the first one whose local date is ``day``
    # (time-zone transitions happen on whole seconds).
    before = datetime(day.year, day.month, day.day, tzinfo=tz, fold=1).astimezone(UTC)
    lo, hi = 0, (local - before) // _SECOND
    while lo < hi:
        mid = (lo + hi) // 2
        if (before + mid * _SECOND).astimezone(tz).date() >= day:
            hi = mid
        else:
            lo = mid + 1
    return before + lo * _SECOND


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _from_month_index(index: int) -> date:
    year, month0 = divmod(index, 12)
    try:
        return date(year, month0 + 1, 1)
    except ValueError:  # milestones() reports it for the span
        raise OverflowError(f"year {year} is outside the calendar") from None


def fiscal_year_of(day: date, start_month: int) -> int:
    """The fiscal year containing ``day``, named by the calendar year it ends in."""
    if start_month != 1 and day.month >= start_month:
        return day.year + 1
    return day.year


def calendar_year(year: int, settings: AccountSettings) -> Period:
    """The calendar year ``year`` in the account's time zone."""
    integer("year", year, low=1, high=9998)
    tz = settings.tz
    return Period(
        _start_of(date(year, 1, 1), tz, "year", year),
        _start_of(date(year + 1, 1, 1), tz, "year", year),
    )


def fiscal_year(fy: int, settings: AccountSettings) -> Period:
    """Fiscal year ``fy`` (named by the calendar year in which it ends)."""
    integer("fiscal_year", fy, low=2, high=9998)
    month = settings.fiscal_year_start_month
    first = date(fy, 1, 1) if month == 1 else date(fy - 1, month, 1)
    end = _from_month_index(_month_index(first) + 12)
    tz = settings.tz
    return Period(_start_of(first, tz, "fiscal_year", fy), _start_of(end, tz, "fiscal_year", fy))


def date_range(first_day: date, last_day: date, settings: AccountSettings) -> Period:
    """The inclusive dates ``first_day .. last_day`` as a half-open period."""
    plain_date("first_day", first_day)
    plain_date("last_day", last_day)
    if last_day < first_day:
        raise InvalidInput("last_day", last_day, f"is before first_day {first_day}")
    if last_day == date.max:
        raise InvalidInput("last_day", last_day, "outside the supported calendar")
    tz = settings.tz
    return Period(
        _start_of(first_day, tz, "first_day", first_day),
        _start_of(last_day + timedelta(days=1), tz, "last_day", last_day),
    )


# -- milestones ---------------------------------------------------------------

_UNIT_MONTHS = {Cadence.MONTHLY: 1, Cadence.QUARTERLY: 3, Cadence.YEARLY: 12}


def _check_span(span: Period, tz: tzinfo) -> None:
    if not isinstance(span, Period):
        raise InvalidInput("span", span, "expected a Period")
    start = span.start.astimezone(tz)
    try:
        limit = start.replace(year=start.year + MAX_SPAN_YEARS)
    except ValueError:  # 29 February, or past year 9999
        if start.year + MAX_SPAN_YEARS > 9999:
            return  # no span that long fits into the calendar
        limit = start.replace(year=start.year + MAX_SPAN_YEARS, month=3, day=1)
    if span.end > limit:
        raise InvalidInput("span", span, f"longer than {MAX_SPAN_YEARS} years")


def _custom_label(span: Period, tz: tzinfo) -> str:
    first = span.start.astimezone(tz).date()
    last = (span.end - timedelta(microseconds=1)).astimezone(tz).date()
    return f"{first.isoformat()}..{last.isoformat()}"


class _Units:
    """Calendar units of one cadence as ints: where one starts, its first day and label.

    A weekly unit is the proleptic ordinal of its first day; the others are month
    indices (``year * 12 + month - 1``).  The next unit is ``unit + size``.
    """

    def __init__(self, cadence: Cadence, settings: AccountSettings, aligned: bool) -> None:
        self.cadence = cadence
        self.weekly = cadence is Cadence.WEEKLY
        self.week_start = int(settings.week_start)
        self.fiscal_month = settings.fiscal_year_start_month
        self.aligned = aligned
        self.size = 7 if self.weekly else _UNIT_MONTHS[cadence]
        # Quarters and years start at January unless aligned with the fiscal year.
        self.first_month = self.fiscal_month if aligned else 1

    def containing(self, day: date) -> int:
        if self.weekly:
            return day.toordinal() - (day.weekday() - self.week_start) % 7
        index = _month_index(day)
        return index - (index - (self.first_month - 1)) % self.size

    def day(self, unit: int) -> date:
        if not self.weekly:
            return _from_month_index(unit)
        try:
            return date.fromordinal(unit)
        except ValueError:  # milestones() reports it for the span
            raise OverflowError(f"day {unit} is outside the calendar") from None

    def label(self, unit: int, day: date) -> str:
        """The label of ``unit``, whose first ``day`` is known already."""
        if self.weekly:
            return day.isoformat()
        if self.cadence is Cadence.MONTHLY:
            return f"{day.year:04d}-{day.month:02d}"
        if self.aligned:
            fy = fiscal_year_of(day, self.fiscal_month)
            if self.cadence is Cadence.YEARLY:
                return f"FY{fy}"
            quarter = (day.month - self.fiscal_month) % 12 // 3 + 1
            return f"FY{fy}-Q{quarter}"
        if self.cadence is Cadence.YEARLY:
            return f"{day.year:04d}"
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


def milestones(
    cadence: Cadence,
    span: Period,
    settings: AccountSettings,
    *,
    align_to_fiscal_year: bool = False,
) -> tuple[Milestone, ...]:
    """The milestones of a goal: the cadence's units that overlap ``span``, clipped.

    They partition ``span`` exactly: contiguous, no gaps, no overlaps, the first
    starting at the span's start and the last ending at its end.

    Args:
        cadence: the unit: a week from ``settings.week_start``, a calendar
            month, a quarter, a year; ``CUSTOM`` has one milestone, the span.
        span: the goal's period; at most 20 years.
        settings: the account's time zone (boundaries are its local
            midnights), week start and fiscal year start.
        align_to_fiscal_year: quarters and years start at the fiscal start
            month, and labels name fiscal years (``FY2027-Q1``).

    Returns:
        The milestones in order, indexes from 0, with stable labels.

    Raises:
        InvalidInput: a wrong argument, a span over 20 years, or a unit
            boundary outside years 1 to 9999.
    """
    if not isinstance(cadence, Cadence):
        raise InvalidInput("cadence", cadence, "expected a Cadence")
    if not isinstance(settings, AccountSettings):
        raise InvalidInput("settings", settings, "expected AccountSettings")
    flag("align_to_fiscal_year", align_to_fiscal_year)
    try:
        return _milestones(cadence, span, settings, align_to_fiscal_year)
    except OverflowError:  # a unit boundary before year 1 or after year 9999
        raise InvalidInput("span", span, _OUTSIDE) from None


def _milestones(
    cadence: Cadence, span: Period, settings: AccountSettings, align_to_fiscal_year: bool
) -> tuple[Milestone, ...]:
    tz = settings.tz
    _check_span(span, tz)
    if cadence is Cadence.CUSTOM:
        if align_to_fiscal_year:
            raise InvalidInput(
                "align_to_fiscal_year", True, "a custom duration cannot align with the fiscal year"
            )
        return (Milestone(0, span, _custom_label(span, tz)),)

    units = _Units(cadence, settings, align_to_fiscal_year)
    size, first_day = units.size, units.day
    unit = units.containing(span.start.astimezone(tz).date())
    # Where midnight happens twice, the hour after the first one still shows the
    # previous date; step back until the unit really starts at or before the span.
    while _day_start(first_day(unit), tz) > span.start:
        unit -= size
    following = unit + size
    day = first_day(following)
    boundary = _day_start(day, tz)
    while boundary <= span.start:
        unit, following = following, following + size
        day = first_day(following)
        boundary = _day_start(day, tz)

    made: list[Milestone] = []
    start, label = span.start, units.label(unit, first_day(unit))
    end = span.end
    while boundary < end:
        made.append(Milestone(len(made), Period._between(start, boundary), label))
        start, label = boundary, units.label(following, day)
        following += size
        day = first_day(following)
        boundary = _day_start(day, tz)
    made.append(Milestone(len(made), Period._between(start, end), label))
    return tuple(made)
