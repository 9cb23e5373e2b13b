"""The pandas baseline: the same measurements, written the way a pandas user would.

For each goal: bucket the tickets by the goal's milestones (``searchsorted`` on
the KPI's timestamp), group them by owner (users) or team (teams), milestone
and pipeline, then join the groups to the goal's cells (a team cell also
takes its descendant teams; a cell counts only its effective pipelines) and
sum per cell.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from servicegoals import CellKey, Directory, Goal, TicketEvent, Unit

from .workload import PIPELINES, TEAM_IDS, USER_IDS, Columns, Ints

Cells = dict[CellKey, tuple[int, int]]

_EVENT_COLUMN = {TicketEvent.CLOSED: "closed", TicketEvent.FIRST_RESPONSE: "first"}


def frame(chunks: Iterable[Columns]) -> pd.DataFrame:
    """The tickets as a DataFrame: categorical ids, int64 epoch microseconds.

    Missing instants stay the int64 sentinel of the columns (below every
    milestone), so no column turns into floats and every sum stays exact.
    """
    parts = list(chunks)

    def join(name: str) -> Ints:
        return np.concatenate([getattr(c, name) for c in parts])

    def category(name: str, names: tuple[str, ...]) -> pd.Categorical[str]:
        return pd.Categorical.from_codes(join(name), categories=pd.Index(names))

    return pd.DataFrame(
        {
            "owner": category("owner", USER_IDS),
            "team": category("team", TEAM_IDS),
            "pipeline": category("pipeline", PIPELINES),
            "created": join("created"),
            "first": join("first"),
            "closed": join("closed"),
        }
    )


def _cell_table(goal: Goal, directory: Directory) -> pd.DataFrame:
    """One row per cell and ticket key it takes: contributor, kind, match id, milestone, pipeline.

    Built from the goal itself (not from the library's cell plans), so the
    equality check also tests how the library reads goals.
    """
    rows = []
    for contributor, targets in zip(goal.contributors, goal.targets, strict=True):
        kind = contributor.kind.value
        matches = directory.descendants(contributor.id) if kind == "team" else {contributor.id}
        for j, target in enumerate(targets):
            if target is not None and target.pipeline is not None:
                allowed: Iterable[str] = (target.pipeline,)
            else:
                allowed = goal.pipelines or PIPELINES
            rows += [(contributor.id, kind, m, j, p) for m in matches for p in allowed]
    return pd.DataFrame(rows, columns=["contributor", "kind", "match", "milestone", "pipeline"])


def measure(goals: Iterable[Goal], tickets: pd.DataFrame, directory: Directory) -> Cells:
    """Every cell's ``(count, total)``, like :func:`servicegoals.measure`."""
    result: Cells = {}
    for goal in goals:
        bounds = np.array(
            [m.period.start_us for m in goal.milestones] + [goal.span.end_us], dtype=np.int64
        )
        at = tickets[_EVENT_COLUMN[goal.kpi.event]].to_numpy()
        inside = (at >= bounds[0]) & (at < bounds[-1])
        bucketed = tickets.loc[inside, ["owner", "team", "pipeline"]].assign(
            milestone=np.searchsorted(bounds, at[inside], side="right") - 1,
            duration=at[inside] - tickets["created"].to_numpy()[inside],
        )
        cells = _cell_table(goal, directory)
        sums = []
        for kind, column in (("user", "owner"), ("team", "team")):
            grouped = (
                bucketed.groupby([column, "milestone", "pipeline"], observed=True)["duration"]
                .agg(["count", "sum"])
                .reset_index()
                .rename(columns={column: "match"})
            )
            grouped["match"] = grouped["match"].astype(str)
            grouped["pipeline"] = grouped["pipeline"].astype(str)
            wanted = cells[cells["kind"] == kind]
            sums.append(wanted.merge(grouped, on=["match", "milestone", "pipeline"]))
        per_cell = pd.concat(sums).groupby(["contributor", "milestone"])[["count", "sum"]].sum()
        counted = {
            (c, int(j)): (int(n), int(s))
            for (c, j), n, s in zip(per_cell.index, per_cell["count"], per_cell["sum"], strict=True)
        }
        duration = goal.kpi.unit is Unit.DURATION
        for c in goal.contributor_ids:
            for j in range(len(goal.milestones)):
                n, s = counted.get((c, j), (0, 0))
                result[(goal.id, c, j)] = (n, s if duration else 0)
    return result
