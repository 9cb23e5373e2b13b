"""Working-time clocks: how much of an interval counts as working time.

A `WorkingClock` measures the working time between two instants given as epoch
microseconds, so that the measuring loop stays on plain integers.  `CALENDAR`
counts every microsecond (wall-clock time); a `Schedule` counts the time inside
its weekly working slots, in its own time zone, minus holidays.

How a schedule reads local times (see "Working time and pauses"):

* a slot is a pair of local wall-clock times on a weekday; a slot whose end is
  not after its start runs overnight into the next day, and ``"24:00"`` ends a
  slot at the next midnight;
* each slot edge becomes one instant: a local time that does not exist (the
  hour skipped when clocks go forward) becomes the first instant that exists
  after it, and a local time that happens twice (clocks go back) its first
  occurrence, as `day_start` does for midnight.  A slot that crosses a
  daylight-saving change therefore counts the real elapsed time;
* a holiday cancels the slots that start on it; an overnight slot that starts
  the evening before a holiday still runs to its end.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from typing import Any, Protocol, runtime_checkable

from attrs import field, frozen

from ._validate import EPOCH, aware, duration_us, from_us, to_us, whole
from .calendar import _timezone_name, _zone
from .errors import InvalidInput

__all__ = [
    "ALL_DAY",
    "CALENDAR",
    "CLOSED",
    "CalendarClock",
    "Holidays",
    "Schedule",
    "Slot",
    "WorkingClock",
]


@runtime_checkable
class WorkingClock(Protocol):
    """Measures working time; implemented by ``CalendarClock`` and schedules."""

    def working_us(self, start_us: int, end_us: int) -> int:
        """The working time in ``[start_us, end_us)``, in microseconds (0 when empty)."""
        ...


@frozen
class CalendarClock:
    """Wall-clock time: every microsecond of an interval counts."""

    def working_us(self, start_us: int, end_us: int) -> int:
        """``end_us - start_us``, or 0 for an empty interval."""
        return max(0, end_us - start_us)


#: The wall-clock ("calendar time") clock.
CALENDAR = CalendarClock()

_DAY = timedelta(days=1)
_DAY_US = 86_400_000_000
_EPOCH_ORDINAL = EPOCH.date().toordinal()
_DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The names Schedule.weekly accepts, widest first so that a single day wins.
_NAMES: dict[str, Sequence[int]] = {
    "every_day": range(7),
    "mon_fri": range(5),
    "sat_sun": range(5, 7),
    **{key: (day,) for day, key in enumerate(_DAY_KEYS)},
}
_CLOCK = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?")
# Instants whose local dates (and their weeks) stay inside years 1..9999 anywhere.
_FIRST_US = to_us(datetime(2, 1, 1, tzinfo=UTC))
_LAST_US = to_us(datetime(9999, 1, 1, tzinfo=UTC))


# -- slots -------------------------------------------------------------------


def _clock(field: str, value: Any, *, end: bool) -> timedelta:
    """A local wall-clock time: ``"09:00"``, ``"17:30:15"``, a `datetime.time`; ``"24:00"`` ends."""
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise InvalidInput(field, value, "a slot edge is a local time: give no time zone")
        return timedelta(
            hours=value.hour,
            minutes=value.minute,
            seconds=value.second,
            microseconds=value.microsecond,
        )
    found = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise InvalidInput(field, value, "expected a local time such as '09:00' or '17:30'")
    hours, minutes, seconds = int(found[1]), int(found[2]), int(found[3] or 0)
    if end and (hours, minutes, seconds) == (24, 0, 0):
        return _DAY
    if hours > 23 or minutes > 59 or seconds > 59:
        raise InvalidInput(field, value, "not a time of day (00:00 to 23:59:59; '24:00' ends)")
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _offset(value: Any) -> timedelta:
    if not isinstance(value, timedelta):
        raise InvalidInput("start", value, "expected a timedelta since local midnight")
    return value


def _check_start(instance: Slot, attribute: Any, value: timedelta) -> None:
    if not timedelta(0) <= value < _DAY:
        raise InvalidInput("start", value, "a slot starts between 00:00 and 24:00 of its day")
    if value.microseconds:
        raise InvalidInput("start", value, "slot edges are whole seconds")


def _check_end(instance: Slot, attribute: Any, value: timedelta) -> None:
    if not isinstance(value, timedelta):
        raise InvalidInput("end", value, "expected a timedelta since local midnight")
    if not instance.start < value < instance.start + _DAY and value != _DAY:
        raise InvalidInput(
            "end", value, "a slot ends after its start and less than 24 hours after it"
        )
    if value.microseconds:
        raise InvalidInput("end", value, "slot edges are whole seconds")


def _hhmm(offset: timedelta) -> str:
    minutes, seconds = divmod(offset // timedelta(seconds=1), 60)
    text = f"{minutes // 60:02d}:{minutes % 60:02d}"
    return text + (f":{seconds:02d}" if seconds else "")


@frozen(repr=False)
class Slot:
    """One working slot of a weekday, as offsets from that day's local midnight.

    ``end`` past 24 hours runs into the next day (a night shift); a slot lasts
    less than a day, except the whole day from 00:00 to 24:00.  Write slots
    with `Slot.of` (``Slot.of("22:00", "06:00")``) or as pairs given to
    `Schedule.weekly`.
    """

    start: timedelta = field(converter=_offset, validator=_check_start)
    end: timedelta = field(validator=_check_end)

    @classmethod
    def of(cls, start: str | time, end: str | time) -> Slot:
        """The slot from local time ``start`` to ``end``; an earlier ``end`` is the next day.

        Raises:
            InvalidInput: a time that is not a time of day, or ``end == start``
                (a zero-length slot; write ``"00:00", "24:00"`` for a whole day).
        """
        begin = _clock("start", start, end=False)
        finish = _clock("end", end, end=True)
        if finish == begin:
            raise InvalidInput("end", end, "a slot cannot be empty (it equals its start)")
        return cls(begin, finish if finish > begin else finish + _DAY)

    @property
    def overnight(self) -> bool:
        """True when the slot ends on the next day (after its midnight)."""
        return self.end > _DAY

    def clock_times(self) -> tuple[str, str]:
        """The slot as local ``("HH:MM", "HH:MM")``; ``Slot.of`` reverses it."""
        end = self.end - _DAY if self.end > _DAY else self.end
        return _hhmm(self.start), "24:00" if end == _DAY else _hhmm(end)

    def __repr__(self) -> str:
        return f"Slot.of{self.clock_times()!r}"


#: A day open from midnight to midnight.
ALL_DAY: tuple[tuple[str, str], ...] = (("00:00", "24:00"),)
#: A day without working time.
CLOSED: tuple[tuple[str, str], ...] = ()


def _slot(field: str, value: Any) -> Slot:
    if isinstance(value, Slot):
        return value
    if isinstance(value, (list, tuple)) and len(value) == 2:
        try:
            return Slot.of(value[0], value[1])
        except InvalidInput as exc:
            raise InvalidInput(f"{field}.{exc.field}", exc.value, exc.reason) from None
    raise InvalidInput(
        field, value, "expected a slot: a (start, end) pair such as ('09:00', '17:00')"
    )


def _day_slots(field: str, value: Any) -> list[Slot]:
    if not isinstance(value, (list, tuple)):
        raise InvalidInput(field, value, "expected a list of (start, end) slots")
    return [_slot(f"{field}[{i}]", item) for i, item in enumerate(value)]


def _check_overlaps(labelled: Sequence[tuple[str, int, Slot]]) -> None:
    """Refuse slots that share time, on the local week's clock (which wraps around)."""
    week = 7 * _DAY
    spans = sorted(
        (day * _DAY + s.start, day * _DAY + s.end, label, s) for label, day, s in labelled
    )
    pairs = list(pairwise(spans))
    if len(spans) > 1:  # Sunday's night shift against Monday morning
        first = spans[0]
        pairs = [*pairs, (spans[-1], (first[0] + week, first[1] + week, first[2], first[3]))]
    for (_, end, label, slot), (start, _, other, later) in pairs:
        if start < end:
            raise InvalidInput(
                other,
                later.clock_times(),
                f"overlaps {label} {slot.clock_times()!r}; slots may touch but not overlap",
            )


