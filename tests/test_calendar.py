"""Calendars: periods, fiscal years, local-midnight boundaries and milestones.

The property tests run over random time zones (the tricky ones of
``TRICKY_TIMEZONES`` and any key the system knows), fiscal start months,
week starts, cadences and spans from one day to ten years.  The checks use an
independent reading of the contract: a boundary is the first instant of a local
day, and each milestone's label names the calendar unit it belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from itertools import pairwise
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

import servicegoals
from servicegoals import (
    AccountSettings,
    Cadence,
    InvalidInput,
    Milestone,
    Period,
    Weekday,
    calendar_year,
    date_range,
    day_start,
    fiscal_year,
    milestones,
)
from servicegoals.testing import TRICKY_TIMEZONES, account_settings, periods, raises, timezones

US = timedelta(microseconds=1)
#: The library as an untyped caller sees it: wrong types get past mypy to the checks.
sg: Any = servicegoals
UNIT_MONTHS = {Cadence.MONTHLY: 1, Cadence.QUARTERLY: 3, Cadence.YEARLY: 12}
UNIT_CADENCES = [Cadence.WEEKLY, Cadence.MONTHLY, Cadence.QUARTERLY, Cadence.YEARLY]


# -- an independent reading of the contract ---------------------------------------


def local_date(instant: datetime, tz: tzinfo) -> date:
    return instant.astimezone(tz).date()


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def next_unit(first: date, cadence: Cadence) -> date:
    if cadence is Cadence.WEEKLY:
        return first + timedelta(days=7)
    return add_months(first, UNIT_MONTHS[cadence])


def fiscal_year_start(fy: int, start_month: int) -> date:
    """FYn is named by the calendar year it ends in."""
    return date(fy, 1, 1) if start_month == 1 else date(fy - 1, start_month, 1)


def unit_first_day(label: str, cadence: Cadence, settings: AccountSettings, aligned: bool) -> date:
    """The first day of the calendar unit a milestone label names (asserting its format)."""
    fiscal = settings.fiscal_year_start_month
    patterns = {
        (Cadence.WEEKLY, False): r"(\d{4})-(\d{2})-(\d{2})",
        (Cadence.MONTHLY, False): r"(\d{4})-(\d{2})",
        (Cadence.QUARTERLY, False): r"(\d{4})-Q([1-4])",
        (Cadence.QUARTERLY, True): r"FY(\d{4})-Q([1-4])",
        (Cadence.YEARLY, False): r"(\d{4})",
        (Cadence.YEARLY, True): r"FY(\d{4})",
    }
    # Weeks and months are the same whether or not the goal is aligned.
    key = (cadence, aligned and cadence in (Cadence.QUARTERLY, Cadence.YEARLY))
    match = re.fullmatch(patterns[key], label)
    assert match is not None, f"label {label!r} does not fit {cadence}, aligned={aligned}"
    parts = [int(p) for p in match.groups()]
    if cadence is Cadence.WEEKLY:
        return date(*parts)
    if cadence is Cadence.MONTHLY:
        return date(parts[0], parts[1], 1)
    first = fiscal_year_start(parts[0], fiscal) if key[1] else date(parts[0], 1, 1)
    quarter = parts[1] if cadence is Cadence.QUARTERLY else 1
    return add_months(first, 3 * (quarter - 1))


def starts_a_unit(day: date, cadence: Cadence, settings: AccountSettings, aligned: bool) -> bool:
    if cadence is Cadence.WEEKLY:
        return day.weekday() == settings.week_start
    first_month = settings.fiscal_year_start_month if aligned else 1
    return day.day == 1 and (day.month - first_month) % UNIT_MONTHS[cadence] == 0


def assert_first_instant_of(instant: datetime, day: date, tz: tzinfo) -> None:
    """``instant`` is the first instant of local ``day``.

    The microsecond before is on an earlier day; the instant itself is on ``day``,
    or on a later day only when the zone skipped ``day`` entirely (Pacific/Apia
    went from 2011-12-29 straight to 2011-12-31).
    """
    assert local_date(instant - US, tz) < day <= local_date(instant, tz), (instant, day)


def check_partition(ms: tuple[Milestone, ...], span: Period) -> None:
    assert [m.index for m in ms] == list(range(len(ms)))
    assert ms[0].period.start == span.start
    assert ms[-1].period.end == span.end
    for a, b in pairwise(ms):
        assert a.period.end == b.period.start
    assert len({m.label for m in ms}) == len(ms)


def check_milestones(
    cadence: Cadence, span: Period, settings: AccountSettings, aligned: bool
) -> tuple[Milestone, ...]:
    """Every promise ``milestones()`` makes, for one input."""
    tz = settings.tz
    ms = milestones(cadence, span, settings, align_to_fiscal_year=aligned)
    check_partition(ms, span)
    if cadence is Cadence.CUSTOM:
        assert ms == (Milestone(0, span, ms[0].label),)
        first, last = local_date(span.start, tz), local_date(span.end - US, tz)
        assert ms[0].label == f"{first.isoformat()}..{last.isoformat()}"
        return ms
    firsts = [unit_first_day(m.label, cadence, settings, aligned) for m in ms]
    for day in firsts:
        assert starts_a_unit(day, cadence, settings, aligned), day
    for a, b in pairwise(firsts):
        assert b == next_unit(a, cadence)
    for m, day in zip(ms[1:], firsts[1:], strict=True):
        assert_first_instant_of(m.period.start, day, tz)
    # The first and last units overlap the span and are clipped to it.
    assert day_start(firsts[0], tz) <= span.start
    assert day_start(next_unit(firsts[-1], cadence), tz) >= span.end
    return ms


def settings_and_span(**period_options: Any) -> st.SearchStrategy[tuple[AccountSettings, Period]]:
    return account_settings(zones=timezones()).flatmap(
        lambda s: st.tuples(st.just(s), periods(s, **period_options))
    )


# -- properties ---------------------------------------------------------------------


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("cadence", UNIT_CADENCES)
@given(drawn=settings_and_span(max_days=3653))
def test_milestones_partition_the_span_into_calendar_units(
    cadence: Cadence, aligned: bool, drawn: tuple[AccountSettings, Period]
) -> None:
    settings, span = drawn
    check_milestones(cadence, span, settings, aligned)


@given(drawn=settings_and_span(max_days=3653))
def test_a_custom_duration_has_one_milestone_the_span(
    drawn: tuple[AccountSettings, Period],
) -> None:
    settings, span = drawn
    check_milestones(Cadence.CUSTOM, span, settings, False)
    with raises(InvalidInput, "align_to_fiscal_year", True):
        milestones(Cadence.CUSTOM, span, settings, align_to_fiscal_year=True)


@given(zone=timezones(), day=st.dates(date(1900, 1, 1), date(2200, 12, 31)))
def test_day_start_is_the_first_instant_of_the_local_day(zone: str, day: date) -> None:
    tz = AccountSettings(timezone=zone).tz
    start = day_start(day, tz)
    assert start.tzinfo is UTC
    assert_first_instant_of(start, day, tz)


@given(
    settings=account_settings(),
    first=st.dates(date(1970, 1, 1), date(2099, 12, 31)),
    days=st.integers(1, 3653),
)
def test_date_range_is_inclusive_of_both_dates(
    settings: AccountSettings, first: date, days: int
) -> None:
    last = first + timedelta(days=days - 1)
    tz = settings.tz
    exists = [local_date(day_start(d, tz), tz) == d for d in (first, last)]
    if all(exists):  # not a day that the zone skipped
        period = date_range(first, last, settings)
        assert period.start == day_start(first, tz)
        assert period.end == day_start(last + timedelta(days=1), tz)
        assert local_date(period.start, tz) == first
        assert local_date(period.end - US, tz) == last
        (custom,) = milestones(Cadence.CUSTOM, period, settings)
        assert custom.label == f"{first.isoformat()}..{last.isoformat()}"


@given(settings=account_settings(), fy=st.integers(1902, 2200))
def test_fiscal_years_are_named_by_the_year_they_end_in(settings: AccountSettings, fy: int) -> None:
    month = settings.fiscal_year_start_month
    period = fiscal_year(fy, settings)
    assert period == date_range(
        fiscal_year_start(fy, month),
        fiscal_year_start(fy + 1, month) - timedelta(days=1),
        settings,
    )
    assert local_date(period.end - US, settings.tz).year == fy
    (year,) = check_milestones(Cadence.YEARLY, period, settings, True)
    assert year.label == f"FY{fy}"
    quarters = check_milestones(Cadence.QUARTERLY, period, settings, True)
    assert [q.label for q in quarters] == [f"FY{fy}-Q{q}" for q in range(1, 5)]


@given(settings=account_settings(), year=st.integers(1901, 2200))
def test_calendar_years_have_one_yearly_milestone(settings: AccountSettings, year: int) -> None:
    period = calendar_year(year, settings)
    assert period == date_range(date(year, 1, 1), date(year, 12, 31), settings)
    (unit,) = check_milestones(Cadence.YEARLY, period, settings, False)
    assert unit.label == f"{year}"
    months = check_milestones(Cadence.MONTHLY, period, settings, False)
    assert [m.label for m in months] == [f"{year}-{m:02d}" for m in range(1, 13)]


def milestones_or_error(
    cadence: Cadence, span: Period, settings: AccountSettings
) -> tuple[Milestone, ...] | InvalidInput:
    try:
        return milestones(cadence, span, settings)
    except InvalidInput as exc:
        return exc


@given(
    zone=timezones(),
    cadence=st.sampled_from(Cadence),
    start=st.datetimes(datetime(1, 1, 1), datetime(1, 3, 1)) | st.datetimes(datetime(9999, 10, 1)),
    days=st.integers(1, 90),
)
def test_spans_at_the_ends_of_the_calendar_fail_cleanly(
    zone: str, cadence: Cadence, start: datetime, days: int
) -> None:
    """Milestones at years 1 and 9999 either work or raise InvalidInput, never crash."""
    settings = AccountSettings(timezone=zone)
    try:
        span = Period(start.replace(tzinfo=UTC), start.replace(tzinfo=UTC) + timedelta(days=days))
    except OverflowError:  # past datetime.max: not a span anyone can give
        return
    result = milestones_or_error(cadence, span, settings)
    if isinstance(result, InvalidInput):
        assert result.field == "span"
    else:
        check_partition(result, span)


@pytest.mark.parametrize("zone", TRICKY_TIMEZONES)
def test_a_decade_of_milestones_in_each_tricky_zone(zone: str) -> None:
    """Every cadence over 2020–2029, from midnight and from odd instants."""
    spans: list[Callable[[AccountSettings], Period]] = [
        lambda s: date_range(date(2020, 1, 1), date(2029, 12, 31), s),
        lambda s: Period(
            datetime(2020, 3, 8, 5, 30, 0, 1, tzinfo=UTC),
            datetime(2030, 11, 3, 4, 59, 59, 999_999, tzinfo=UTC),
        ),
    ]
    for start_month in (1, 2, 4, 10):
        for week_start in (Weekday.MONDAY, Weekday.SUNDAY):
            settings = AccountSettings(zone, start_month, week_start)
            for make_span in spans:
                span = make_span(settings)
                check_milestones(Cadence.CUSTOM, span, settings, False)
                for cadence in UNIT_CADENCES:
                    for aligned in (False, True):
                        check_milestones(cadence, span, settings, aligned)


# -- examples: fiscal years and quarters ----------------------------------------------------


def local(settings: AccountSettings, year: int, month: int, day: int) -> datetime:
    """Midnight of a local date in the account's zone."""
    return datetime(year, month, day, tzinfo=settings.tz)


