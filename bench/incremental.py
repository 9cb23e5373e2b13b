"""Incremental refresh, in a process of its own: a batch of changed tickets applied
to the measurements of a long history, then the touched cells re-evaluated.

Run by `bench.run` once per history size.  Untimed: measuring the history
(``IncrementalMeasure`` over the ticket stream) and every goal's report at the
workload's instant.  Timed: ``apply`` of the batch (a quarter new tickets, a
quarter closed, a quarter reopened and closed later, a quarter given to
another owner) and ``reevaluate`` of every goal, best of ``--repeat`` rounds: each
starts after a full garbage collection (a long-running tracker has collected
its start-up garbage long before), and the batch is undone, untimed, between
rounds.  Checked after the clock: the
cells equal the history's plus the new images' minus the old images' (the
additivity of `measure`), and every re-evaluated report equals a full
``evaluate``.  Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
from datetime import timedelta
from time import perf_counter
from typing import Any

import attrs

from servicegoals import (
    IncrementalMeasure,
    Reopen,
    Ticket,
    TicketChange,
    evaluate,
    measure,
    reevaluate,
)

from . import workload


def changes(size: int, count: int, seed: int) -> list[TicketChange]:
    """``count`` changes to the history's first tickets (and ``count // 4`` new ones)."""
    history = workload.tickets(workload.columns(seed, 0, min(workload.CHUNK, size)))
    quarter = count // 4
    open_ = [t for t in history if t.closed_at is None][:quarter]
    closed = [t for t in history if t.closed_at is not None]
    reopened, moved = closed[:quarter], closed[quarter : 2 * quarter]
    fresh = workload.tickets(workload.columns(seed + 1, size, count - 3 * quarter))
    day = timedelta(days=1)
    made = [TicketChange(None, t) for t in fresh]
    made += [
        TicketChange(t, attrs.evolve(t, closed_at=(t.first_response_at or t.created_at) + 3 * day))
        for t in open_
    ]
    made += [TicketChange(t, _reopened(t, day)) for t in reopened]
    users = workload.USER_IDS
    made += [
        TicketChange(t, attrs.evolve(t, owner_id=users[(i * 7919) % len(users)]))
        for i, t in enumerate(moved)
    ]
    return made


def _reopened(ticket: Ticket, day: timedelta) -> Ticket:
    assert ticket.closed_at is not None
    again = ticket.closed_at + day
    return attrs.evolve(
        ticket, reopens=[Reopen(ticket.closed_at, again)], closed_at=again + 5 * day
    )


def run(
    size: int, count: int, goal_count: int, contributors: int, seed: int, repeat: int = 3
) -> dict[str, Any]:
    goals = workload.goals(goal_count, contributors, seed)
    directory = workload.directory()
    state = IncrementalMeasure(goals, workload.TicketStream(size, seed), directory=directory)
    before = dict(state)
    bases = [evaluate(g, state, at=workload.AT, directory=directory) for g in goals]
    batch = changes(size, count, seed)
    undo = [TicketChange(c.new, c.old) for c in batch]

    rounds = []
    for _ in range(repeat):
        # A long-running tracker has long since collected its start-up garbage: the
        # first full collection after building the history is not part of a refresh.
        gc.collect()
        started = perf_counter()
        touched = state.apply(batch)
        applied = perf_counter()
        reports = [
            reevaluate(base, g, state, touched.get(g.id, ()), directory=directory)
            for g, base in zip(goals, bases, strict=True)
        ]
        done = perf_counter()
        rounds.append((done - started, applied - started, done - applied))
        if len(rounds) < repeat:
            state.apply(undo)  # back to the history's measurements for the next round
    _, apply_s, reevaluate_s = min(rounds)

    old = measure(goals, (c.old for c in batch if c.old), directory=directory)
    new = measure(goals, (c.new for c in batch if c.new), directory=directory)
    expected = {
        k: (m.count + new[k].count - old[k].count, m.total + new[k].total - old[k].total)
        for k, m in before.items()
    }
    full = [evaluate(g, state, at=workload.AT, directory=directory) for g in goals]
    equal = {k: (m.count, m.total) for k, m in state.items()} == expected and reports == full
    return {
        "size": size,
        "changes": len(batch),
        "apply_s": apply_s,
        "reevaluate_s": reevaluate_s,
        "repeat": repeat,
        "touched": sum(len(keys) for keys in touched.values()),
        "rows": sum(len(r.rows) for r in reports),
        "equal": equal,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--changes", type=int, default=1_000)
    parser.add_argument("--goals", type=int, default=workload.GOALS)
    parser.add_argument("--contributors", type=int, default=workload.CONTRIBUTORS)
    parser.add_argument("--seed", type=int, default=workload.SEED)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    figures = run(args.size, args.changes, args.goals, args.contributors, args.seed, args.repeat)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