def _week(value: Any) -> tuple[tuple[Slot, ...], ...]:
    if not isinstance(value, (list, tuple)) or len(value) != 7:
        raise InvalidInput("week", value, "expected 7 lists of slots, Monday first")
    days = [_day_slots(f"week[{i}]", day) for i, day in enumerate(value)]
    _check_overlaps(
        [(f"week[{d}][{i}]", d, s) for d, day in enumerate(days) for i, s in enumerate(day)]
    )
    return tuple(tuple(sorted(day, key=lambda s: s.start)) for day in days)


# -- holidays ----------------------------------------------------------------


def _dates(value: Any) -> frozenset[date]:
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes, Mapping)):
        raise InvalidInput("holidays.dates", value, "expected a collection of dates")
    items = list(value)
    for i, item in enumerate(items):
        if not isinstance(item, date) or isinstance(item, datetime):
            raise InvalidInput(f"holidays.dates[{i}]", item, "expected a date")
    return frozenset(items)


def _optional_text(field: str) -> Any:
    def check(instance: Any, attribute: Any, value: Any) -> None:
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidInput(field, value, "expected a non-empty string or None")

    return check


@functools.lru_cache(maxsize=256)
def _country_days(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """The public holidays of one year, from the optional ``holidays`` package."""
    try:
        import holidays
    except ImportError:  # pragma: no cover - the dev extra installs it
        raise InvalidInput(
            "holidays.country",
            country,
            "needs the optional 'holidays' package: pip install 'servicegoals[holidays]'",
        ) from None
    try:
        found = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError as exc:
        field, value = ("holidays.country", country)
        if subdivision is not None and country in holidays.list_supported_countries():
            field, value = ("holidays.subdivision", subdivision)
        raise InvalidInput(field, value, f"unknown to the holidays package ({exc})") from None
    return frozenset(found.keys())


@frozen
class Holidays:
    """Days without working time: explicit dates and/or a country's public holidays.

    ``country`` (an ISO 3166 code such as ``"US"``) and ``subdivision``
    (``"NY"``) are read from the ``holidays`` package, an optional extra:
    ``pip install 'servicegoals[holidays]'``.

    Raises:
        InvalidInput: a date that is not a date, a country or subdivision the
            ``holidays`` package does not know, or a subdivision without a country.
    """

    dates: frozenset[date] = field(default=frozenset(), converter=_dates)
    country: str | None = field(default=None, validator=_optional_text("holidays.country"))
    subdivision: str | None = field(default=None, validator=_optional_text("holidays.subdivision"))

    def __attrs_post_init__(self) -> None:
        if self.subdivision is not None and self.country is None:
            raise InvalidInput("holidays.subdivision", self.subdivision, "needs a country")
        if self.country is not None:
            _country_days(self.country, self.subdivision, 2000)  # fails now, not mid-measure

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, date):
            return False
        if day in self.dates:
            return True
        return self.country is not None and day in _country_days(
            self.country, self.subdivision, day.year
        )