def local_dates(period: Period, settings: AccountSettings) -> tuple[date, date]:
    """The first and last local date of a period."""
    return local_date(period.start, settings.tz), local_date(period.end - US, settings.tz)


def test_fiscal_year_2027_with_start_month_4() -> None:
    account = AccountSettings(timezone="Europe/Oslo", fiscal_year_start_month=4)
    fy = fiscal_year(2027, account)
    assert fy.start == local(account, 2026, 4, 1)
    assert fy.end == local(account, 2027, 4, 1)
    assert [
        m.label for m in milestones(Cadence.YEARLY, fy, account, align_to_fiscal_year=True)
    ] == ["FY2027"]


def test_start_month_1_makes_fiscal_and_calendar_years_the_same() -> None:
    account = AccountSettings(timezone="America/New_York")
    assert fiscal_year(2026, account) == calendar_year(2026, account)
    assert calendar_year(2026, account).start == local(account, 2026, 1, 1)


def test_aligned_goals_get_fiscal_labels_even_with_start_month_1() -> None:
    account = AccountSettings()
    year = calendar_year(2026, account)
    quarters = milestones(Cadence.QUARTERLY, year, account, align_to_fiscal_year=True)
    assert [q.label for q in quarters] == ["FY2026-Q1", "FY2026-Q2", "FY2026-Q3", "FY2026-Q4"]
    plain = milestones(Cadence.QUARTERLY, year, account)
    assert [q.label for q in plain] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert [q.period for q in quarters] == [q.period for q in plain]


