"""Measuring under a working-time clock policy against wall-clock measuring.

The bench account's goals, once as they are (wall-clock time) and once with a
New York office schedule (09:00-12:00 and 13:00-17:00 on weekdays, US and New
York holidays) as every goal's clock; the same tickets, materialised once
before timing so that both runs read the same list.  Timed, best of
``--repeat``.  A sample of the working-time cells is checked against a
reference that times each ticket with `ticket_times` (which goes through
`Schedule.working_time` on datetimes): any difference fails the run.

Target (issue #10): ``measure`` under a working-time policy within 2x the
wall-clock ``measure`` in the same run.  Run by `bench.run` in a process of its
own (``python -m bench.clockpolicy``); prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import timedelta
from time import perf_counter

import attrs

from servicegoals import ClockPolicy, Measurement, Schedule, measure, ticket_times
from servicegoals.kpis import TicketEvent, Unit

from . import workload

SLOTS = (("09:00", "12:00"), ("13:00", "17:00"))


def office() -> Schedule:
    """The schedule every goal is timed by in the working-time run."""
    return Schedule.weekly("America/New_York", mon_fri=SLOTS, country="US", subdivision="NY")


def _best(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = perf_counter()
        run()
        best = min(best, perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10**6)
    parser.add_argument("--goals", type=int, default=workload.GOALS)
    parser.add_argument("--contributors", type=int, default=workload.CONTRIBUTORS)
    parser.add_argument("--seed", type=int, default=workload.SEED)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=2_000)
    args = parser.parse_args()

    plain = workload.goals(args.goals, args.contributors, args.seed)
    policy = ClockPolicy(clock=office())
    timed = tuple(attrs.evolve(g, clock_policy=policy) for g in plain)
    directory = workload.directory()
    tickets = list(workload.TicketStream(args.size, args.seed))

    calendar_s = _best(lambda: measure(plain, tickets, directory=directory), args.repeat)
    cells: dict[tuple[str, str, int], Measurement] = {}

    def working() -> None:
        cells.update(measure(timed, tickets, directory=directory))

    working_s = _best(working, args.repeat)

    # Reference: the duration goals' user cells, ticket by ticket on datetimes.
    checked = 0
    equal = True
    by_owner: dict[str, list[int]] = {}
    for i, t in enumerate(tickets[: args.sample]):
        if t.owner_id is not None:
            by_owner.setdefault(t.owner_id, []).append(i)
    for goal in timed:
        if goal.kpi.unit is not Unit.DURATION or goal.pipelines:
            continue
        closed = goal.kpi.event is TicketEvent.CLOSED
        for c in goal.contributors:
            for i in by_owner.get(c.id, ()):
                t = tickets[i]
                times = ticket_times(t, policy)
                at = times.resolved_at if closed else times.responded_at
                spent = times.resolution if closed else times.response
                if at is None or spent is None or not goal.span.start <= at < goal.span.end:
                    continue
                m = next(m for m in goal.milestones if m.period.start <= at < m.period.end)
                whole = measure([goal], [t], directory=directory)[(goal.id, c.id, m.index)]
                equal &= (whole.count, whole.total) == (1, spent // timedelta(microseconds=1))
                checked += 1
    print(
        json.dumps(
            {
                "size": args.size,
                "calendar_s": calendar_s,
                "working_s": working_s,
                "ratio": working_s / calendar_s,
                "checked": checked,
                "equal": equal,
                "cells": len(cells),
            }
        )
    )


if __name__ == "__main__":
    main()
