"""One in-memory run, in a process of its own: ``measure`` + ``evaluate`` over a stream.

Run by :mod:`bench.run` once per size, so that each size's peak memory (the
process's peak resident set size from the start of ``measure``) is its own and
no size inherits another's heap.  Prints one JSON object; writes every cell's
``(count, total)`` to a pickle file for the equality check.
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path
from time import perf_counter
from typing import Any

from servicegoals import evaluate, measure

from . import workload


def _status_mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {key} in /proc/self/status")


def rss_mib() -> float:
    """The resident set size of this process now, in MiB (Linux)."""
    return _status_mib("VmRSS")


def reset_peak() -> None:
    """Start a new peak: the kernel resets VmHWM to the current RSS (Linux 4.0+)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mib() -> float:
    """The peak resident set size since the last :func:`reset_peak`, in MiB."""
    return _status_mib("VmHWM")


def run(size: int, goal_count: int, contributors: int, seed: int, out: Path) -> dict[str, Any]:
    goals = workload.goals(goal_count, contributors, seed)
    directory = workload.directory()
    stream = workload.TicketStream(size, seed)
    before = rss_mib()
    reset_peak()  # goal building and imports peak higher than measure would
    started = perf_counter()
    measured = measure(goals, stream, directory=directory)
    measured_at = perf_counter()
    peak_measure = peak_rss_mib()
    reports = [evaluate(g, measured, at=workload.AT, directory=directory) for g in goals]
    evaluated_at = perf_counter()
    peak = max(peak_measure, peak_rss_mib())
    with out.open("wb") as f:
        pickle.dump({k: (m.count, m.total) for k, m in measured.items()}, f)
    return {
        "size": size,
        # The stream's own time (numpy columns and Ticket objects) is taken out.
        "measure_s": measured_at - started - stream.build_seconds,
        "build_s": stream.build_seconds,
        "evaluate_s": evaluated_at - measured_at,
        "cells": len(measured),
        "rows": sum(len(r.rows) for r in reports),
        "rss_before_mib": before,
        "peak_rss_mib": peak,
        "peak_measure_rss_mib": peak_measure,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--goals", type=int, default=workload.GOALS)
    parser.add_argument("--contributors", type=int, default=workload.CONTRIBUTORS)
    parser.add_argument("--seed", type=int, default=workload.SEED)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    figures = run(args.size, args.goals, args.contributors, args.seed, args.out)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
