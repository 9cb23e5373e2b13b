"""The SQLite change feed and the tracker that follows it, on real SQLite files.

Every refresh of a tracker that follows the feed must give the reports of a
tracker that measures every ticket again, whoever wrote the tickets: the
library (`add_tickets`) or raw SQL from another connection.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clocks import DAY_US, with_history
from servicegoals import (
    AVG_RESOLUTION_TIME,
    TICKETS_CREATED,
    Cadence,
    Directory,
    Goal,
    IncrementalMeasure,
    InvalidInput,
    Reopen,
    Ticket,
    TicketChange,
)
from servicegoals._validate import from_us, to_us
from servicegoals.errors import BadRow
from servicegoals.incremental import ChangeBatch, ChangeFeed
from servicegoals.sources import SqliteSource
from servicegoals.sqlite_feed import SqliteFeedSource
from servicegoals.stores import InMemoryStore
from servicegoals.testing import raises
from servicegoals.tracker import Tracker
from test_tracker import ACCOUNT, HOUR, SPAN, at, closed, goal, january, people


def feed_file(tmp_path: Path, tickets: Iterable[Ticket] = ()) -> SqliteFeedSource:
    source = SqliteFeedSource.create(tmp_path / "tickets.db")
    source.add_tickets(tickets)
    return source


def raw(source: SqliteSource, sql: str, *params: object) -> None:
    """Write with a connection of its own, as another program would."""
    connection = sqlite3.connect(source.path, isolation_level=None)
    try:
        connection.execute(sql, params)
    finally:
        connection.close()


def test_the_feed_records_each_ticket_as_of_the_cursor(tmp_path: Path) -> None:
    first = closed("a", "u0", at(1, 5))
    source = feed_file(tmp_path, [first])
    assert isinstance(source, ChangeFeed)
    cursor, tickets = source.snapshot()
    assert list(tickets) == [first]
    assert source.changes(cursor) == ChangeBatch((), cursor)
    # Edited twice: one change, from the image at the cursor to the current one.
    second = attrs.evolve(first, closed_at=at(2, 3), reopens=[Reopen(at(1, 5), at(1, 6))])
    source.add_tickets([attrs.evolve(first, owner_id="u1")], replace=True)
    source.add_tickets([second], replace=True)
    batch = source.changes(cursor)
    assert batch is not None
    assert batch.changes == (TicketChange(first, second),)
    assert batch.cursor == source.cursor() > cursor
    # Raw SQL is caught too: a delete, an insert, an id changed, a no-op update.
    raw(source, "DELETE FROM ticket_history")
    raw(source, "UPDATE tickets SET id = 'b' WHERE id = 'a'")
    raw(
        source,
        "INSERT INTO tickets (id, created_at, pipeline) VALUES ('c', ?, 'support')",
        to_us(at(1, 1)),
    )
    raw(source, "UPDATE tickets SET pipeline = pipeline")
    again = source.changes(batch.cursor)
    assert again is not None
    moved = attrs.evolve(second, id="b", reopens=())
    made = Ticket("c", at(1, 1), "support")
    assert set(again.changes) == {
        TicketChange(second, None),
        TicketChange(None, moved),
        TicketChange(None, made),
    }


def test_the_feed_records_ticket_properties(tmp_path: Path) -> None:
    first = attrs.evolve(
        closed("a", "u0", at(1, 5)), properties={"priority": "urgent", "amount": 7}
    )
    source = feed_file(tmp_path, [first])
    cursor, tickets = source.snapshot()
    assert list(tickets) == [first]
    # A property written alone, by another program, is a change of its ticket.
    raw(source, "UPDATE ticket_property SET text_value = 'low' WHERE name = 'priority'")
    batch = source.changes(cursor)
    assert batch is not None
    later = attrs.evolve(first, properties={"priority": "low", "amount": 7})
    assert batch.changes == (TicketChange(first, later),)
    raw(source, "DELETE FROM ticket_property WHERE name = 'amount'")
    again = source.changes(batch.cursor)
    assert again is not None
    assert again.changes == (
        TicketChange(later, attrs.evolve(later, properties={"priority": "low"})),
    )


def test_a_snapshot_is_one_transaction(tmp_path: Path) -> None:
    source = feed_file(tmp_path, [closed("a", "u0", at(1, 5))])
    cursor, tickets = source.snapshot()
    source.add_tickets([closed("b", "u0", at(1, 6))])  # written while the snapshot is read
    assert [t.id for t in tickets] == ["a"]
    batch = source.changes(cursor)
    assert batch is not None
    assert [c.new.id for c in batch.changes if c.new] == ["b"]


def test_pruned_changes_are_refused_and_cursors_checked(tmp_path: Path) -> None:
    source = feed_file(tmp_path)
    source.add_tickets([closed("a", "u0", at(1, 5))])
    middle = source.cursor()
    source.add_tickets([closed("b", "u0", at(1, 6))])
    assert source.prune(middle) == middle
    assert source.changes(0) is None  # its rows are gone: read a snapshot again
    assert source.changes(middle) is not None
    assert source.changes(source.cursor() + 1) is None  # ahead of this file
    with raises(InvalidInput, "since", -1):
        source.changes(-1)
    with raises(InvalidInput, "before", "1"):
        source.prune("1")  # type: ignore[arg-type]


def test_a_bad_stored_image_names_the_ticket(tmp_path: Path) -> None:
    source = feed_file(tmp_path)
    cursor = source.cursor()
    connection = sqlite3.connect(source.path, isolation_level=None)
    connection.execute("PRAGMA ignore_check_constraints = 1")
    connection.execute("INSERT INTO tickets (id, created_at, pipeline) VALUES ('x', 'soon', 'p')")
    connection.close()
    with pytest.raises(BadRow, match=r"ticket 'x', column 'created_at'.*'soon'"):
        source.changes(cursor)


def test_opening_a_file_again_keeps_its_records(tmp_path: Path) -> None:
    source = feed_file(tmp_path, [closed("a", "u0", at(1, 5))])
    again = SqliteFeedSource(source.path)
    batch = again.changes(0)
    assert batch is not None
    assert len(batch.changes) == 1
    # A plain SqliteSource reads the same file; its writes are recorded as well.
    SqliteSource(source.path).add_tickets([closed("b", "u0", at(1, 6))])
    assert again.cursor() > batch.cursor


# -- the tracker ------------------------------------------------------------------------


def average(directory: Directory) -> Goal:
    """An average resolution time goal: durations are summed, not only counted."""
    base = goal(directory, "g2")
    return Goal.create(
        id="g2",
        name="Resolve quickly",
        kpi=AVG_RESOLUTION_TIME,
        cadence=Cadence.MONTHLY,
        span=SPAN,
        settings=ACCOUNT,
        contributors=directory.users,
        targets={u.id: 5 * HOUR for u in directory.users},
        notifications=base.notifications,
        created_at=base.created_at,
    )


class Pair:
    """A tracker following the feed, and one measuring every ticket, on one file."""

    def __init__(self, source: SqliteFeedSource, directory: Directory) -> None:
        self.stores = InMemoryStore(), InMemoryStore()
        for store in self.stores:
            for made in (goal(directory), average(directory)):
                store.save_goal(made)
        every = timedelta(0)
        self.following = Tracker(self.stores[0], source, [], directory, refresh_interval=every)
        full = SqliteSource(source.path)
        self.full = Tracker(self.stores[1], full, [], directory, refresh_interval=every)

    def refresh(self, when: datetime, *, force: bool = False) -> None:
        ours = self.following.refresh(when, force=force)
        theirs = self.full.refresh(when, force=force)
        assert ours.reports == theirs.reports
        assert ours.planned == theirs.planned

    def measured(self) -> IncrementalMeasure:
        """The following tracker's measurements (it keeps them between refreshes)."""
        following = self.following._following
        assert following is not None
        return following.measured