# -- schedules ---------------------------------------------------------------


def _holidays(value: Any) -> Holidays:
    if not isinstance(value, Holidays):
        raise InvalidInput("holidays", value, "expected a Holidays")
    return value


class _Week:
    """One local week's working intervals as instants (epoch µs), with running sums."""

    __slots__ = ("cum", "end", "ends", "monday", "start", "starts", "total")

    def __init__(self, monday: int, start: int, end: int, intervals: list[tuple[int, int]]) -> None:
        self.monday = monday  # the proleptic ordinal of the local Monday
        self.start = start  # the first instant of local Monday
        self.end = end  # the first instant of the next Monday
        self.starts = [a for a, _ in intervals]
        self.ends = [b for _, b in intervals]
        self.cum: list[int] = []  # working µs before each interval
        total = 0
        for a, b in intervals:
            self.cum.append(total)
            total += b - a
        self.total = total

    def before(self, t: int) -> int:
        """Working µs in ``[start, t)`` for ``start <= t <= end``."""
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return 0
        return self.cum[i] + min(t, self.ends[i]) - self.starts[i]

    def reach(self, worked: int) -> int:
        """The earliest instant with ``before(t) == worked``, for ``0 < worked <= total``."""
        # The interval whose running sum first reaches ``worked``.
        i = bisect_left(self.cum, worked) - 1
        return self.starts[i] + worked - self.cum[i]


