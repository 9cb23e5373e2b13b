"""Incremental measuring: keep a goal set's measurements and apply changed tickets.

A change replaces a ticket's old image (or nothing, for a new ticket) with its
new image (or nothing, for a deleted one).  Applying it subtracts what the old
image counted and adds what the new one counts, through the same per-ticket
routine as `measure`, so the cells equal a full `measure` over the current
tickets, as of the same instant and under the same clock policies.

The as-of instant may move forward (`IncrementalMeasure.advance`): the few
tickets with an event at or after it (future-dated or clock-skewed data) are
remembered, keyed by their earliest such event, and re-applied when the
instant passes it.  A `ChangeFeed` supplies the changes of a store.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from attrs import frozen

from ._validate import aware
from .clock import as_of_limit
from .errors import InvalidInput
from .goals import Directory, Goal
from .kpis import Measurement, Ticket
from .measure import _ZERO, CellKey, _Index, trusted_measurement

__all__ = ["ChangeBatch", "ChangeFeed", "IncrementalMeasure", "TicketChange"]


@frozen
class TicketChange:
    """One changed ticket: ``old`` is the image measured so far (None: a new ticket),
    ``new`` the image to measure from now on (None: the ticket is gone).

    A reopened or edited ticket is a change with both images; they need not
    share an id, but ``old`` must be exactly the image applied before.
    """

    old: Ticket | None
    new: Ticket | None


@frozen
class ChangeBatch:
    """The changes a `ChangeFeed` recorded after a cursor, and the cursor after them."""

    changes: tuple[TicketChange, ...]
    cursor: int


@runtime_checkable
class ChangeFeed(Protocol):
    """A ticket store that records its changes, so a measurer can follow it.

    A cursor is an int that grows with every write.  `snapshot` returns the
    current cursor and every ticket as of that cursor (read together, so that
    no write falls between them); `changes(since)` returns one `TicketChange`
    per ticket written after ``since``, whose ``old`` image is the ticket as of
    ``since`` and ``new`` its current image, and the cursor they lead to.
    `prune(before)` forgets the changes up to a cursor that every reader has read.
    """

    def cursor(self) -> int:
        """The cursor of the latest recorded write (0 before any)."""
        ...

    def snapshot(self) -> tuple[int, Iterator[Ticket]]:
        """The current cursor and the tickets as of it (consume the iterator)."""
        ...

    def changes(self, since: int) -> ChangeBatch | None:
        """The changes after ``since``; None when they are no longer all kept (pruned).

        Raises:
            DataSourceError: the store cannot be read.
        """
        ...

    def prune(self, before: int) -> int:
        """Forget the changes up to cursor ``before``; return how many records went."""
        ...


class IncrementalMeasure(Mapping[CellKey, Measurement]):
    """The measurements of ``goals`` over ``tickets``, kept up to date by `apply`.

    A read-only mapping from cell keys to `Measurement`s, equal to
    `measure(goals, tickets, directory=directory, at=at)`.  Plans and indexes
    are built once; `apply` costs in proportion to the changed tickets' cells,
    whatever the number of tickets measured before.  `advance` moves ``at``
    forward, re-applying only the tickets with events between the two instants.
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
        self._at = at
        #: The measured images with an event at or after the limit (not yet
        #: counted, but due when the limit passes it), by ticket id, and a heap
        #: of ``(earliest such event, sequence, ticket id)`` to find them by.
        self._pending: dict[str, list[Ticket]] = {}
        self._heap: list[tuple[int, int, str]] = []
        self._pushed = 0
        for goal in goals:
            if not goal.kpi.fast:  # the KPI engine keeps no per-cell state to subtract from
                raise InvalidInput(
                    "goals", goal.id, "incremental measuring supports the template-shaped KPIs"
                )
        self._index.accumulate(self._watched(tickets))
        self._by_pair = {
            (p.goal_id, p.contributor_id): c
            for p, c in zip(self._index.plans, self._index.cells, strict=True)
        }
        #: Why an `apply` stopped half-way (a clock raised), or None.
        self._broken: str | None = None

    def __getitem__(self, key: CellKey) -> Measurement:
        found = self.get(key)
        if not isinstance(found, Measurement):
            raise KeyError(key)
        return found

    # Written out rather than inherited: `reevaluate` reads every touched cell
    # through it, and Mapping.get's two extra calls were a seventh of its time.
    def get(self, key: CellKey, default: Any = None) -> Any:
        """The measurement of cell ``key``, or ``default`` when there is no such cell."""
        if self._broken is not None:
            self._check()
        try:
            cells = self._by_pair[(key[0], key[1])]
            j = key[2]
            if type(j) is not int or j < 0:
                return default
            count, total = cells.counts[j], cells.totals[j]
        except (KeyError, IndexError, TypeError):
            return default
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
        pending = self._pending_after(batch)
        touched: list[int] = []
        index = self._index
        try:
            index.accumulate((c.old for c in batch if c.old is not None), -1, touched)
            index.accumulate((c.new for c in batch if c.new is not None), 1, touched)
        except BaseException as exc:
            # Only a working clock can raise here (the changes were checked), and
            # what it left half-added cannot be told apart: refuse every later use.
            self._broken = f"{type(exc).__name__}: {exc}"
            raise
        by_goal, below = self._by_goal(set(touched))  # a cell reached by several tickets, once
        if below is not None:
            # Undo the batch, so a bad change leaves the state as it was.
            index.accumulate((c.new for c in batch if c.new is not None), -1)
            index.accumulate((c.old for c in batch if c.old is not None), 1)
            raise InvalidInput("changes", below, "an old ticket image was never measured")
        for ticket_id, images in pending.items():
            self._pending.pop(ticket_id, None)
            self._remember(ticket_id, images)
        return by_goal

    @property
    def at(self) -> datetime | None:
        """The instant measured: events after it do not count (None: every event)."""
        return self._at

    def advance(self, at: datetime | None) -> dict[str, frozenset[CellKey]]:
        """Measure as of the later instant ``at`` (None: every event); return the cells reached.

        Only the tickets with an event after the old instant and at or before
        ``at`` are measured again (a ticket closed in the future, say); the
        result equals a full `measure` at ``at``.

        Raises:
            InvalidInput: ``at`` is not an aware datetime or None, or is earlier
                than the instant measured (measure again for an earlier one).
        """
        self._check()
        limit = as_of_limit(at)
        old = self._index.limit
        if old is None and limit is None:
            return {}
        if old is None or (limit is not None and limit < old):
            raise InvalidInput(
                "at", at, f"earlier than the instant measured ({self._at}): measure again"
            )
        due_ids: set[str] = set()
        heap = self._heap
        while heap and (limit is None or heap[0][0] < limit):
            due_ids.add(heapq.heappop(heap)[2])
        due: list[Ticket] = []
        for ticket_id in due_ids:
            for image in self._pending.get(ticket_id, ()):
                upcoming = _upcoming(image, old)
                if upcoming is not None and (limit is None or upcoming < limit):
                    due.append(image)
        touched: list[int] = []
        index = self._index
        try:
            # Subtract what the due tickets counted before the move, add what they count after.
            index.accumulate(due, -1, touched)
            index.move_limit(limit)
            self._at = None if at is None else aware("at", at)
            index.accumulate(due, 1, touched)
        except BaseException as exc:
            self._broken = f"{type(exc).__name__}: {exc}"
            raise
        for ticket_id in due_ids:
            images = self._pending.pop(ticket_id, [])
            self._remember(ticket_id, images)
        if len(heap) > 2 * len(self._pending) + 64:  # stale entries of changed tickets
            self._heap = []
            for ticket_id, images in list(self._pending.items()):
                del self._pending[ticket_id]
                self._remember(ticket_id, images)
        return self._by_goal(set(touched))[0]

    def _by_goal(self, numbers: set[int]) -> tuple[dict[str, frozenset[CellKey]], CellKey | None]:
        """The keys of the cells ``numbers`` (`_Cells.key_base` + milestone), by goal id,
        and the key of one of them whose measurement is impossible (below zero), or None.
        """
        by_goal: dict[str, set[CellKey]] = {}
        index = self._index
        plans, cells = index.plans, index.cells
        below = None
        for number in numbers:
            i, j = index.cell_of(number)
            plan, cell = plans[i], cells[i]
            key = (plan.goal_id, plan.contributor_id, j)
            by_goal.setdefault(plan.goal_id, set()).add(key)
            count = cell.counts[j]
            if count < 0 or (count == 0 and cell.totals[j] != 0):
                below = key
        return {goal_id: frozenset(keys) for goal_id, keys in by_goal.items()}, below

    def _watched(self, tickets: Iterable[Ticket]) -> Iterable[Ticket]:
        """``tickets``, remembering those with an event at or after the limit."""
        limit = self._index.limit
        if limit is None:
            return tickets
        return self._watching(tickets, limit)

    def _watching(self, tickets: Iterable[Ticket], limit: int) -> Iterator[Ticket]:
        for ticket in tickets:
            try:
                responded, closed = ticket.first_response_us, ticket.closed_us
                if (
                    (responded is not None and responded >= limit)
                    or (closed is not None and closed >= limit)
                    or ticket.reopens_us
                ):
                    self._remember(ticket.id, [ticket])
            except AttributeError:  # not a ticket: the measuring loop names it
                pass
            yield ticket

    def _upcoming(self, ticket: Ticket, limit: int | None) -> int | None:
        """`_upcoming` of a ticket that some cell measures (None for the others)."""
        index = self._index
        if ticket.owner_id not in index.by_owner and ticket.team_id not in index.by_team:
            return None  # no cell of this goal set counts it, now or later
        return _upcoming(ticket, limit)

    def _remember(self, ticket_id: str, images: list[Ticket]) -> None:
        """Keep those of ``images`` with an event at or after the limit, each on the heap."""
        limit = self._index.limit
        kept = []
        for image in images:
            upcoming = self._upcoming(image, limit)
            if upcoming is not None:
                kept.append(image)
                self._pushed += 1
                heapq.heappush(self._heap, (upcoming, self._pushed, ticket_id))
        if kept:
            self._pending.setdefault(ticket_id, []).extend(kept)

    def _pending_after(self, batch: Sequence[TicketChange]) -> dict[str, list[Ticket]]:
        """The remembered images of the batch's tickets once it is applied (new ones apart).

        Taken out of the registry only when the whole batch is valid: an old
        image with an event at or after the limit must be a remembered one.
        """
        limit = self._index.limit
        if limit is None:
            return {}
        work: dict[str, list[Ticket]] = {}

        def images_of(ticket_id: str) -> list[Ticket]:
            images = work.get(ticket_id)
            if images is None:
                images = work[ticket_id] = list(self._pending.get(ticket_id, ()))
            return images

        # In order: a batch may add a ticket and change it again.
        for i, change in enumerate(batch):
            old, new = change.old, change.new
            if old is not None and self._upcoming(old, limit) is not None:
                images = images_of(old.id)
                if old not in images:
                    raise InvalidInput(
                        f"changes[{i}].old", old.id, "an old ticket image was never measured"
                    )
                images.remove(old)
            if new is not None and self._upcoming(new, limit) is not None:
                images_of(new.id).append(new)
        return work


def _upcoming(ticket: Ticket, limit: int | None) -> int | None:
    """The earliest event of ``ticket`` at or after ``limit`` that measuring reads, or None.

    Measuring compares a response, a close and each reopened close and reopen
    with the limit, nothing else: until the limit passes one of them, the
    ticket counts the same.
    """
    if limit is None:
        return None
    found = [
        x for x in (ticket.first_response_us, ticket.closed_us) if x is not None and x >= limit
    ]
    for close, reopen in ticket.reopens_us:
        found += [x for x in (close, reopen) if x >= limit]
    return min(found, default=None)


def _checked(changes: Iterable[TicketChange]) -> Sequence[TicketChange]:
    batch = tuple(changes)
    for i, change in enumerate(batch):
        if not isinstance(change, TicketChange):
            raise InvalidInput(f"changes[{i}]", change, "expected a TicketChange")
        for name, image in (("old", change.old), ("new", change.new)):
            if image is not None and not isinstance(image, Ticket):
                raise InvalidInput(f"changes[{i}].{name}", image, "expected a Ticket or None")
    return batch
