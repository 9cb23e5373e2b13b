"""Custom KPIs at scale: a percentile goal and a share goal against pandas.

Two monthly goals over 2026 on the bench account's tickets, each for
``--contributors`` users: the 90th-percentile first response time
(``PERCENTILE`` 90, nearest rank) and the share of tickets answered within
two hours (`RESPONDED_WITHIN_TARGET`).  Ours: ``measure`` + ``evaluate`` on
the tickets, materialised once before timing; pandas: the same cells from a
DataFrame of the same columns, built before its clock starts.  Best of
``--repeat``.

pandas's ``groupby(...).quantile`` offers no interpolation that is the
nearest rank for every count (``"lower"`` takes the ⌊q·(n-1)⌋-th value, the
nearest rank the ⌈q·n⌉-th), so the percentile baseline sorts by (owner,
milestone, duration) and keeps the row whose ``cumcount`` is ⌈p·n/100⌉ - 1,
in integers.  ``quantile(interpolation="lower")`` is timed too, and the
cells where it differs are counted, for information.  The share is
count/count: ``groupby`` sum and count of a boolean column, as an exact
Fraction (``mean`` would be a float).

Every cell's (count, value) of our reports must equal pandas's, value as an
exact Fraction: any difference fails the run.  Run by `bench.run` in a
process of its own (``python -m bench.kpis``); prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Sequence
from datetime import timedelta
from fractions import Fraction
from functools import partial
from time import perf_counter
from typing import Any, TypeVar

import attrs
import numpy as np
import pandas as pd

from servicegoals import (
    MEDIAN_RESPONSE_TIME,
    RESPONDED_WITHIN_TARGET,
    Cadence,
    Contributor,
    Goal,
    Kpi,
    Ticket,
    calendar_year,
    evaluate,
    measure,
)
from servicegoals._validate import duration_us

from . import baseline, workload

P90_RESPONSE = attrs.evolve(
    MEDIAN_RESPONSE_TIME,
    key="p90_response_time",
    label="90th percentile first response time",
    percentile=90,
)

#: A cell's ticket count and exact value (None without tickets).
Values = dict[tuple[str, str, int], tuple[int, Fraction | None]]
T = TypeVar("T")


def goals(contributors: int, seed: int) -> tuple[Goal, Goal]:
    """The percentile goal and the share goal, monthly over 2026, for the same users."""
    rng = random.Random(seed)
    users = [workload.user_id(u) for u in rng.sample(range(workload.USERS), contributors)]
    span = calendar_year(2026, workload.ACCOUNT)

    def goal(kpi: Kpi, targets: dict[str, Any]) -> Goal:
        return Goal.create(
            id=kpi.key,
            name=kpi.label,
            kpi=kpi,
            cadence=Cadence.MONTHLY,
            span=span,
            settings=workload.ACCOUNT,
            contributors=[Contributor.user(u) for u in users],
            targets=targets,
        )

    return (
        goal(P90_RESPONSE, {u: timedelta(hours=rng.randint(8, 48)) for u in users}),
        goal(RESPONDED_WITHIN_TARGET, {u: rng.randint(50, 95) for u in users}),
    )


def ours(goal: Goal, tickets: Sequence[Ticket], evaluated: list[float]) -> Values:
    """``measure`` + ``evaluate``: every cell row's count and value.

    Appends the seconds ``evaluate`` took to ``evaluated``.
    """
    measured = measure([goal], tickets)
    started = perf_counter()
    report = evaluate(goal, measured, at=workload.AT)
    evaluated.append(perf_counter() - started)
    return {
        (goal.id, row.contributor_id, row.milestone_index): (row.measurement.count, row.value)
        for row in report.rows
        if row.contributor_id is not None and row.milestone_index is not None
    }


def _responses(goal: Goal, frame: pd.DataFrame) -> pd.DataFrame:
    """The goal's users' responses in its span: owner, milestone and response time (µs)."""
    bounds = np.array(
        [m.period.start_us for m in goal.milestones] + [goal.span.end_us], dtype=np.int64
    )
    at = frame["first"].to_numpy()
    inside = (at >= bounds[0]) & (at < bounds[-1]) & frame["owner"].isin(goal.contributor_ids)
    return pd.DataFrame(
        {
            "owner": frame["owner"][inside].astype(str),
            "milestone": np.searchsorted(bounds, at[inside], side="right") - 1,
            "duration": at[inside] - frame["created"].to_numpy()[inside],
        }
    )


def _every_cell(goal: Goal, found: dict[tuple[str, int], tuple[int, Fraction]]) -> Values:
    """``found`` for every cell of the goal, empty cells as (0, None)."""
    return {
        (goal.id, c, j): found.get((c, j), (0, None))
        for c in goal.contributor_ids
        for j in range(len(goal.milestones))
    }


def pandas_percentile(goal: Goal, frame: pd.DataFrame) -> Values:
    """Nearest rank per (owner, milestone): sort, then the ⌈p·n/100⌉-th row of each group."""
    p = goal.kpi.percentile
    assert p is not None
    rows = _responses(goal, frame).sort_values(["owner", "milestone", "duration"])
    groups = rows.groupby(["owner", "milestone"], sort=False)
    rank = groups.cumcount().to_numpy()
    n = groups["duration"].transform("size").to_numpy()
    # ⌈p·n/100⌉ - 1 in integers: a float p/100 could land a rank off by one.
    wanted = -(-p.numerator * n // (p.denominator * 100)) - 1
    picked = rows[rank == wanted]
    found = {
        (o, int(j)): (int(k), Fraction(int(d)))
        for o, j, k, d in zip(
            picked["owner"], picked["milestone"], n[rank == wanted], picked["duration"], strict=True
        )
    }
    return _every_cell(goal, found)


def pandas_quantile_lower(goal: Goal, frame: pd.DataFrame) -> dict[tuple[str, int], int]:
    """``groupby(...).quantile(p/100, interpolation="lower")``: the usual call, not nearest rank."""
    p = goal.kpi.percentile
    assert p is not None
    rows = _responses(goal, frame)
    got = rows.groupby(["owner", "milestone"])["duration"].quantile(
        float(p) / 100, interpolation="lower"
    )
    return {(o, int(j)): int(v) for (o, j), v in zip(got.index, got.to_numpy(), strict=True)}


def pandas_share(goal: Goal, frame: pd.DataFrame) -> Values:
    """Per (owner, milestone): the tickets within the threshold over all, count/count."""
    threshold = goal.kpi.threshold
    assert isinstance(threshold, timedelta)
    rows = _responses(goal, frame)
    rows["within"] = rows["duration"] <= duration_us(threshold)
    sums = rows.groupby(["owner", "milestone"])["within"].agg(["sum", "count"])
    found = {
        (o, int(j)): (int(n), Fraction(100 * int(s), int(n)))
        for (o, j), s, n in zip(sums.index, sums["sum"], sums["count"], strict=True)
    }
    return _every_cell(goal, found)


def _best(run: Callable[[], T], repeat: int) -> tuple[float, T]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = perf_counter()
        result = run()
        best = min(best, perf_counter() - started)
    assert result is not None
    return best, result


def _differing(ours: Values, theirs: Values) -> list[str]:
    keys = sorted(set(ours) | set(theirs))
    return [
        f"{k}: ours {ours.get(k)}, pandas {theirs.get(k)}"
        for k in keys
        if ours.get(k) != theirs.get(k)
    ]


def run(size: int, contributors: int, seed: int, repeat: int) -> dict[str, Any]:
    p90, share = goals(contributors, seed)
    tickets = list(workload.TicketStream(size, seed))
    frame = baseline.frame(workload.chunks(size, seed))
    figures: dict[str, Any] = {"size": size, "cells": 0, "differences": []}
    for name, goal, theirs in (
        ("percentile", p90, pandas_percentile),
        ("share", share, pandas_share),
    ):
        evaluated: list[float] = []
        figures[f"{name}_s"], measured = _best(partial(ours, goal, tickets, evaluated), repeat)
        figures[f"{name}_evaluate_s"] = min(evaluated)
        figures[f"{name}_pandas_s"], expected = _best(partial(theirs, goal, frame), repeat)
        figures["cells"] += len(measured)
        figures["differences"] += _differing(measured, expected)[:10]
        if goal is p90:
            figures["tickets_kept"] = sum(n for n, _ in measured.values())
            figures["lower_s"], lower = _best(partial(pandas_quantile_lower, p90, frame), repeat)
            figures["lower_differ"] = sum(
                1 for (_, c, j), (_, v) in measured.items() if v is not None and lower[(c, j)] != v
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10**6)
    parser.add_argument("--contributors", type=int, default=workload.CONTRIBUTORS)
    parser.add_argument("--seed", type=int, default=workload.SEED)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(args.size, args.contributors, args.seed, args.repeat)))


if __name__ == "__main__":
    main()
