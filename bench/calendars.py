"""Calendar: milestones for many goals of every cadence in random time zones.

The goals' accounts and spans are drawn (seeded) before the clock starts; the
timed part is the :func:`servicegoals.milestones` calls alone.  Run by
:mod:`bench.run` in a process of its own (``python -m bench.calendars``), so
that no other section's heap (pandas, the cells) slows the garbage collector
while it runs; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import zoneinfo
from datetime import date, timedelta
from time import perf_counter

from attrs import frozen

from servicegoals import (
    AccountSettings,
    Cadence,
    Period,
    calendar_year,
    date_range,
    fiscal_year,
    milestones,
)


@frozen
class Spec:
    cadence: Cadence
    span: Period
    settings: AccountSettings
    aligned: bool


def specs(count: int, seed: int) -> list[Spec]:
    """``count`` goals: cadences in equal shares, any IANA zone, fiscal start and week start.

    Spans are calendar or fiscal years between 2020 and 2031 (half of the
    quarterly and yearly goals aligned with the fiscal year); custom goals span
    1 to 400 days.
    """
    rng = random.Random(seed)
    zones = sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})
    cadences = list(Cadence)
    made = []
    for i in range(count):
        settings = AccountSettings(
            rng.choice(zones),
            fiscal_year_start_month=rng.randint(1, 12),
            week_start=rng.randint(0, 6),
        )
        cadence = cadences[i % len(cadences)]
        aligned = cadence in (Cadence.QUARTERLY, Cadence.YEARLY) and rng.random() < 0.5
        year = rng.randint(2020, 2030)
        if cadence is Cadence.CUSTOM:
            first = date(year, 1, 1) + timedelta(days=rng.randint(0, 364))
            span = date_range(first, first + timedelta(days=rng.randint(0, 399)), settings)
        elif aligned:
            span = fiscal_year(year + 1, settings)
        else:
            span = calendar_year(year, settings)
        made.append(Spec(cadence, span, settings, aligned))
    return made


def run(goals: list[Spec]) -> tuple[float, int]:
    """Seconds to make every goal's milestones, and how many milestones they are."""
    started = perf_counter()
    made = 0
    for g in goals:
        made += len(milestones(g.cadence, g.span, g.settings, align_to_fiscal_year=g.aligned))
    return perf_counter() - started, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--goals", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    goals = specs(args.goals, args.seed)
    runs = [run(goals) for _ in range(args.repeat)]
    print(json.dumps({"goals": len(goals), "milestones": runs[0][1], "seconds": min(runs)[0]}))


if __name__ == "__main__":
    main()