def started(tmp_path: Path, users: int = 2) -> tuple[SqliteFeedSource, Pair]:
    """A file of January's tickets and a pair of trackers refreshed on January 20."""
    d = people(users)
    source = feed_file(tmp_path, january(d))
    pair = Pair(source, d)
    pair.refresh(at(1, 20))
    return source, pair


def test_a_following_tracker_equals_a_full_one_whoever_writes(tmp_path: Path) -> None:
    source, pair = started(tmp_path, 3)
    measured = pair.measured()
    # The library writes: new, closed, reopened and closed again.
    source.add_tickets([closed("n1", "u2", at(1, 21)), Ticket("open", at(1, 2), "support", "u1")])
    reopened = attrs.evolve(
        closed("u0-0", "u0", at(1, 10)), closed_at=at(2, 2), reopens=[Reopen(at(1, 10), at(1, 22))]
    )
    source.add_tickets([reopened], replace=True)
    pair.refresh(at(1, 25))
    # Another program writes: a close, an owner changed, a delete, and a close in the
    # future of the next refreshes (counted once a refresh passes it).
    raw(source, "UPDATE tickets SET closed_at = ? WHERE id = 'open'", to_us(at(1, 28)))
    raw(source, "UPDATE tickets SET owner_id = 'u0' WHERE id = 'u1-1'")
    raw(source, "DELETE FROM tickets WHERE id = 'u2-0'")
    source.add_tickets([closed("future", "u1", at(2, 20))])
    for when in (at(2, 1), at(2, 19), at(2, 20), at(2, 21), at(3, 31)):
        pair.refresh(when)
    # Every refresh applied changes to the measurements built by the first one.
    assert pair.measured() is measured
    assert source.changes(0) is None  # the tracker pruned what it read


