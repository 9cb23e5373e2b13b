"""Store size: an SQLite store after 1,000 hourly refreshes, with and without retention.

The same reports (the bench account's goals evaluated every hour from
``workload.AT``, each against the previous hour's report) are committed to one
store per policy, through ``commit_refresh`` as the tracker does.  The file
size (after a WAL checkpoint) is taken every 250 refreshes.  Run by
:mod:`bench.run` in a process of its own (``python -m bench.retention``);
prints one JSON object.

The full account (50 goals x 200 contributors) makes 32 MB of snapshots per
refresh, 32 GB without retention after 1,000 refreshes; the run therefore
uses a slice of it (``--goals``, ``--contributors``).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path
from time import perf_counter
from typing import Any

from servicegoals import Retention, SqliteStore, evaluate, measure
from servicegoals.status import GoalReport

from . import workload

#: The policies compared: keep everything, the default, a week.
POLICIES = {"keep all": None, "30 days (default)": 30, "7 days": 7}
#: (goals, contributors) of the slice of the bench account, full and quick.
FULL, QUICK = (3, 20), (1, 5)
CHECKPOINT = 250


def size_of(path: Path) -> int:
    """The file's size once its WAL is folded in (what a copy of the store weighs)."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return path.stat().st_size


def run(goal_count: int, contributors: int, refreshes: int, seed: int) -> dict[str, Any]:
    goals = workload.goals(goal_count, contributors, seed)
    directory = workload.directory()
    cells = measure(goals, workload.TicketStream(10_000, seed), directory=directory)
    sizes: dict[str, list[int]] = {name: [] for name in POLICIES}
    kept: dict[str, int] = {}
    marks: list[int] = []
    started = perf_counter()
    # Sizes, not speed, are measured: a RAM disk spares 3,000 fsyncs where there is one.
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="servicegoals-retention-", dir=shm) as tmp:
        paths = {name: Path(tmp) / f"{i}.db" for i, name in enumerate(POLICIES)}
        stores = {
            name: SqliteStore(paths[name], retention=Retention(days=days))
            for name, days in POLICIES.items()
        }
        for store in stores.values():
            for g in goals:
                store.save_goal(g)
        previous: dict[str, GoalReport | None] = {g.id: None for g in goals}
        for i in range(1, refreshes + 1):
            at = workload.AT + timedelta(hours=i)
            reports = [
                evaluate(g, cells, at=at, previous=previous[g.id], directory=directory)
                for g in goals
            ]
            previous = {r.goal_id: r for r in reports}
            for store in stores.values():
                store.commit_refresh(at, reports, [], [])
            if i % CHECKPOINT == 0 or i == refreshes:
                marks.append(i)
                for name, path in paths.items():
                    sizes[name].append(size_of(path))
        for name, store in stores.items():
            kept[name] = sum(len(store.report_times(g.id)) for g in goals)
            store.close()
    return {
        "goals": goal_count,
        "contributors": contributors,
        "refreshes": refreshes,
        "checkpoints": marks,
        "sizes": sizes,
        "snapshots": kept,
        "seconds": perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--goals", type=int, default=FULL[0])
    parser.add_argument("--contributors", type=int, default=FULL[1])
    parser.add_argument("--refreshes", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=workload.SEED)
    args = parser.parse_args()
    print(json.dumps(run(args.goals, args.contributors, args.refreshes, args.seed)))


if __name__ == "__main__":
    main()
