"""Working time: `Schedule.working_us` over random spans of up to 60 days.

A New York office schedule (09:00-12:00 and 13:00-17:00 on weekdays, US and
New York holidays); spans start anywhere in 2025-2027, so they cross
daylight-saving changes and holidays.  Timed, best of ``--repeat``:

* ours, with the schedule's week tables already built (warm), and once on a
  fresh schedule that builds them as it goes (cold);
* plain subtraction ``end - start`` over the same spans: the floor of any loop;
* a naive day walk (every local day, every slot, two time-zone conversions per
  slot) on a sample of the spans, which must give the same answers.

Run by `bench.run` in a process of its own (``python -m bench.worktime``);
prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, date, datetime, time, timedelta
from time import perf_counter

from servicegoals import Schedule
from servicegoals._validate import from_us, to_us

DAY_US = 86_400_000_000
SLOTS = (("09:00", "12:00"), ("13:00", "17:00"))


def office() -> Schedule:
    return Schedule.weekly("America/New_York", mon_fri=SLOTS, country="US", subdivision="NY")


def spans(count: int, seed: int) -> list[tuple[int, int]]:
    """``count`` (start, end) pairs in epoch µs, 0 to 60 days long."""
    rng = random.Random(seed)
    first = to_us(datetime(2025, 1, 1, tzinfo=UTC))
    made = []
    for _ in range(count):
        start = first + rng.randrange(3 * 365 * DAY_US)
        made.append((start, start + rng.randrange(60 * DAY_US + 1)))
    return made


def day_walk(schedule: Schedule, start_us: int, end_us: int) -> int:
    """Working µs by walking every local day (fine here: no slot edge falls in a DST gap)."""
    tz = schedule.tz
    day = from_us(start_us).astimezone(tz).date() - timedelta(days=1)
    last = from_us(end_us).astimezone(tz).date()
    worked = 0
    while day <= last:
        if day.weekday() < 5 and day not in schedule.holidays:
            for a, b in SLOTS:
                lo = to_us(datetime.combine(day, time.fromisoformat(a), tz))
                hi = to_us(datetime.combine(day, time.fromisoformat(b), tz))
                worked += max(0, min(hi, end_us) - max(lo, start_us))
        day += timedelta(days=1)
    return worked


def timed(pairs: list[tuple[int, int]], schedule: Schedule) -> tuple[float, list[int]]:
    working = schedule.working_us
    started = perf_counter()
    results = [working(a, b) for a, b in pairs]
    return perf_counter() - started, results


def subtraction(pairs: list[tuple[int, int]]) -> float:
    started = perf_counter()
    results = [b - a for a, b in pairs]
    seconds = perf_counter() - started
    del results
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, required=True)
    parser.add_argument("--sample", type=int, required=True, help="spans for the day walk")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    pairs = spans(args.spans, args.seed)
    cold, _ = timed(pairs, office())
    schedule = office()
    timed(pairs[: args.sample], schedule)  # the holiday years, loaded once
    warm, results = min(timed(pairs, schedule) for _ in range(args.repeat))
    floor = min(subtraction(pairs) for _ in range(args.repeat))
    sample = pairs[: args.sample]
    started = perf_counter()
    walked = [day_walk(schedule, a, b) for a, b in sample]
    walk = perf_counter() - started
    holidays = sum(
        1 for d in range(3 * 366) if date(2025, 1, 1) + timedelta(d) in schedule.holidays
    )
    figures = {
        "spans": len(pairs),
        "ours_s": warm,
        "cold_s": cold,
        "subtraction_s": floor,
        "sample": len(sample),
        "day_walk_s": walk,
        "equal": walked == results[: len(sample)],
        "holidays": holidays,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