def test_a_new_goal_set_directory_or_earlier_instant_measures_afresh(tmp_path: Path) -> None:
    _, pair = started(tmp_path)
    first = pair.measured()
    for store in pair.stores:
        store.save_goal(attrs.evolve(goal(pair.following.directory, "g3"), name="Another"))
    pair.refresh(at(1, 21))
    second = pair.measured()
    assert second is not first
    d = pair.following.directory
    gone = Directory([d.users[0], attrs.evolve(d.users[1], active=False)])
    pair.following.directory = pair.full.directory = gone
    pair.refresh(at(1, 22))
    third = pair.measured()
    assert third is not second
    pair.refresh(at(1, 21) + HOUR, force=True)  # earlier than the measured instant
    assert pair.measured() is not third


def test_another_reader_pruning_makes_the_tracker_measure_afresh(tmp_path: Path) -> None:
    source, pair = started(tmp_path)
    first = pair.measured()
    source.add_tickets([closed("x", "u0", at(1, 21))])
    source.prune(source.cursor())  # another tracker read further and pruned
    source.add_tickets([closed("y", "u1", at(1, 21))])
    pair.refresh(at(1, 23))
    assert pair.measured() is not first


def test_a_restarted_tracker_starts_from_a_full_measure(tmp_path: Path) -> None:
    source, pair = started(tmp_path)
    source.add_tickets([closed("x", "u0", at(1, 21))])
    # A new process: a new tracker on the same store and file.
    d = pair.following.directory
    restarted = Tracker(pair.stores[0], SqliteFeedSource(source.path), [], d)
    ours = restarted.refresh(at(1, 23), force=True)
    assert ours.reports == pair.full.refresh(at(1, 23)).reports