def test_fiscal_quarters_with_start_month_2_start_in_feb_may_aug_nov() -> None:
    account = AccountSettings(fiscal_year_start_month=2)
    fy = fiscal_year(2027, account)
    quarters = milestones(Cadence.QUARTERLY, fy, account, align_to_fiscal_year=True)
    assert [local_dates(q.period, account) for q in quarters] == [
        (date(2026, 2, 1), date(2026, 4, 30)),
        (date(2026, 5, 1), date(2026, 7, 31)),
        (date(2026, 8, 1), date(2026, 10, 31)),
        (date(2026, 11, 1), date(2027, 1, 31)),
    ]
    assert [q.label for q in quarters] == ["FY2027-Q1", "FY2027-Q2", "FY2027-Q3", "FY2027-Q4"]
    # Not aligned: calendar quarters, the first and last clipped to the fiscal year.
    calendar = milestones(Cadence.QUARTERLY, fy, account)
    assert [q.label for q in calendar] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "2027-Q1"]
    assert local_dates(calendar[0].period, account) == (date(2026, 2, 1), date(2026, 3, 31))
    assert local_dates(calendar[-1].period, account) == (date(2027, 1, 1), date(2027, 1, 31))


# -- examples: daylight saving -----------------------------------------------------------


def test_march_in_new_york_is_31_days_minus_an_hour() -> None:
    account = AccountSettings(timezone="America/New_York")
    months = milestones(Cadence.MONTHLY, calendar_year(2026, account), account)
    assert months[2].label == "2026-03"
    assert months[2].period.duration == timedelta(days=31, hours=-1)
    assert months[10].period.duration == timedelta(days=30, hours=1)
    assert months[0].period.duration == timedelta(days=31)