@frozen
class Schedule:
    """Business hours: weekly working slots in a time zone, minus holidays.

    Build one with `Schedule.weekly`; ``week`` holds seven tuples of slots,
    Monday first.  A schedule is a `WorkingClock`; its per-week tables are
    computed on first use and kept (the schedule itself never changes).

    Raises:
        InvalidInput: an unknown time zone, slots that overlap (within a day, or
            a night shift running into the next day's slots), or a bad holiday.
    """

    timezone: str = field(converter=_timezone_name)
    week: tuple[tuple[Slot, ...], ...] = field(converter=_week)
    holidays: Holidays = field(default=Holidays(), converter=_holidays)
    _weeks: dict[int, _Week] = field(init=False, factory=dict, eq=False, repr=False)

    @classmethod
    def weekly(
        cls,
        timezone: str,
        *,
        holidays: Iterable[date] = (),
        country: str | None = None,
        subdivision: str | None = None,
        **days: Sequence[Slot | tuple[str | time, str | time]],
    ) -> Schedule:
        """A schedule from slots per day: ``mon=[("09:00", "12:00"), ("13:00", "17:00")]``.

        Days are ``mon`` .. ``sun``; ``mon_fri``, ``sat_sun`` and ``every_day``
        set several at once (a single day given too wins).  A day left out is
        closed; `ALL_DAY` and `CLOSED` name the two extremes.

        Args:
            timezone: the IANA time zone the slots are local to.
            holidays: explicit dates without working time.
            country: a country of the ``holidays`` package (``"US"``).
            subdivision: a state or province of ``country`` (``"NY"``).
            **days: ``(start, end)`` pairs of local times (or `Slot`s) per day or group.

        Raises:
            InvalidInput: an unknown day name, a bad or empty slot, overlapping
                slots, an unknown time zone or holiday country.
        """
        for name in days:
            if name not in _NAMES:
                raise InvalidInput(name, days[name], f"unknown day (known: {', '.join(_NAMES)})")
        week: list[list[tuple[str, int, Slot]]] = [[] for _ in range(7)]
        for name, numbers in _NAMES.items():
            if name in days:
                slots = _day_slots(name, days[name])
                for day in numbers:
                    week[day] = [(f"{name}[{i}]", day, s) for i, s in enumerate(slots)]
        _check_overlaps([item for day in week for item in day])
        return cls(
            timezone,
            tuple(tuple(s for _, _, s in day) for day in week),
            Holidays(_dates(holidays), country, subdivision),
        )

    @property
    def tz(self) -> tzinfo:
        """The schedule's time zone object."""
        return _zone(self.timezone)

    # -- public measures ---------------------------------------------------

    def working_time(self, start: datetime, end: datetime) -> timedelta:
        """The working time between two aware instants (negative when ``end < start``).

        Exact to the microsecond; the instants may be in any time zone.

        Raises:
            InvalidInput: a naive instant, or one outside years 1..9999.
        """
        a, b = self._us("start", start), self._us("end", end)
        if b < a:
            return -timedelta(microseconds=self.working_us(b, a))
        return timedelta(microseconds=self.working_us(a, b))

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The due instant: the earliest one whose working time from ``start`` is ``duration``.

        Returned in ``start``'s time zone.

        Raises:
            InvalidInput: a naive ``start``, a negative ``duration``, or a
                schedule that never works.
        """
        a = self._us("start", start)
        if not isinstance(duration, timedelta):
            raise InvalidInput("duration", duration, "expected a timedelta")
        due = from_us(self.add_working_us(a, duration_us(duration)))
        return due.astimezone(start.tzinfo)

    def working_us(self, start_us: int, end_us: int) -> int:
        """The working time in ``[start_us, end_us)`` in microseconds (0 when empty).

        Costs a few look-ups per week spanned once the weeks are known.
        """
        if end_us <= start_us:
            return 0
        first, last = self._week_of(start_us), self._week_of(end_us)
        if first is last:
            return last.before(end_us) - first.before(start_us)
        worked = first.total - first.before(start_us) + last.before(end_us)
        monday, stop = first.monday + 7, last.monday
        while monday < stop:
            worked += self._week(monday).total
            monday += 7
        return worked

    def add_working_us(self, start_us: int, duration_us: int) -> int:
        """The earliest instant (epoch µs) with ``working_us(start_us, t) == duration_us``.

        Raises:
            InvalidInput: a negative duration, or a schedule that never works.
        """
        if not whole(duration_us) or duration_us < 0:
            raise InvalidInput("duration", duration_us, "expected a duration of at least zero")
        if duration_us == 0:
            return start_us
        if not any(self.week):
            raise InvalidInput("duration", duration_us, "the schedule has no working time")
        week = self._week_of(start_us)
        worked = week.before(start_us) + duration_us
        while worked > week.total:
            worked -= week.total
            if week.end >= _LAST_US:
                raise InvalidInput("duration", duration_us, "due after the year 9999")
            week = self._week_of(week.end)
        return week.reach(worked)

    # -- internals ---------------------------------------------------------

    def _us(self, field: str, value: Any) -> int:
        us = to_us(aware(field, value))
        if not _FIRST_US <= us <= _LAST_US:
            raise InvalidInput(field, value, "outside the supported calendar (years 2..9998)")
        return us

    def _week_of(self, t: int) -> _Week:
        """The local week containing instant ``t``."""
        # The local date is the UTC date or a neighbour (offsets stay within a day).
        ordinal = t // _DAY_US + _EPOCH_ORDINAL
        monday = ordinal - (ordinal - 1) % 7
        try:
            week = self._week(monday)
            if t < week.start:
                return self._week(monday - 7)
            if t >= week.end:
                return self._week(monday + 7)
        except (OverflowError, ValueError):  # beyond the calendar
            raise InvalidInput(
                "instant", t, "expected epoch microseconds within years 2..9998"
            ) from None
        return week

    def _week(self, monday: int) -> _Week:
        """The cached week starting on the local Monday of proleptic ordinal ``monday``."""
        found = self._weeks.get(monday)
        if found is None:
            if len(self._weeks) > 8192:  # a bounded cache: about 150 years of weeks
                self._weeks.clear()
            found = self._weeks[monday] = self._build(monday)
        return found

    def _build(self, monday: int) -> _Week:
        tz = self.tz
        start = _local_us(datetime.fromordinal(monday), tz)
        end = _local_us(datetime.fromordinal(monday + 7), tz)
        intervals = []
        for ordinal in range(monday - 1, monday + 7):  # Sunday's night shift runs into Monday
            day = date.fromordinal(ordinal)
            if day in self.holidays:
                continue
            midnight = datetime.fromordinal(ordinal)
            for slot in self.week[day.weekday()]:
                a = max(start, _local_us(midnight + slot.start, tz))
                b = min(end, _local_us(midnight + slot.end, tz))
                if a < b:
                    intervals.append((a, b))
        return _Week(monday, start, end, intervals)


def _local_us(naive: datetime, tz: tzinfo) -> int:
    """The instant (epoch µs) of a local wall-clock time, by the module's rule.

    A repeated time is its first occurrence (fold=0); a time in a gap is the
    first instant that exists after it, the end of the gap.
    """
    utc = naive.replace(tzinfo=tz).astimezone(UTC)
    back = utc.astimezone(tz)
    if back.replace(tzinfo=None) == naive:
        return to_us(utc)
    # In a gap: fold=0 and fold=1 give instants on both sides of the transition;
    # search for the first instant whose local time is at least ``naive``.
    other = to_us(naive.replace(tzinfo=tz, fold=1).astimezone(UTC))
    lo, hi = sorted((other, to_us(utc)))
    while lo < hi:
        mid = (lo + hi) // 2
        if from_us(mid).astimezone(tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid + 1
    return lo
