"""Incremental measuring: keep a goal set's measurements and apply changed tickets.

A change replaces a ticket's old image (or nothing, for a new ticket) with its
new image (or nothing, for a deleted one).  Applying it subtracts what the old
image counted and adds what the new one counts, through the same per-ticket
routine as `measure`, so the cells equal a full `measure` over the current
tickets, as of the same instant and under the same clock policies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from attrs import frozen

from .errors import InvalidInput
from .goals import Directory, Goal
from .kpis import Measurement, Ticket
from .measure import _ZERO, CellKey, _Cells, _Index, trusted_measurement

__all__ = ["IncrementalMeasure", "TicketChange"]


@frozen
class TicketChange:
    """One changed ticket: ``old`` is the image measured so far (None: a new ticket),
    ``new`` the image to measure from now on (None: the ticket is gone).

    A reopened or edited ticket is a change with both images; they need not
    share an id, but ``old`` must be exactly the image applied before.
    """

    old: Ticket | None
    new: Ticket | None


class IncrementalMeasure(Mapping[CellKey, Measurement]):
    """The measurements of ``goals`` over ``tickets``, kept up to date by `apply`.

    A read-only mapping from cell keys to `Measurement`s, equal to
    `measure(goals, tickets, directory=directory, at=at)`.  Plans and indexes
    are built once; `apply` costs in proportion to the changed tickets' cells,
    whatever the number of tickets measured before.
    """

    def __init__(
        self,
        goals: Iterable[Goal],
        tickets: Iterable[Ticket] = (),
        *,
        directory: Directory | None = None,
        at: datetime | None = None,
    ) -> None:
        goals = tuple(goals) if isinstance(goals, Iterable) else goals
        self._index = _Index(goals, directory, at)
        for goal in goals:
            if not goal.kpi.fast:  # the KPI engine keeps no per-cell state to subtract from
                raise InvalidInput(
                    "goals", goal.id, "incremental measuring supports the template-shaped KPIs"
                )
        self._index.accumulate(tickets)
        self._by_pair = {
            (p.goal_id, p.contributor_id): c
            for p, c in zip(self._index.plans, self._index.cells, strict=True)
        }
        self._keys = {id(c): pair for pair, c in self._by_pair.items()}
        #: Why an `apply` stopped half-way (a clock raised), or None.
        self._broken: str | None = None

    def __getitem__(self, key: CellKey) -> Measurement:
        self._check()
        try:
            cells = self._by_pair[(key[0], key[1])]
            j = key[2]
            if type(j) is not int or j < 0:
                raise KeyError(key)
            count, total = cells.counts[j], cells.totals[j]
        except (IndexError, TypeError):
            raise KeyError(key) from None
        return _ZERO if count == 0 else trusted_measurement(count, total)

    def _check(self) -> None:
        if self._broken is not None:
            raise InvalidInput(
                "IncrementalMeasure", self._broken, "an apply failed half-way: measure again"
            )

    def __iter__(self) -> Iterator[CellKey]:
        self._check()
        for (goal_id, contributor_id), cells in self._by_pair.items():
            for j in range(len(cells.counts)):
                yield (goal_id, contributor_id, j)

    def __len__(self) -> int:
        return sum(len(c.counts) for c in self._by_pair.values())

    def apply(self, changes: Iterable[TicketChange]) -> dict[str, frozenset[CellKey]]:
        """Apply a batch of changes; return the keys of the cells they reached, by goal id.

        Pass a goal's keys to `reevaluate`.  A cell that one change left and
        another entered is returned although its measurement is back where it
        was: re-evaluating it is harmless.

        Raises:
            InvalidInput: a change is not a `TicketChange` of tickets, or an old
                image was never measured and that shows (a cell would go below
                zero).  Nothing is applied then.

        A working clock that raises stops the batch half-way: the exception
        passes through and the measurer refuses every later use (`InvalidInput`).
        """
        self._check()
        batch = _checked(changes)
        touched: list[tuple[_Cells, int]] = []
        index = self._index
        try:
            index.accumulate((c.old for c in batch if c.old is not None), -1, touched)
            index.accumulate((c.new for c in batch if c.new is not None), 1, touched)
        except BaseException as exc:
            # Only a working clock can raise here (the changes were checked), and
            # what it left half-added cannot be told apart: refuse every later use.
            self._broken = f"{type(exc).__name__}: {exc}"
            raise
        moved = set(touched)  # a cell reached by several tickets, once
        for cells, j in moved:
            if cells.counts[j] < 0 or (cells.counts[j] == 0 and cells.totals[j] != 0):
                # Undo the batch, so a bad change leaves the state as it was.
                index.accumulate((c.new for c in batch if c.new is not None), -1)
                index.accumulate((c.old for c in batch if c.old is not None), 1)
                raise InvalidInput(
                    "changes", self._key(cells, j), "an old ticket image was never measured"
                )
        by_goal: dict[str, set[CellKey]] = {}
        for cells, j in moved:
            key = self._key(cells, j)
            by_goal.setdefault(key[0], set()).add(key)
        return {goal_id: frozenset(keys) for goal_id, keys in by_goal.items()}

    def _key(self, cells: _Cells, j: int) -> CellKey:
        goal_id, contributor_id = self._keys[id(cells)]
        return (goal_id, contributor_id, j)


def _checked(changes: Iterable[TicketChange]) -> Sequence[TicketChange]:
    batch = tuple(changes)
    for i, change in enumerate(batch):
        if not isinstance(change, TicketChange):
            raise InvalidInput(f"changes[{i}]", change, "expected a TicketChange")
        for name, image in (("old", change.old), ("new", change.new)):
            if image is not None and not isinstance(image, Ticket):
                raise InvalidInput(f"changes[{i}].{name}", image, "expected a Ticket or None")
    return batch