def test_santiago_day_without_midnight_starts_at_one() -> None:
    account = AccountSettings(timezone="America/Santiago", week_start=Weekday.SUNDAY)
    tz = account.tz
    start = day_start(date(2026, 9, 6), tz)
    assert start == datetime(2026, 9, 6, 4, tzinfo=UTC)
    assert start.astimezone(tz).isoformat() == "2026-09-06T01:00:00-03:00"
    assert local_date(start - US, tz) == date(2026, 9, 5)
    # The day before is 24 hours long and ends where the new day starts.
    assert date_range(date(2026, 9, 5), date(2026, 9, 5), account).duration == timedelta(hours=24)
    # A weekly boundary on that Sunday is at 01:00 local.
    weeks = milestones(
        Cadence.WEEKLY, date_range(date(2026, 9, 1), date(2026, 9, 10), account), account
    )
    assert [w.label for w in weeks] == ["2026-08-30", "2026-09-06"]
    assert weeks[1].period.start == start


def test_havana_day_without_midnight_starts_at_one() -> None:
    tz = AccountSettings(timezone="America/Havana").tz
    start = day_start(date(2026, 3, 8), tz)
    assert start.astimezone(tz).isoformat() == "2026-03-08T01:00:00-04:00"


def test_a_repeated_midnight_starts_the_day_the_first_time() -> None:
    # Havana leaves daylight saving at 01:00, back to 00:00 on 2026-11-01.
    account = AccountSettings(timezone="America/Havana", week_start=Weekday.SUNDAY)
    tz = account.tz
    first = datetime(2026, 11, 1, 4, tzinfo=UTC)
    second = datetime(2026, 11, 1, 5, tzinfo=UTC)
    assert first.astimezone(tz).isoformat() == "2026-11-01T00:00:00-04:00"
    assert second.astimezone(tz).isoformat() == "2026-11-01T00:00:00-05:00"
    assert day_start(date(2026, 11, 1), tz) == first
    assert date_range(date(2026, 11, 1), date(2026, 11, 1), account).duration == timedelta(hours=25)
    weeks = milestones(
        Cadence.WEEKLY, date_range(date(2026, 10, 28), date(2026, 11, 3), account), account
    )
    assert weeks[1].period.start == first
    assert second in weeks[1].period


