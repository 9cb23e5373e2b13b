"""Run every benchmark side by side and print one table: ``python -m bench [--quick]``.

1. In memory: ``measure`` + ``evaluate`` over 10^4 .. 10^7 streamed tickets
   against 50 goals × 200 contributors, with a pandas baseline and the peak
   memory of each size.
2. Push-down: ``SqliteSource.measure`` against plain GROUP BY queries on the
   same file (the floor) and DuckDB; ``DuckDbSource.measure`` on a DuckDB file.
3. Calendar: milestones for 10,000 goals of every cadence in random time zones.
4. Equality: our measurements equal the pandas baseline's (and DuckDB's
   aggregates SQLite's) exactly; any difference fails the run (exit status 1).
5. Store size: an SQLite store after 1,000 hourly refreshes, with and without
   retention (bench.retention).
6. Working time: ``Schedule.working_us`` over random spans, against plain
   subtraction and a naive day walk that must agree (figures only).
7. Incremental refresh: 1,000 changed tickets applied to the measurements of
   10^5 .. 10^7 tickets of history, then the touched cells re-evaluated; the
   result must equal a full ``measure`` + ``evaluate`` (bench.incremental).
8. Clock policy: ``measure`` with every goal timed by an office schedule against
   wall-clock ``measure`` on the same tickets; a sample is checked against
   ``ticket_times`` (bench.clockpolicy).
9. Tracker over a change feed: a tracker following an ``SqliteFeedSource``
   refreshed after 1,000 changed tickets, against a full refresh (push-down) of
   the same file; measurements and reports must be equal (bench.feed).
10. Custom KPIs: a percentile goal and a share goal (``measure`` + ``evaluate``)
   against pandas computing the same cells; every cell's count and exact
   value must agree (bench.kpis).

Each target is printed with PASS or MISS; a MISS is a finding, not a failure.
``docs/performance.md`` explains the method and keeps the latest figures.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from time import perf_counter
from typing import Any

from attrs import frozen

from servicegoals import Directory, Goal

from . import baseline, pushdown, retention, workload
from .baseline import Cells

ROOT = Path(__file__).resolve().parent.parent


@frozen
class Plan:
    """What one run measures."""

    sizes: tuple[int, ...]
    goals: int
    contributors: int
    pushdown_size: int
    calendar_goals: int
    repeat: int
    #: The size the throughput and pandas targets are judged at.
    judged: int
    #: Peak memory at ``sizes[-1]`` is compared with that at this size.
    memory_base: int
    #: The sizes from this one up are judged against pandas (0.5x its time).
    pandas_from: int
    #: Working-time spans timed, and how many of them the naive day walk checks.
    worktime_spans: int = 10**6
    worktime_sample: int = 10_000
    #: History sizes of the incremental refresh, and the changed tickets applied.
    incremental_sizes: tuple[int, ...] = (10**5, 10**6, 10**7)
    incremental_changes: int = 1_000
    #: Tickets measured under a working-time clock policy, and how many are checked.
    clock_size: int = 10**6
    clock_sample: int = 20_000
    #: Ticket files a tracker follows through the change feed (bench.feed).
    feed_sizes: tuple[int, ...] = (10**5, 10**6)
    #: Tickets of the custom-KPI section (a percentile goal and a share goal).
    kpi_size: int = 10**6


FULL = Plan((10**4, 10**5, 10**6, 10**7), 50, 200, 10**6, 10_000, 3, 10**6, 10**5, 10**5)
QUICK = Plan(
    (10**3, 10**4),
    15,
    40,
    10**4,
    1_000,
    1,
    10**4,
    10**3,
    10**4,
    10**4,
    500,
    (10**3, 10**4),
    100,
    10**4,
    2_000,
    (10**4,),
    kpi_size=10**4,
)


@frozen
class Check:
    """A target and whether this run met it."""

    name: str
    met: bool
    figure: str


class Failed(Exception):
    """An equality check failed: the run's figures cannot be trusted."""


