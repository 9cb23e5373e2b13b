"""Schedules and working time: properties over DST-changing zones, published cases, errors.

The reference for the property tests reads the contract independently: walk
the span minute by minute, keep the highest local wall-clock time seen so far
(the clock of a helpdesk never goes back), and count the minute when that time
lies inside a slot of a day that is not a holiday.  "The first instant whose
local time is at or after the slot edge" is exactly the documented rule for
edges that do not exist (the end of the gap) or happen twice (the first time).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from servicegoals import InvalidInput
from servicegoals._convert import schedule_from_dict, schedule_to_dict
from servicegoals._validate import from_us, to_us
from servicegoals.calendar import day_start
from servicegoals.testing import raises, schedules
from servicegoals.worktime import (
    ALL_DAY,
    CALENDAR,
    CLOSED,
    Holidays,
    Schedule,
    Slot,
    WorkingClock,
)

ZONES = (
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # a 30-minute shift
    "America/Santiago",  # clocks change at midnight
    "Etc/GMT-3",  # a fixed offset
)
FIRST, LAST = datetime(2024, 1, 1, tzinfo=UTC), datetime(2027, 12, 31, tzinfo=UTC)
DAY_US = 86_400_000_000
MINUTE_US = 60_000_000
NY = ZoneInfo("America/New_York")


def _transitions(zone: str) -> list[int]:
    """UTC days (as epoch µs at midnight) on which ``zone`` changes its offset."""
    tz = ZoneInfo(zone)
    days, day = [], FIRST
    while day < LAST:
        if (day + timedelta(days=1)).astimezone(tz).utcoffset() != day.astimezone(tz).utcoffset():
            days.append(to_us(day))
        day += timedelta(days=1)
    return days


TRANSITIONS = {zone: _transitions(zone) for zone in ZONES}

zoned_schedules = schedules(zones=st.sampled_from(ZONES), holidays=(date(2023, 12, 1), LAST.date()))


#: Minutes of the day around the changes: midnight (Santiago), 01:00 (London), 02:00.
SMALL_HOURS = st.one_of(
    st.sampled_from([0, 30, 60, 90, 105, 120, 135, 150, 165, 180, 210, 1410]),
    st.integers(0, 4 * 60),
    st.integers(0, 1439),
)
#: Slot edges in the small hours on any weekday.
dst_schedules = schedules(
    zones=st.sampled_from(ZONES[:4]),
    holidays=(date(2023, 12, 1), LAST.date()),
    minutes=SMALL_HOURS,
)


@st.composite
def daily_schedules(draw: st.DrawFn) -> Schedule:
    """The same slots every day, edges in the small hours, maybe a night shift."""
    points = sorted(draw(st.sets(SMALL_HOURS, max_size=6)))
    slots = [
        Slot(timedelta(minutes=a), timedelta(minutes=b))
        for a, b in zip(points[::2], points[1::2], strict=False)
    ]
    if len(points) % 2 and len(points) > 1:  # from the last edge overnight to the first
        slots.append(Slot(timedelta(minutes=points[-1]), timedelta(minutes=points[0] + 1440)))
    return Schedule.weekly(draw(st.sampled_from(ZONES[:4])), every_day=slots)


@st.composite
def instants(draw: st.DrawFn, zone: str, *, minutes: bool = False) -> int:
    """An instant in 2024-2027, often within two days of a daylight-saving change."""
    changes = TRANSITIONS[zone]
    near_change: bool = draw(st.booleans())
    if changes and near_change:
        near = draw(st.sampled_from(changes)) + draw(st.integers(-2 * DAY_US, 2 * DAY_US))
    else:
        near = draw(st.integers(to_us(FIRST), to_us(LAST)))
    return near // MINUTE_US * MINUTE_US if minutes else near


@st.composite
def spans(draw: st.DrawFn, zone: str, max_days: int, *, minutes: bool = False) -> tuple[int, int]:
    start = draw(instants(zone, minutes=minutes))
    length = draw(st.integers(0, max_days * DAY_US))
    if minutes:
        length = length // MINUTE_US * MINUTE_US
    return start, start + length


def reference_us(schedule: Schedule, start_us: int, end_us: int) -> int:
    """Working µs in ``[start, end)`` (whole minutes) by a minute walk; see the module doc."""
    tz = ZoneInfo(schedule.timezone)

    def working(local: datetime) -> bool:
        for day in (local.date() - timedelta(days=1), local.date()):
            if day in schedule.holidays.dates:
                continue
            midnight = datetime.combine(day, time())
            for slot in schedule.week[day.weekday()]:
                if midnight + slot.start <= local < midnight + slot.end:
                    return True
        return False

    highest = datetime.min
    minutes = 0
    for minute in range(start_us - DAY_US, end_us, MINUTE_US):  # clocks go back < a day
        local = from_us(minute).astimezone(tz).replace(tzinfo=None)
        highest = max(highest, local)
        if minute >= start_us and working(highest):
            minutes += 1
    return minutes * MINUTE_US


# -- properties ----------------------------------------------------------------


@given(schedule=st.one_of(zoned_schedules, dst_schedules, daily_schedules()), data=st.data())
def test_working_time_is_additive(schedule: Schedule, data: st.DataObject) -> None:
    a, b, c = sorted(data.draw(st.lists(instants(schedule.timezone), min_size=3, max_size=3)))
    assume(c - a <= 70 * DAY_US)
    assert schedule.working_us(a, c) == schedule.working_us(a, b) + schedule.working_us(b, c)
    # working_time is signed, so it adds up in any order.
    x, y, z = (from_us(v) for v in data.draw(st.permutations([a, b, c])))
    assert schedule.working_time(x, z) == schedule.working_time(x, y) + schedule.working_time(y, z)


@given(schedule=zoned_schedules, data=st.data())
def test_never_more_than_wall_clock_time(schedule: Schedule, data: st.DataObject) -> None:
    a, b = data.draw(spans(schedule.timezone, 60))
    assert 0 <= schedule.working_us(a, b) <= b - a
    assert schedule.working_us(b, a) == 0  # an empty interval, as the protocol says
    assert schedule.working_time(from_us(b), from_us(a)) == -schedule.working_time(
        from_us(a), from_us(b)
    )


@given(zone=st.sampled_from(ZONES), data=st.data())
def test_closed_schedule_never_works(zone: str, data: st.DataObject) -> None:
    closed = Schedule.weekly(zone, every_day=CLOSED)
    a, b = data.draw(spans(zone, 60))
    assert closed.working_us(a, b) == 0


@given(zone=st.sampled_from(ZONES), data=st.data())
def test_always_open_schedule_is_wall_clock_time(zone: str, data: st.DataObject) -> None:
    always = Schedule.weekly(zone, every_day=ALL_DAY)
    a, b = data.draw(spans(zone, 60))
    assert always.working_us(a, b) == CALENDAR.working_us(a, b) == b - a
    assert always.add_working_us(a, b - a) == b


@given(schedule=st.one_of(zoned_schedules, dst_schedules, daily_schedules()), data=st.data())
def test_add_working_time_inverts_working_time(schedule: Schedule, data: st.DataObject) -> None:
    assume(any(schedule.week))
    a, b = data.draw(spans(schedule.timezone, 60))
    worked = schedule.working_us(a, b)
    due = schedule.add_working_us(a, worked)
    assert a <= due <= b
    assert schedule.working_us(a, due) == worked
    # The earliest such instant: a microsecond earlier is not enough.
    assert due == a or schedule.working_us(a, due - 1) < worked
    duration = data.draw(st.integers(0, 30 * DAY_US))
    later = schedule.add_working_us(a, duration)
    assert schedule.working_us(a, later) == duration
    assert later == a or schedule.working_us(a, later - 1) < duration


@settings(max_examples=100, deadline=None)
@given(schedule=st.one_of(zoned_schedules, dst_schedules, daily_schedules()), data=st.data())
def test_agrees_with_a_minute_walk(schedule: Schedule, data: st.DataObject) -> None:
    a, b = data.draw(spans(schedule.timezone, 3, minutes=True))
    assert schedule.working_us(a, b) == reference_us(schedule, a, b)


@settings(max_examples=100, deadline=None)
@given(schedule=daily_schedules(), data=st.data())
def test_agrees_with_a_minute_walk_when_clocks_change(
    schedule: Schedule, data: st.DataObject
) -> None:
    # Every day has edges in the small hours, and the span covers a change.
    change = data.draw(st.sampled_from(TRANSITIONS[schedule.timezone]))
    a = change + data.draw(st.integers(-2 * 24 * 60, 0)) * MINUTE_US
    b = change + data.draw(st.integers(1, 3 * 24 * 60)) * MINUTE_US
    assert schedule.working_us(a, b) == reference_us(schedule, a, b)


@given(schedule=zoned_schedules, data=st.data())
def test_instants_in_any_zone(schedule: Schedule, data: st.DataObject) -> None:
    a, b = data.draw(spans(schedule.timezone, 20))
    zones = st.sampled_from(
        [UTC, ZoneInfo("Asia/Tokyo"), timezone(timedelta(hours=-3, minutes=-30))]
    )
    start, end = (from_us(v).astimezone(data.draw(zones)) for v in (a, b))
    assert schedule.working_time(start, end) == timedelta(microseconds=schedule.working_us(a, b))
    due = schedule.add_working_time(start, schedule.working_time(start, end))
    assert due.tzinfo is start.tzinfo
    assert to_us(due) == schedule.add_working_us(a, schedule.working_us(a, b))


@given(zone=st.sampled_from(ZONES), day=st.dates(FIRST.date(), LAST.date()))
def test_whole_days_start_where_calendars_do(zone: str, day: date) -> None:
    # A slot edge at midnight follows the same rule as `day_start`.
    days: dict[str, Any] = {
        ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]: ALL_DAY
    }
    only = Schedule.weekly(zone, **days)
    tz = ZoneInfo(zone)
    start, end = day_start(day, tz), day_start(day + timedelta(days=1), tz)
    assert only.working_time(start - timedelta(days=1), end + timedelta(days=1)) == end - start
    assert only.working_time(start, end) == end - start


def test_a_schedule_is_a_working_clock() -> None:
    assert isinstance(Schedule.weekly("UTC", mon_fri=ALL_DAY), WorkingClock)
    assert isinstance(CALENDAR, WorkingClock)


# -- published cases -------------------------------------------------------------

NINE_TO_FIVE = Schedule.weekly("America/New_York", mon_fri=[("09:00", "17:00")])


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def test_friday_afternoon_ticket_is_due_monday_morning() -> None:
    # Friday 16:00 + 2 working hours on a 9-17 schedule: one hour on Friday, one on Monday.
    due = NINE_TO_FIVE.add_working_time(ny(2026, 3, 6, 16), timedelta(hours=2))
    assert due == ny(2026, 3, 9, 10)
    assert due.tzinfo is NY
    assert NINE_TO_FIVE.working_time(ny(2026, 3, 6, 16), ny(2026, 3, 9, 10)) == timedelta(hours=2)


def test_due_exactly_at_the_end_of_a_slot() -> None:
    # The earliest instant: 17:00 Friday, not 09:00 Monday.
    assert NINE_TO_FIVE.add_working_time(ny(2026, 3, 6, 16), timedelta(hours=1)) == ny(
        2026, 3, 6, 17
    )
    assert NINE_TO_FIVE.add_working_time(ny(2026, 3, 7, 12), timedelta(0)) == ny(2026, 3, 7, 12)


def test_lunch_break() -> None:
    split = Schedule.weekly("America/New_York", mon_fri=[("09:00", "12:00"), ("13:00", "17:00")])
    assert split.add_working_time(ny(2026, 5, 4, 11, 30), timedelta(hours=1)) == ny(
        2026, 5, 4, 13, 30
    )
    assert split.working_time(ny(2026, 5, 4), ny(2026, 5, 5)) == timedelta(hours=7)
    assert split.working_time(ny(2026, 5, 4), ny(2026, 5, 11)) == timedelta(hours=35)


def test_overnight_slots() -> None:
    nights = Schedule.weekly("America/New_York", mon_fri=[("22:00", "06:00")])
    # Friday's night shift runs into Saturday; nobody works Saturday night.
    assert nights.add_working_time(ny(2026, 5, 8, 23), timedelta(hours=4)) == ny(2026, 5, 9, 3)
    assert nights.add_working_time(ny(2026, 5, 8, 23), timedelta(hours=8)) == ny(2026, 5, 11, 23)
    # Monday 00:00-06:00 belongs to Sunday's shift, which does not exist here.
    assert nights.working_time(ny(2026, 5, 11), ny(2026, 5, 11, 12)) == timedelta(0)
    sunday = Schedule.weekly("America/New_York", sun=[("20:00", "04:00")], mon=[("04:00", "08:00")])
    assert sunday.working_time(ny(2026, 5, 10), ny(2026, 5, 12)) == timedelta(hours=12)


def test_holidays() -> None:
    # 2026-07-03 is the observed Independence Day (July 4 is a Saturday).
    us = Schedule.weekly("America/New_York", mon_fri=[("09:00", "17:00")], country="US")
    assert us.add_working_time(ny(2026, 7, 2, 16), timedelta(hours=2)) == ny(2026, 7, 6, 10)
    ours = Schedule.weekly(
        "America/New_York", mon_fri=[("09:00", "17:00")], holidays=[date(2026, 7, 3)]
    )
    assert ours.working_time(ny(2026, 6, 29), ny(2026, 7, 6)) == timedelta(hours=32)
    # A state holiday: Lincoln's Birthday in New York, not nationally.
    ny_state = Schedule.weekly("America/New_York", mon_fri=ALL_DAY, country="US", subdivision="NY")
    assert ny_state.working_time(ny(2026, 2, 12), ny(2026, 2, 13)) == timedelta(0)
    assert us.working_time(ny(2026, 2, 12, 9), ny(2026, 2, 12, 17)) == timedelta(hours=8)


def test_holiday_keeps_the_night_shift_that_started_before_it() -> None:
    nights = Schedule.weekly(
        "America/New_York", every_day=[("22:00", "06:00")], holidays=[date(2026, 12, 25)]
    )
    # The shift of the 24th runs into Christmas morning; the 25th's shift is cancelled.
    assert nights.working_time(ny(2026, 12, 24, 12), ny(2026, 12, 26, 12)) == timedelta(hours=8)
    assert nights.working_time(ny(2026, 12, 25, 5), ny(2026, 12, 25, 7)) == timedelta(hours=1)


def test_night_shift_on_daylight_saving_sundays() -> None:
    nights = Schedule.weekly("America/New_York", sat=[("22:00", "06:00")])
    # Clocks go forward at 02:00 on Sunday 2026-03-08: the shift lasts 7 real hours.
    assert nights.working_time(ny(2026, 3, 7), ny(2026, 3, 9)) == timedelta(hours=7)
    # They go back at 02:00 on Sunday 2026-11-01: 9 real hours.
    assert nights.working_time(ny(2026, 10, 31), ny(2026, 11, 2)) == timedelta(hours=9)
    due = nights.add_working_time(ny(2026, 3, 7, 22), timedelta(hours=4))
    assert due == ny(2026, 3, 8, 3)  # 22:00 + 4 hours of real time is 03:00 EDT


def test_slot_edges_that_do_not_exist_or_happen_twice() -> None:
    # 02:30 does not exist on 2026-03-08: the slot starts at 03:00 EDT, the first instant after.
    gap = Schedule.weekly("America/New_York", sun=[("02:30", "04:00")])
    assert gap.working_time(ny(2026, 3, 8), ny(2026, 3, 9)) == timedelta(hours=1)
    only_gap = Schedule.weekly("America/New_York", sun=[("02:10", "02:50")])
    assert only_gap.working_time(ny(2026, 3, 8), ny(2026, 3, 9)) == timedelta(0)
    # 01:30 happens twice on 2026-11-01: the slot starts at the first, EDT, and ends at 03:00 EST.
    twice = Schedule.weekly("America/New_York", sun=[("01:30", "03:00")])
    assert twice.working_time(ny(2026, 11, 1), ny(2026, 11, 2)) == timedelta(hours=2, minutes=30)
    ends_twice = Schedule.weekly("America/New_York", sun=[("00:00", "01:30")])
    assert ends_twice.working_time(ny(2026, 11, 1), ny(2026, 11, 2)) == timedelta(
        hours=1, minutes=30
    )
    # Santiago's clocks jump from 00:00 to 01:00 on 2026-09-06: midnight does not exist.
    santiago = Schedule.weekly("America/Santiago", sun=[("00:00", "02:00")])
    tz = ZoneInfo("America/Santiago")
    assert santiago.working_time(
        datetime(2026, 9, 5, tzinfo=tz), datetime(2026, 9, 7, tzinfo=tz)
    ) == timedelta(hours=1)


def test_lord_howe_half_hour_shift() -> None:
    tz = ZoneInfo("Australia/Lord_Howe")
    # Clocks go from 02:00 to 02:30 on 2026-10-04 (a Sunday).
    early = Schedule.weekly("Australia/Lord_Howe", sun=[("01:00", "04:00")])
    assert early.working_time(
        datetime(2026, 10, 4, tzinfo=tz), datetime(2026, 10, 5, tzinfo=tz)
    ) == timedelta(hours=2, minutes=30)


def test_working_time_across_many_weeks_and_a_dst_change() -> None:
    # Friday 16:00 to Thursday 10:00 five weeks later: 1 + 4 * 40 + 3 * 8 + 1 hours.
    assert NINE_TO_FIVE.working_time(ny(2026, 3, 6, 16), ny(2026, 4, 9, 10)) == timedelta(hours=186)


def test_slots_read_well() -> None:
    assert Slot.of("22:00", "06:00") == Slot(timedelta(hours=22), timedelta(hours=30))
    assert Slot.of("00:00", "24:00") == Slot(timedelta(0), timedelta(hours=24))
    assert Slot.of(time(9, 15), time(17, 45, 30)).clock_times() == ("09:15", "17:45:30")
    assert Slot.of("22:00", "00:00").clock_times() == ("22:00", "24:00")
    assert Slot.of("22:00", "06:00").overnight
    assert repr(Slot.of("09:00", "17:00")) == "Slot.of('09:00', '17:00')"
    week = Schedule.weekly("UTC", mon_fri=[("09:00", "17:00")], fri=[("09:00", "12:00")]).week
    assert week[3] == (Slot.of("09:00", "17:00"),)
    assert week[4] == (Slot.of("09:00", "12:00"),)
    assert week[5] == week[6] == ()
    # Slots are kept in order, so equal schedules compare equal.
    assert Schedule.weekly("UTC", mon=[("13:00", "17:00"), ("09:00", "12:00")]) == Schedule.weekly(
        "UTC", mon=[("09:00", "12:00"), ("13:00", "17:00")]
    )


def test_a_schedule_is_immutable_and_hashable() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        NINE_TO_FIVE.timezone = "UTC"  # type: ignore[misc]
    NINE_TO_FIVE.working_us(0, DAY_US * 30)  # fills its cache of weeks
    assert hash(NINE_TO_FIVE) == hash(
        Schedule.weekly("America/New_York", mon_fri=[("09:00", "17:00")])
    )


# -- bad input ---------------------------------------------------------------------

#: An untyped caller: wrong types get past mypy to the checks.
untyped: Any = Schedule


def test_naive_instants_are_refused() -> None:
    naive = datetime(2026, 3, 6, 16)
    with raises(InvalidInput, "start", naive):
        NINE_TO_FIVE.working_time(naive, ny(2026, 3, 9))
    with raises(InvalidInput, "end", naive):
        NINE_TO_FIVE.working_time(ny(2026, 3, 2), naive)
    with raises(InvalidInput, "start", naive):
        NINE_TO_FIVE.add_working_time(naive, timedelta(hours=1))


def test_bad_durations() -> None:
    with raises(InvalidInput, "duration", -1):
        NINE_TO_FIVE.add_working_us(0, -1)
    with raises(InvalidInput, "duration", "PT1H"):
        NINE_TO_FIVE.add_working_time(ny(2026, 3, 6), "PT1H")  # type: ignore[arg-type]
    with raises(InvalidInput, "duration", 1):
        Schedule.weekly("UTC").add_working_us(0, 1)
    with raises(InvalidInput, "duration", True):
        NINE_TO_FIVE.add_working_us(0, True)


def test_instants_beyond_the_calendar() -> None:
    late = datetime(9999, 6, 1, tzinfo=UTC)
    with raises(InvalidInput, "end", late):
        NINE_TO_FIVE.working_time(ny(2026, 3, 6), late)
    with raises(InvalidInput, "instant", 10**20):
        NINE_TO_FIVE.working_us(0, 10**20)
    with raises(InvalidInput, "instant", -(10**20)):
        NINE_TO_FIVE.working_us(-(10**20), 0)


def test_unknown_zone() -> None:
    with raises(InvalidInput, "timezone", "Mars/Olympus_Mons"):
        Schedule.weekly("Mars/Olympus_Mons", mon_fri=ALL_DAY)


@pytest.mark.parametrize(
    ("days", "field", "value"),
    [
        ({"mon": [("09:00", "12:00"), ("11:00", "13:00")]}, "mon[1]", ("11:00", "13:00")),
        (
            {"mon_fri": [("22:00", "06:00")], "tue": [("05:00", "09:00")]},
            "tue[0]",
            ("05:00", "09:00"),
        ),
        ({"sun": [("22:00", "02:00")], "mon": [("01:00", "09:00")]}, "mon[0]", ("01:00", "09:00")),
        ({"mon": [("09:00", "09:00")]}, "mon[0].end", "09:00"),
        ({"mon": [("09:00", "25:00")]}, "mon[0].end", "25:00"),
        ({"mon": [("9am", "5pm")]}, "mon[0].start", "9am"),
        ({"mon": [("09:00",)]}, "mon[0]", ("09:00",)),
        ({"mon": "09:00-17:00"}, "mon", "09:00-17:00"),
        ({"monday": ALL_DAY}, "monday", ALL_DAY),
    ],
)
def test_bad_slots(days: dict[str, Any], field: str, value: Any) -> None:
    with raises(InvalidInput, field, value):
        untyped.weekly("America/New_York", **days)


def test_bad_slot_objects() -> None:
    with raises(InvalidInput, "end", timedelta(hours=9)):
        Slot(timedelta(hours=9), timedelta(hours=9))
    with raises(InvalidInput, "start", timedelta(hours=24)):
        Slot(timedelta(hours=24), timedelta(hours=25))
    with raises(InvalidInput, "end", timedelta(hours=9, microseconds=1)):
        Slot(timedelta(hours=8), timedelta(hours=9, microseconds=1))
    with raises(InvalidInput, "week", ()):
        untyped("UTC", ())
    with raises(InvalidInput, "week[0][0]", "09:00"):
        untyped("UTC", (("09:00",), (), (), (), (), (), ()))


def test_bad_holidays() -> None:
    with raises(InvalidInput, "holidays.country", "Atlantis"):
        Schedule.weekly("UTC", mon_fri=ALL_DAY, country="Atlantis")
    with raises(InvalidInput, "holidays.subdivision", "XX"):
        Schedule.weekly("UTC", mon_fri=ALL_DAY, country="US", subdivision="XX")
    with raises(InvalidInput, "holidays.subdivision", "NY"):
        Holidays(subdivision="NY")
    with raises(InvalidInput, "holidays.dates[1]", "2026-12-25"):
        untyped.weekly("UTC", holidays=[date(2026, 12, 24), "2026-12-25"])
    with raises(InvalidInput, "holidays", None):
        untyped("UTC", ((),) * 7, None)


# -- plain data ------------------------------------------------------------------


@given(schedule=schedules())
def test_plain_data_round_trip(schedule: Schedule) -> None:
    assert schedule_from_dict(schedule_to_dict(schedule)) == schedule


def test_plain_data_reads_well() -> None:
    data = {
        "timezone": "America/New_York",
        "week": {"mon_fri": [["09:00", "12:00"], ["13:00", "17:00"]], "sun": [["22:00", "06:00"]]},
        "holidays": {"dates": ["2026-12-24"], "country": "US", "subdivision": "NY"},
    }
    schedule = schedule_from_dict(data)
    assert schedule == Schedule.weekly(
        "America/New_York",
        mon_fri=[("09:00", "12:00"), ("13:00", "17:00")],
        sun=[("22:00", "06:00")],
        holidays=[date(2026, 12, 24)],
        country="US",
        subdivision="NY",
    )
    out = schedule_to_dict(schedule)
    assert out["week"]["fri"] == [["09:00", "12:00"], ["13:00", "17:00"]]
    assert out["holidays"] == data["holidays"]
    assert schedule_to_dict(Schedule.weekly("UTC")) == {"timezone": "UTC", "week": {}}


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        ({"timezone": "Mars/Base"}, "schedule.timezone", "Mars/Base"),
        ({"week": {"mon": [["09:00", "09:00"]]}}, "schedule.week.mon[0].end", "09:00"),
        (
            {"week": {"tue": [["09:00", "12:00"], ["11:00", "13:00"]]}},
            "schedule.week.tue[1]",
            ("11:00", "13:00"),
        ),
        ({"week": {"funday": []}}, "schedule.week.funday", []),
        ({"week": "9-5"}, "schedule.week", "9-5"),
        ({"holidays": {"dates": ["2026-13-01"]}}, "schedule.holidays.dates[0]", "2026-13-01"),
        ({"holidays": {"country": "ZZ"}}, "schedule.holidays.country", "ZZ"),
        (
            {"holidays": {"country": "US", "subdivision": "XX"}},
            "schedule.holidays.subdivision",
            "XX",
        ),
        ({"holidays": {"region": "NY"}}, "schedule.holidays.region", "region"),
        ({"extra": 1}, "schedule.extra", "extra"),
    ],
)
def test_plain_data_errors_are_located(change: dict[str, Any], field: str, value: Any) -> None:
    data = {"timezone": "UTC", "week": {"mon": [["09:00", "17:00"]]}, **change}
    with raises(InvalidInput, field, value):
        schedule_from_dict(data)
    with raises(InvalidInput, "schedule"):
        schedule_to_dict(data)  # type: ignore[arg-type]


def test_the_benchmark_day_walk_agrees() -> None:
    # bench/worktime.py checks its figures against this naive walk over every local day.
    from bench import worktime as bench

    schedule = bench.office()
    for a, b in bench.spans(300, seed=7):
        assert schedule.working_us(a, b) == bench.day_walk(schedule, a, b)