def test_a_day_the_zone_skipped_starts_with_the_next_day() -> None:
    # Samoa skipped Friday 30 December 2011, moving across the date line.
    account = AccountSettings(timezone="Pacific/Apia", week_start=Weekday.FRIDAY)
    tz = account.tz
    assert day_start(date(2011, 12, 30), tz) == day_start(date(2011, 12, 31), tz)
    span = date_range(date(2011, 12, 20), date(2012, 1, 10), account)
    weeks = check_milestones(Cadence.WEEKLY, span, account, False)
    assert [w.label for w in weeks] == ["2011-12-16", "2011-12-23", "2011-12-30", "2012-01-06"]
    assert weeks[2].period.start.astimezone(tz).isoformat() == "2011-12-31T00:00:00+14:00"
    assert weeks[1].period.duration == timedelta(days=7)
    assert weeks[2].period.duration == timedelta(days=6)  # six local days exist


def test_lord_howe_half_hour_shift_and_kathmandu_quarter_hour_offset() -> None:
    howe = AccountSettings(timezone="Australia/Lord_Howe")
    april = milestones(Cadence.MONTHLY, calendar_year(2026, howe), howe)[3]
    assert april.period.duration == timedelta(days=30, minutes=30)
    kathmandu = AccountSettings(timezone="Asia/Kathmandu")
    assert calendar_year(2026, kathmandu).start == datetime(2025, 12, 31, 18, 15, tzinfo=UTC)


