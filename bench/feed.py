"""A tracker following an SQLite change feed, in a process of its own, against a full refresh.

Run by `bench.run` once per history size.  Untimed: the SQLite file (stored
through ``SqliteSource.add_tickets``, the feed installed afterwards), the first
refresh of both trackers (the following one reads a snapshot, the full one
measures by push-down), and the write of the changed tickets
(``add_tickets(..., replace=True)``, recorded by the feed's triggers).  Timed,
an hour after the first refresh: the following tracker's measuring step (read
the changes, apply them, advance to the new instant) against the full one's
push-down ``measure``; then each tracker's whole refresh.  Checked after the
clock: the measurements and every report equal.  Also counted: the tickets the
measurer remembers because they have an event after the instant (this
synthetic history is created until 2027, so about half of it).  Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
from datetime import timedelta
from pathlib import Path
from time import perf_counter
from typing import Any

from servicegoals import IncrementalMeasure, SqliteFeedSource
from servicegoals.stores import InMemoryStore
from servicegoals.tracker import Tracker

from . import workload
from .incremental import changes
from .pushdown import build_file


def run(size: int, count: int, goal_count: int, contributors: int, seed: int) -> dict[str, Any]:
    goals = workload.goals(goal_count, contributors, seed)
    directory = workload.directory()
    with tempfile.TemporaryDirectory(prefix="servicegoals-feed-") as tmp:
        full_source = build_file(Path(tmp) / "tickets.db", size, seed)
        feed = SqliteFeedSource(full_source.path)  # installs the triggers after the load
        trackers = []
        for source in (feed, full_source):
            store = InMemoryStore()
            for goal in goals:
                store.save_goal(goal)
            trackers.append(Tracker(store, source, [], directory, refresh_interval=timedelta(0)))
        following, full = trackers
        first = workload.AT
        following.refresh(first)
        full.refresh(first)
        written = feed.add_tickets(
            (c.new for c in changes(size, count, seed) if c.new), replace=True
        )
        now = first + timedelta(hours=1)

        # As in section 7: the garbage of building the history is not the refresh's.
        gc.collect()
        started = perf_counter()
        incremental = following._measure_at(goals, list(goals), now)
        assert isinstance(incremental, IncrementalMeasure)
        stepped = perf_counter()
        pushed = full.measure(goals, at=now)
        measured = perf_counter()
        ours = following.refresh(now)
        refreshed = perf_counter()
        theirs = full.refresh(now)
        done = perf_counter()
        equal = dict(incremental) == pushed and ours.reports == theirs.reports
        # Tickets with an event after the instant, which the measurer remembers.
        watched = sum(len(images) for images in incremental._pending.values())
    return {
        "size": size,
        "changes": written,
        "feed_measure_s": stepped - started,
        "pushdown_measure_s": measured - stepped,
        # The following refresh: its measuring step, then the refresh (changes read: none).
        "following_refresh_s": (stepped - started) + (refreshed - measured),
        "full_refresh_s": done - refreshed,
        "watched": watched,
        "equal": equal,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    defaults = {"changes": 1_000, "goals": workload.GOALS, "contributors": workload.CONTRIBUTORS}
    parser.add_argument("--size", type=int, required=True)
    for name, default in (*defaults.items(), ("seed", workload.SEED)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    print(json.dumps(run(args.size, args.changes, args.goals, args.contributors, args.seed)))


if __name__ == "__main__":
    main()