def test_a_feed_that_does_not_match_the_measurements_is_measured_afresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source, pair = started(tmp_path)
    first = pair.measured()
    # Someone rewrote the records: an old image that was never measured.
    source.add_tickets([closed("x", "u0", at(1, 21))])
    ghost = (to_us(at(2, 1)), to_us(at(2, 2)))  # u1 has no ticket in February
    raw(
        source,
        "UPDATE ticket_changes SET old_image = json_object('ticket', json_array("
        "'x', ?, 'support', 'u1', NULL, NULL, ?), 'history', json('[]'))",
        *ghost,
    )
    pair.refresh(at(1, 23))
    assert "measuring afresh" in caplog.text
    assert pair.measured() is not first


def test_custom_kpis_are_measured_in_full(tmp_path: Path) -> None:
    _, pair = started(tmp_path)
    custom = attrs.evolve(goal(pair.following.directory, "g9"), kpi=TICKETS_CREATED)
    for store in pair.stores:
        store.save_goal(custom)
    pair.refresh(at(1, 23))
    assert pair.following._following is None


@st.composite
def images(draw: st.DrawFn, ticket_id: str) -> Ticket:
    """A ticket of the pair's goals, its response and close anywhere around the span."""
    created = draw(st.integers(SPAN.start_us - 5 * DAY_US, SPAN.end_us))
    later = st.none() | st.integers(created, created + 30 * DAY_US).map(from_us)
    made = Ticket(
        ticket_id,
        from_us(created),
        "support",
        owner_id=draw(st.sampled_from(["u0", "u1", "u2", None])),
        first_response_at=draw(later),
        closed_at=draw(later),
    )
    return draw(with_history(made)) if draw(st.booleans()) else made


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_random_writes_and_refreshes_equal_full_refreshes(data: st.DataObject) -> None:
    stored: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        source = SqliteFeedSource.create(Path(tmp) / "tickets.db")
        pair = Pair(source, people(3))
        now = data.draw(st.integers(SPAN.start_us - 10 * DAY_US, SPAN.start_us + 30 * DAY_US))
        first: IncrementalMeasure | None = None
        for step in range(data.draw(st.integers(2, 6))):
            for n in range(data.draw(st.integers(1, 4))):
                what = data.draw(st.sampled_from(["new", "replace", "delete", "reopen"]))
                if what == "new" or not stored:
                    stored.append(f"t{step}-{n}")
                    source.add_tickets([data.draw(images(stored[-1]))])
                    continue
                chosen = data.draw(st.sampled_from(stored))
                if what == "replace":
                    source.add_tickets([data.draw(images(chosen))], replace=True)
                elif what == "delete":
                    raw(source, "DELETE FROM tickets WHERE id = ?", chosen)
                    stored.remove(chosen)
                else:  # another program reopens it: open again, no history row
                    raw(source, "UPDATE tickets SET closed_at = NULL WHERE id = ?", chosen)
            now += data.draw(st.integers(0, 10 * DAY_US))
            pair.refresh(from_us(now))
            # Followed from the first refresh on: never measured afresh.
            first = first or pair.measured()
            assert pair.measured() is first


def test_a_feed_that_cannot_be_pruned_still_refreshes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source, pair = started(tmp_path)
    raw(source, "DROP TABLE ticket_feed_state")  # reading and pruning the feed now fail
    source.add_tickets([closed("x", "u0", at(1, 21))])
    pair.refresh(at(1, 23))
    assert "measuring afresh" in caplog.text
    assert "pruning the change feed failed" in caplog.text


@pytest.mark.parametrize("image", ["not json", "[1, 2]", '{"ticket": [1]}', '{"history": []}'])
def test_a_recorded_image_that_is_not_one_is_a_bad_row(tmp_path: Path, image: str) -> None:
    source = feed_file(tmp_path, [closed("a", "u0", at(1, 5))])
    raw(source, "UPDATE ticket_changes SET old_image = ?", image)
    raw(source, "DELETE FROM tickets")
    with pytest.raises(BadRow, match=r"change of ticket 'a', column 'image'"):
        source.changes(0)