def test_period_stores_utc_and_compares_instants() -> None:
    oslo = AccountSettings(timezone="Europe/Oslo").tz
    period = Period(datetime(2026, 3, 29, tzinfo=oslo), datetime(2026, 3, 30, tzinfo=oslo))
    assert period.start.tzinfo is UTC
    assert period.end.tzinfo is UTC
    assert period.duration == timedelta(hours=23)  # wall clocks would say 24
    assert period.start_us == 1_774_738_800_000_000
    assert period.end_us - period.start_us == 23 * 3_600_000_000
    assert datetime(2026, 3, 29, 21, 59, tzinfo=UTC) in period
    assert datetime(2026, 3, 29, 22, tzinfo=UTC) not in period
    assert "2026-03-29" not in period
    other = Period(datetime(2026, 3, 29, 21, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    assert period.overlaps(other)
    assert not period.overlaps(Period(period.end, other.end))


# -- examples: weeks, custom durations, labels ----------------------------------------------


@pytest.mark.parametrize(
    ("week_start", "first", "last", "count"),
    [
        (Weekday.MONDAY, ("2025-12-29", 4), ("2026-12-28", 4), 53),
        (Weekday.SUNDAY, ("2025-12-28", 3), ("2026-12-27", 5), 53),
        (Weekday.THURSDAY, ("2026-01-01", 7), ("2026-12-31", 1), 53),
    ],
)
def test_a_weekly_calendar_year_goal_has_partial_first_and_last_weeks(
    week_start: Weekday, first: tuple[str, int], last: tuple[str, int], count: int
) -> None:
    account = AccountSettings(timezone="Europe/Oslo", week_start=week_start)
    weeks = milestones(Cadence.WEEKLY, calendar_year(2026, account), account)
    assert len(weeks) == count
    for week, (label, days) in ((weeks[0], first), (weeks[-1], last)):
        assert week.label == label  # the unit's first day, even when clipped
        start, end = local_dates(week.period, account)
        assert (end - start).days + 1 == days
    assert local_dates(weeks[0].period, account)[0] == date(2026, 1, 1)
    assert local_dates(weeks[-1].period, account)[1] == date(2026, 12, 31)
    assert all(date.fromisoformat(w.label).weekday() == week_start for w in weeks)


def test_custom_end_dates_are_inclusive() -> None:
    account = AccountSettings(timezone="Europe/Oslo")
    span = date_range(date(2026, 3, 15), date(2026, 4, 14), account)
    assert span.start == local(account, 2026, 3, 15)
    assert span.end == local(account, 2026, 4, 15)
    assert span.duration == timedelta(days=31, hours=-1)  # Oslo springs forward on 29 March
    (only,) = milestones(Cadence.CUSTOM, span, account)
    assert only == Milestone(0, span, "2026-03-15..2026-04-14")
    one_day = date_range(date(2026, 3, 15), date(2026, 3, 15), account)
    assert one_day.duration == timedelta(days=1)


@pytest.mark.parametrize(
    ("cadence", "aligned", "label"),
    [
        (Cadence.WEEKLY, False, "2026-03-30"),
        (Cadence.MONTHLY, False, "2026-04"),
        (Cadence.QUARTERLY, False, "2026-Q2"),
        (Cadence.QUARTERLY, True, "FY2027-Q1"),
        (Cadence.YEARLY, False, "2026"),
        (Cadence.YEARLY, True, "FY2027"),
        (Cadence.CUSTOM, False, "2026-04-01..2026-04-01"),
    ],
)
def test_labels(cadence: Cadence, aligned: bool, label: str) -> None:
    account = AccountSettings(timezone="Asia/Kathmandu", fiscal_year_start_month=4)
    april_first = date_range(date(2026, 4, 1), date(2026, 4, 1), account)
    (milestone,) = milestones(cadence, april_first, account, align_to_fiscal_year=aligned)
    assert milestone.label == label


def test_instants_in_any_zone_give_the_same_milestones() -> None:
    account = AccountSettings(timezone="America/New_York")
    utc = Period(datetime(2026, 3, 15, 4, tzinfo=UTC), datetime(2026, 5, 1, 4, tzinfo=UTC))
    plus = timezone(timedelta(hours=9))
    shifted = Period(utc.start.astimezone(plus), utc.end.astimezone(plus))
    assert shifted == utc
    assert milestones(Cadence.MONTHLY, shifted, account) == milestones(
        Cadence.MONTHLY, utc, account
    )
    labels = [m.label for m in milestones(Cadence.MONTHLY, utc, account)]
    assert labels == ["2026-03", "2026-04"]  # 04:00 UTC on 1 May is midnight in New York


def test_exactly_twenty_years_is_allowed() -> None:
    account = AccountSettings(timezone="Europe/Oslo")
    span = date_range(date(2000, 1, 1), date(2019, 12, 31), account)
    assert len(milestones(Cadence.YEARLY, span, account)) == 20


# -- validation -------------------------------------------------------------------------

AWARE = datetime(2026, 1, 1, tzinfo=UTC)
NAIVE = datetime(2026, 1, 1)
SPAN = Period(AWARE, AWARE + timedelta(days=30))
UTC_ACCOUNT = AccountSettings()
TOO_LONG = date_range(date(2000, 1, 1), date(2020, 1, 1), UTC_ACCOUNT)
BARELY_TOO_LONG = Period(AWARE, datetime(2046, 1, 1, tzinfo=UTC) + US)


@pytest.mark.parametrize(
    ("call", "field", "value"),
    [
        (lambda: Period(NAIVE, AWARE), "start", NAIVE),
        (lambda: Period(AWARE, NAIVE), "end", NAIVE),
        (lambda: Period("2026-01-01", AWARE), "start", "2026-01-01"),
        (lambda: Period(AWARE, date(2026, 2, 1)), "end", date(2026, 2, 1)),
        (lambda: Period(AWARE, AWARE), "end", AWARE),
        (lambda: Period(AWARE, AWARE - US), "end", AWARE - US),
        (lambda: NAIVE in SPAN, "instant", NAIVE),
        (lambda: AccountSettings(timezone="Mars/Olympus_Mons"), "timezone", "Mars/Olympus_Mons"),
        (lambda: AccountSettings(timezone="../../etc/passwd"), "timezone", "../../etc/passwd"),
        (lambda: AccountSettings(timezone=""), "timezone", ""),
        (lambda: AccountSettings(timezone=3), "timezone", 3),
        (lambda: AccountSettings(fiscal_year_start_month=0), "fiscal_year_start_month", 0),
        (lambda: AccountSettings(fiscal_year_start_month=13), "fiscal_year_start_month", 13),
        (lambda: AccountSettings(fiscal_year_start_month=True), "fiscal_year_start_month", True),
        (lambda: AccountSettings(fiscal_year_start_month="4"), "fiscal_year_start_month", "4"),
        (lambda: AccountSettings(fiscal_year_start_month=4.0), "fiscal_year_start_month", 4.0),
        (lambda: AccountSettings(week_start=7), "week_start", 7),
        (lambda: AccountSettings(week_start=True), "week_start", True),
        (lambda: AccountSettings(week_start="Funday"), "week_start", "Funday"),
        (
            lambda: date_range(date(2026, 2, 1), date(2026, 1, 31), UTC_ACCOUNT),
            "last_day",
            date(2026, 1, 31),
        ),
        (lambda: date_range(NAIVE, date(2026, 1, 31), UTC_ACCOUNT), "first_day", NAIVE),
        (
            lambda: sg.date_range(date(2026, 1, 1), "2026-01-31", UTC_ACCOUNT),
            "last_day",
            "2026-01-31",
        ),
        (lambda: sg.calendar_year("2026", UTC_ACCOUNT), "year", "2026"),
        (lambda: calendar_year(0, UTC_ACCOUNT), "year", 0),
        (lambda: sg.fiscal_year(2026.0, UTC_ACCOUNT), "fiscal_year", 2026.0),
        (lambda: milestones(Cadence.MONTHLY, TOO_LONG, UTC_ACCOUNT), "span", TOO_LONG),
        (lambda: milestones(Cadence.CUSTOM, BARELY_TOO_LONG, UTC_ACCOUNT), "span", BARELY_TOO_LONG),
        (lambda: sg.milestones("monthly", SPAN, UTC_ACCOUNT), "cadence", "monthly"),
        (
            lambda: sg.milestones(Cadence.MONTHLY, (AWARE, AWARE), UTC_ACCOUNT),
            "span",
            (AWARE, AWARE),
        ),
        (
            lambda: sg.milestones(Cadence.MONTHLY, SPAN, {"timezone": "UTC"}),
            "settings",
            {"timezone": "UTC"},
        ),
        (
            lambda: sg.milestones(Cadence.MONTHLY, SPAN, UTC_ACCOUNT, align_to_fiscal_year="yes"),
            "align_to_fiscal_year",
            "yes",
        ),
    ],
)
def test_invalid_input_names_the_field_and_the_value(call: Any, field: str, value: object) -> None:
    with raises(InvalidInput, field, value):
        call()


def test_week_start_accepts_names_and_numbers() -> None:
    assert AccountSettings(week_start="sunday").week_start is Weekday.SUNDAY
    assert AccountSettings(week_start=2).week_start is Weekday.WEDNESDAY


def test_settings_and_periods_are_immutable() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        UTC_ACCOUNT.timezone = "Europe/Oslo"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        SPAN.start = AWARE  # type: ignore[misc]


# -- the fast path against the straightforward pendulum computation ------------------


def pendulum_midnight(day: date, zone: str) -> datetime | None:
    """Local midnight of ``day`` computed the straightforward way, with pendulum.

    The first of a repeated midnight (fold=0); None when midnight falls into a
    gap (the contract's first instant of the day is checked above for those).
    """
    local = pendulum.datetime(day.year, day.month, day.day, tz=zone, fold=0)
    back = local.in_timezone("UTC").in_timezone(zone)
    if (back.date(), back.time()) != (day, time(0)):
        return None
    return local.in_timezone("UTC")


@given(zone=timezones(), day=st.dates(date(1900, 1, 1), date(2200, 12, 31)))
def test_day_start_equals_pendulum_local_midnight(zone: str, day: date) -> None:
    expected = pendulum_midnight(day, zone)
    if expected is not None:
        assert day_start(day, AccountSettings(timezone=zone).tz) == expected


@pytest.mark.parametrize("cadence", UNIT_CADENCES)
@given(drawn=settings_and_span(max_days=1200), aligned=st.booleans())
def test_milestone_boundaries_equal_pendulum_local_midnights(
    cadence: Cadence, aligned: bool, drawn: tuple[AccountSettings, Period]
) -> None:
    """Each boundary inside the span is its unit's first local midnight, the slow way."""
    settings, span = drawn
    ms = milestones(cadence, span, settings, align_to_fiscal_year=aligned)
    for m in ms[1:]:
        first = unit_first_day(m.label, cadence, settings, aligned)
        expected = pendulum_midnight(first, settings.timezone)
        if expected is not None:
            assert m.period.start == expected, (m.label, settings.timezone)