def say(text: str = "") -> None:
    print(text, flush=True)


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        say(
            "  "
            + "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _s(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def equal_or_fail(what: str, ours: Cells, theirs: Cells) -> str:
    """Return "yes", or raise :class:`Failed` naming the first cells that differ."""
    if ours == theirs:
        return "yes"
    keys = sorted(set(ours) | set(theirs))
    wrong = [(k, ours.get(k), theirs.get(k)) for k in keys if ours.get(k) != theirs.get(k)]
    lines = "\n".join(f"    {k}: ours {a}, baseline {b}" for k, a, b in wrong[:10])
    raise Failed(f"{what}: {len(wrong)} of {len(keys)} cells differ, for example\n{lines}")


def _child(module: str, **options: object) -> dict[str, Any]:
    """Run ``python -m bench.<module> --option value ...`` and read the JSON it prints."""
    command = [sys.executable, "-m", f"bench.{module}"]
    command += [a for name, value in options.items() for a in (f"--{name}", str(value))]
    child = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{child.stderr}")
    figures: dict[str, Any] = json.loads(child.stdout)
    return figures


def _ours(plan: Plan, size: int, seed: int, scratch: Path) -> tuple[dict[str, Any], Cells]:
    """Our figures and cells for ``size`` tickets, from a fresh process (bench.inmemory)."""
    out = scratch / f"ours-{size}.pickle"
    figures = _child(
        "inmemory", size=size, goals=plan.goals, contributors=plan.contributors, seed=seed, out=out
    )
    with out.open("rb") as f:
        cells: Cells = pickle.load(f)
    return figures, cells


def _pandas(
    goals: tuple[Goal, ...], directory: Directory, size: int, seed: int
) -> tuple[float, Cells]:
    """Seconds the pandas baseline takes for ``size`` tickets (frame building excluded)."""
    frame = baseline.frame(workload.chunks(size, seed))
    started = perf_counter()
    cells = baseline.measure(goals, frame, directory)
    return perf_counter() - started, cells


_MEMORY_HEADER = (
    "tickets",
    "measure s",
    "evaluate s",
    "ours t/s",
    "pandas s",
    "ours/pandas",
    "measure/pandas",
    "evaluate us/row",
    "peak MiB: measure",
    "+ evaluate",
    "build s (excl.)",
    "equal",
)


def in_memory(
    plan: Plan, goals: tuple[Goal, ...], directory: Directory, seed: int, scratch: Path
) -> tuple[dict[int, dict[str, Any]], Cells]:
    """Section 1; returns each size's figures and the baseline's cells at the push-down size."""
    say("1. In memory: measure + evaluate over a ticket stream, against pandas")
    say("   (ticket building excluded from both sides; each size of ours in a fresh process)")
    figures: dict[int, dict[str, Any]] = {}
    expected: Cells = {}
    rows = []
    for size in plan.sizes:
        ours, measured = _ours(plan, size, seed, scratch)
        ours["pandas_s"], theirs = _pandas(goals, directory, size, seed)
        equal = equal_or_fail(f"in memory, {size:,} tickets", measured, theirs)
        if size == plan.pushdown_size:
            expected = theirs
        figures[size] = ours
        total = ours["measure_s"] + ours["evaluate_s"]
        pandas = ours["pandas_s"]
        rows.append(
            (
                _n(size),
                _s(ours["measure_s"]),
                _s(ours["evaluate_s"]),
                _n(size / total),
                _s(pandas),
                f"{total / pandas:.2f}",
                f"{ours['measure_s'] / pandas:.2f}",
                f"{ours['evaluate_s'] / ours['rows'] * 1e6:.2f}",
                f"{ours['peak_measure_rss_mib']:.0f}",
                f"{ours['peak_rss_mib']:.0f}",
                _s(ours["build_s"]),
                equal,
            )
        )
        say(f"   {size:,} tickets done")
    table(_MEMORY_HEADER, rows)
    first = figures[plan.sizes[0]]
    say(
        f"   {first['cells']:,} cells measured, {first['rows']:,} report rows evaluated per size; "
        f"peak RSS of the process (before measure: {first['rss_before_mib']:.0f} MiB)"
    )
    return figures, expected


def push_down(
    plan: Plan,
    goals: tuple[Goal, ...],
    directory: Directory,
    seed: int,
    scratch: Path,
    expected: Cells,
) -> dict[str, float]:
    size = plan.pushdown_size
    say()
    say(f"2. Push-down on one SQLite file of {size:,} tickets (best of {plan.repeat})")
    path = scratch / "tickets.sqlite"
    started = perf_counter()
    source = pushdown.build_file(path, size, seed)
    built = perf_counter() - started
    work = pushdown.groups(goals, directory)

    def ours() -> Cells:
        return {
            k: (m.count, m.total) for k, m in source.measure(goals, directory=directory).items()
        }

    # Ours and the raw forms in turn, round by round, so that both meet the same load.
    actions: dict[str, Callable[[], Any]] = {"ours": ours}
    for form in pushdown.FORMS:
        actions[form] = functools.partial(pushdown.run_sqlite, path, work, form)
    found = pushdown.best_of_each(plan.repeat, actions)
    timed = {name: seconds for name, (seconds, _) in found.items()}
    measured = found["ours"][1]
    raw: dict[str, list[pushdown.Rows]] = {form: found[form][1] for form in pushdown.FORMS}
    duck = pushdown.duckdb_table(workload.chunks(size, seed))
    timed["duckdb"], ducked = pushdown.best_of(plan.repeat, lambda: pushdown.run_duckdb(duck, work))
    duck.close()
    duck_source = pushdown.duckdb_file(scratch / "tickets.duckdb", workload.chunks(size, seed))

    def ours_duckdb() -> Cells:
        return {
            k: (m.count, m.total)
            for k, m in duck_source.measure(goals, directory=directory).items()
        }

    timed["ours_duckdb"], duck_measured = pushdown.best_of(plan.repeat, ours_duckdb)
    equal_or_fail(f"push-down, {size:,} tickets", measured, expected)
    equal_or_fail(f"DuckDB push-down, {size:,} tickets", duck_measured, expected)
    ids_per_milestone, ids_case, full_scan = (raw[form] for form in pushdown.FORMS)
    # The full scan also aggregates people no goal measures; compare the goals' own.
    in_goals = [
        [r for r in rows if r[0] in ids] for rows, ids in zip(full_scan, work.values(), strict=True)
    ]
    if not all(pushdown.same_rows(ids_per_milestone, r) for r in (ids_case, in_goals, ducked)):
        raise Failed("push-down: the raw aggregates of SQLite's forms and DuckDB's differ")
    floor = min(timed[form] for form in pushdown.FORMS)
    rows = [("SqliteSource.measure (ours)", _s(timed["ours"]), f"{timed['ours'] / floor:.2f}")]
    rows += [
        (f"raw GROUP BY: {form}", _s(timed[form]), f"{timed[form] / floor:.2f}")
        for form in pushdown.FORMS
    ]
    rows += [("DuckDB: ids, CASE buckets", _s(timed["duckdb"]), f"{timed['duckdb'] / floor:.2f}")]
    rows += [
        (
            "DuckDbSource.measure (ours, DuckDB file)",
            _s(timed["ours_duckdb"]),
            f"{timed['ours_duckdb'] / floor:.2f}",
        )
    ]
    table(("path", "seconds", "× floor"), rows)
    say(f"   {len(work)} aggregates; file built in {built:.1f} s (excluded); results equal: yes")
    timed["floor"] = floor
    return timed


def calendar(plan: Plan, seed: int) -> float:
    say()
    say(f"3. Calendar: milestones for {plan.calendar_goals:,} goals (best of {plan.repeat})")
    say("   (in a fresh process, like each in-memory size)")
    timed = _child("calendars", goals=plan.calendar_goals, seed=seed, repeat=plan.repeat)
    goals, made, seconds = timed["goals"], timed["milestones"], timed["seconds"]
    table(
        ("goals", "milestones", "seconds", "goals/s", "milestones/s"),
        [(_n(goals), _n(made), _s(seconds), _n(goals / seconds), _n(made / seconds))],
    )
    return float(goals / seconds)


def store_size(quick: bool, seed: int) -> None:
    say()
    goals, contributors = retention.QUICK if quick else retention.FULL
    say(
        f"5. Store size: an SQLite store after hourly refreshes of {goals} of the account's "
        f"goals x {contributors} contributors (in a fresh process)"
    )
    found = _child("retention", goals=goals, contributors=contributors, seed=seed)
    marks = found["checkpoints"]
    rows = [
        (name, *(f"{size / 2**20:.1f}" for size in sizes), _n(found["snapshots"][name]))
        for name, sizes in found["sizes"].items()
    ]
    table(("retention", *(f"MiB after {n:,}" for n in marks), "snapshots kept"), rows)


def working_time(plan: Plan, seed: int) -> None:
    """Section 6 (bench.worktime): figures only; a day walk that disagrees fails the run."""
    say()
    say(
        f"6. Working time: Schedule.working_us over {plan.worktime_spans:,} random spans "
        f"of 0-60 days (best of {plan.repeat}; a fresh process)"
    )
    got = _child(
        "worktime",
        spans=plan.worktime_spans,
        sample=plan.worktime_sample,
        seed=seed,
        repeat=plan.repeat,
    )
    if not got["equal"]:
        raise Failed(f"working time: the day walk disagrees on {got['sample']:,} spans")
    per = {k: got[k] / n for k, n in (("ours_s", got["spans"]), ("cold_s", got["spans"]))}
    per["subtraction_s"] = got["subtraction_s"] / got["spans"]
    per["day_walk_s"] = got["day_walk_s"] / got["sample"]
    rows = [
        (name, f"{per[key] * 1e6:.2f}", _n(1 / per[key]), f"{per[key] / per['ours_s']:.2f}")
        for name, key in (
            ("Schedule.working_us (warm)", "ours_s"),
            ("Schedule.working_us (cold)", "cold_s"),
            ("end - start", "subtraction_s"),
            (f"naive day walk ({got['sample']:,} spans)", "day_walk_s"),
        )
    ]
    table(("path", "µs/span", "spans/s", "× ours"), rows)
    say(f"   day walk equal on its sample: yes; {got['holidays']} holidays in 2025-2027")


def clock_policy(plan: Plan, seed: int) -> dict[str, Any]:
    """Section 8 (bench.clockpolicy); a sampled cell that differs fails the run."""
    say()
    say(
        f"8. Clock policy: measure over {plan.clock_size:,} tickets with every goal timed by an "
        f"office schedule, against wall-clock measure (best of {plan.repeat}; a fresh process)"
    )
    got = _child(
        "clockpolicy",
        size=plan.clock_size,
        goals=plan.goals,
        contributors=plan.contributors,
        seed=seed,
        repeat=plan.repeat,
        sample=plan.clock_sample,
    )
    if not got["equal"]:
        raise Failed("measure under a working-time policy differs from ticket_times")
    table(
        ("clock", "seconds", "x wall clock"),
        [
            ("wall clock (calendar time)", f"{got['calendar_s']:.3f}", "1.00"),
            ("office schedule", f"{got['working_s']:.3f}", f"{got['ratio']:.2f}"),
        ],
    )
    say(f"   checked against ticket_times: {got['checked']:,} tickets, equal: yes")
    return got


def incremental(plan: Plan, seed: int) -> dict[int, dict[str, Any]]:
    """Section 7 (bench.incremental); a refresh that differs from a full one fails the run."""
    say()
    say(
        f"7. Incremental refresh: {plan.incremental_changes:,} changed tickets applied to the "
        f"measurements of a history, then the touched cells re-evaluated (best of "
        f"{plan.repeat}, after a full garbage collection; a fresh process each)"
    )
    found: dict[int, dict[str, Any]] = {}
    rows = []
    for size in plan.incremental_sizes:
        got = _child(
            "incremental",
            size=size,
            changes=plan.incremental_changes,
            goals=plan.goals,
            contributors=plan.contributors,
            seed=seed,
            repeat=plan.repeat,
        )
        if not got["equal"]:
            raise Failed(f"incremental refresh over {size:,} tickets differs from a full one")
        found[size] = got
        ms = {k: got[k] * 1000 for k in ("apply_s", "reevaluate_s")}
        rows.append(
            (
                _n(size),
                _n(got["changes"]),
                f"{ms['apply_s']:.1f}",
                f"{ms['reevaluate_s']:.1f}",
                f"{ms['apply_s'] + ms['reevaluate_s']:.1f}",
                _n(got["touched"]),
                "yes",
            )
        )
    table(("history", "changes", "apply ms", "reevaluate ms", "total ms", "cells", "equal"), rows)
    say("   (equal: the cells to the history's measure moved by the changes, every report")
    say("   to a full evaluate)")
    return found


def feed(plan: Plan, seed: int) -> None:
    """Section 9 (bench.feed): ratios only; a refresh that differs from a full one fails the run."""
    say()
    say(
        f"9. Tracker over a change feed: {plan.incremental_changes:,} changed tickets written to "
        "an SQLite file, then a refresh following the feed against a full one "
        "(a fresh process each)"
    )
    rows = []
    account = {"goals": plan.goals, "contributors": plan.contributors, "seed": seed}
    for size in plan.feed_sizes:
        got = _child("feed", size=size, changes=plan.incremental_changes, **account)
        if not got["equal"]:
            raise Failed(
                f"a tracker following the feed over {size:,} tickets differs from a full one"
            )
        ms = {k: v * 1000 for k, v in got.items() if k.endswith("_s")}
        rows.append(
            (
                _n(size),
                _n(got["changes"]),
                f"{ms['feed_measure_s']:.1f}",
                f"{ms['pushdown_measure_s']:.1f}",
                f"{ms['feed_measure_s'] / ms['pushdown_measure_s']:.3f}x",
                f"{ms['following_refresh_s']:.0f}",
                f"{ms['full_refresh_s']:.0f}",
                f"{ms['following_refresh_s'] / ms['full_refresh_s']:.2f}x",
                _n(got["watched"]),
                "yes",
            )
        )
    header = ("tickets", "changes", "feed ms", "push-down ms", "ratio")
    more = ("following refresh ms", "full refresh ms", "ratio", "watched", "equal")
    table((*header, *more), rows)
    say("   (feed: read the changes, apply them, advance to the new instant; both refreshes")
    say("   evaluate every goal in full; watched: tickets with an event after the instant,")
    say("   kept in memory; equal: the measurements and every report)")


def custom_kpis(plan: Plan, seed: int) -> None:
    """Section 10 (bench.kpis): ratios to pandas; a cell that differs fails the run."""
    say()
    say(
        f"10. Custom KPIs: a p90 first-response goal and a share-within-2-hours goal over "
        f"{plan.kpi_size:,} tickets, {plan.contributors} users x 12 months each, against pandas "
        f"(best of {plan.repeat}; a fresh process)"
    )
    got = _child(
        "kpis", size=plan.kpi_size, contributors=plan.contributors, seed=seed, repeat=plan.repeat
    )
    if got["differences"]:
        lines = "\n".join(f"    {d}" for d in got["differences"])
        raise Failed(f"custom KPIs: cells differ from pandas, for example\n{lines}")
    table(
        ("goal (pandas's method)", "ours s", "of it evaluate s", "pandas s", "ours/pandas"),
        [
            (
                f"{name} ({how})",
                _s(got[f"{key}_s"]),
                _s(got[f"{key}_evaluate_s"]),
                _s(got[f"{key}_pandas_s"]),
                f"{got[f'{key}_s'] / got[f'{key}_pandas_s']:.2f}",
            )
            for name, key, how in (
                ("p90 response time", "percentile", "sort + cumcount, nearest rank"),
                ("% answered within 2 h", "share", "groupby sum / count"),
            )
        ],
    )
    say(
        f"   {got['cells']:,} cells, count and exact value equal: yes; the p90 cells keep "
        f"{got['tickets_kept']:,} response times"
    )
    say(
        f"   (pandas groupby quantile(interpolation='lower'), {_s(got['lower_s'])} s, is not the "
        f"nearest rank: it differs in {got['lower_differ']:,} cells)"
    )


def checks(
    plan: Plan,
    memory: dict[int, dict[str, Any]],
    pushed: dict[str, float],
    goals_per_s: float,
    refreshed: dict[int, dict[str, Any]],
    timed: dict[str, Any],
) -> list[Check]:
    at = memory[plan.judged]
    total = at["measure_s"] + at["evaluate_s"]
    per_core = plan.judged / total
    top, base = memory[plan.sizes[-1]]["peak_rss_mib"], memory[plan.memory_base]["peak_rss_mib"]
    return [
        Check(
            f"in memory at {plan.judged:,}: >= 1,000,000 tickets/s per core (measure + evaluate)",
            per_core >= 1_000_000,
            f"{per_core:,.0f} tickets/s (measure alone {plan.judged / at['measure_s']:,.0f})",
        ),
        Check(
            f"in memory at {plan.judged:,}: evaluate <= 3 us per report row",
            at["evaluate_s"] / at["rows"] <= 3e-6,
            f"{at['evaluate_s'] / at['rows'] * 1e6:.2f} us per row ({at['rows']:,} rows)",
        ),
        *(
            Check(
                f"in memory at {size:,}: measure + evaluate <= 0.5x pandas",
                (f := memory[size])["measure_s"] + f["evaluate_s"] <= 0.5 * f["pandas_s"],
                f"{(f['measure_s'] + f['evaluate_s']) / f['pandas_s']:.2f}x "
                f"(measure alone {f['measure_s'] / f['pandas_s']:.2f}x)",
            )
            for size in plan.sizes
            if size >= plan.pandas_from
        ),
        Check(
            f"peak memory at {plan.sizes[-1]:,} <= 1.2x that at {plan.memory_base:,}",
            top <= 1.2 * base,
            f"{top:.0f} MiB vs {base:.0f} MiB = {top / base:.2f}x",
        ),
        Check(
            "push-down <= 1.2x the raw GROUP BY",
            pushed["ours"] <= 1.2 * pushed["floor"],
            f"{pushed['ours'] / pushed['floor']:.2f}x "
            f"(DuckDbSource on a DuckDB file: {pushed['ours_duckdb'] / pushed['floor']:.2f}x)",
        ),
        Check(
            "calendar >= 20,000 goals' milestones per second",
            goals_per_s >= 20_000,
            f"{goals_per_s:,.0f} goals/s",
        ),
        Check(
            f"incremental refresh of {plan.incremental_changes:,} changed tickets <= 50 ms "
            "(apply + reevaluate), whatever the history",
            all(f["apply_s"] + f["reevaluate_s"] <= 0.05 for f in refreshed.values()),
            ", ".join(
                f"{(f['apply_s'] + f['reevaluate_s']) * 1000:.1f} ms at {size:,}"
                for size, f in refreshed.items()
            ),
        ),
        Check(
            f"measure under a working-time policy at {plan.clock_size:,} <= 2x wall-clock measure",
            timed["ratio"] <= 2,
            f"{timed['ratio']:.2f}x ({timed['working_s']:.2f} s vs {timed['calendar_s']:.2f} s)",
        ),
    ]


def _fixed_work() -> int:
    """A fixed pure-Python workload (dictionary, list and integer operations)."""
    table: dict[int, list[int]] = {}
    for i in range(200_000):
        table.setdefault(i % 1_000, []).append(i * i % 7)
    return len(table)


def machine_speed() -> str:
    """How long `_fixed_work` takes here, best of five: the absolute figures (µs a
    row, goals a second, ms) move with the machine, so runs compare by this line."""
    best = min(timeit.repeat(_fixed_work, number=1, repeat=5))
    return f"a fixed pure-Python loop takes {best * 1000:.1f} ms (larger: a slower machine)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--seed", type=int, default=workload.SEED)
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    seed: int = args.seed
    say(
        f"servicegoals benchmarks ({'quick' if args.quick else 'full'} run), seed {seed}; "
        f"Python {platform.python_version()}, {os.cpu_count()} cores, {platform.system()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    say(f"machine: {machine_speed()}")
    goals = workload.goals(plan.goals, plan.contributors, seed)
    directory = workload.directory()
    teams = workload.TEAM_CONTRIBUTORS
    say(
        f"account: {len(goals)} goals x {plan.contributors} contributors "
        f"({plan.contributors - teams} users + {teams} teams), {workload.USERS:,} users "
        f"in {workload.SUB_TEAMS} teams under {workload.DEPARTMENTS} departments"
    )
    say()
    try:
        with tempfile.TemporaryDirectory(prefix="servicegoals-bench-") as tmp:
            scratch = Path(tmp)
            memory, expected = in_memory(plan, goals, directory, seed, scratch)
            pushed = push_down(plan, goals, directory, seed, scratch, expected)
        goals_per_s = calendar(plan, seed)
    except Failed as failure:
        say()
        say(f"EQUALITY CHECK FAILED: {failure}")
        return 1
    say()
    say("4. Equality: every size and the push-down equal the pandas baseline exactly: PASS")
    store_size(args.quick, seed)
    try:
        working_time(plan, seed)
        refreshed = incremental(plan, seed)
        timed = clock_policy(plan, seed)
        feed(plan, seed)
        custom_kpis(plan, seed)
    except Failed as failure:
        say()
        say(f"EQUALITY CHECK FAILED: {failure}")
        return 1
    say(f"load average at the end: {os.getloadavg()[0]:.2f} (a busy machine lowers every figure)")
    say(f"machine at the end: {machine_speed()}")
    say()
    quick = " (quick run: smaller sizes; the targets are judged on a full run)"
    say("Targets" + (quick if args.quick else ""))
    for check in checks(plan, memory, pushed, goals_per_s, refreshed, timed):
        say(f"  {'PASS' if check.met else 'MISS'}  {check.name}: {check.figure}")
    return 0
