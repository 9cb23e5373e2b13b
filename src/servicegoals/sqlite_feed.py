"""A change feed on an SQLite ticket file: triggers record every write's old image.

`SqliteFeedSource` is an [`SqliteSource`][servicegoals.sources.SqliteSource]
that also installs a ``ticket_changes`` table and BEFORE INSERT, UPDATE and
DELETE triggers on the ticket tables.  Each trigger appends the written
ticket's full image *before* the write (NULL when it did not exist), so every
writer is caught, not only this library.  A cursor is the last sequence number
written; the changes after cursor ``c`` pair, per ticket, the image of its
earliest row after ``c`` (the ticket as of ``c``) with its current image.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from typing import Any

import attrs
from attrs import frozen

from ._validate import integer
from .errors import BadRow, DataSourceError, InvalidInput
from .incremental import ChangeBatch, TicketChange
from .kpis import Ticket
from .sources import (
    _SQLITE_HISTORY_SCHEMA,
    _SQLITE_PROPERTY_SCHEMA,
    SqliteSource,
    read_histories,
    read_properties,
    ticket_from_row,
    with_history,
)

__all__ = ["IMAGE_PARTS", "ImagePart", "SqliteFeedSource", "image_sql"]


@frozen
class ImagePart:
    """One table's share of a ticket's image.

    ``select`` is a scalar SELECT of the part's JSON value for the ticket id
    ``{id}`` (an SQL expression); ``table`` and ``id_column`` are where the
    triggers watch for writes.
    """

    key: str
    table: str
    id_column: str
    select: str


#: The tables a ticket's image is made of.  A new ticket table takes one part
#: here (its triggers follow) and its reading in `_ticket_from_image`.
IMAGE_PARTS = (
    ImagePart(
        "ticket",
        "tickets",
        "id",
        "SELECT json_array(id, created_at, pipeline, owner_id, team_id, first_response_at, "
        "closed_at) FROM tickets WHERE id = {id}",
    ),
    ImagePart(
        "history",
        "ticket_history",
        "ticket_id",
        'SELECT json_group_array(json_array(kind, position, status, start, "end")) FROM '
        "(SELECT * FROM ticket_history WHERE ticket_id = {id} ORDER BY kind, position)",
    ),
    ImagePart(
        "properties",
        "ticket_property",
        "ticket_id",
        "SELECT json_group_array(json_array(name, text_value, int_value, instant_value)) "
        "FROM ticket_property WHERE ticket_id = {id}",
    ),
)


def image_sql(ticket_id: str) -> str:
    """The SQL of the JSON image of the ticket whose id is the expression ``ticket_id``.

    NULL when no ``tickets`` row has that id.  Qualify a column name
    (``NEW.id``, ``alias.ticket_id``): the parts' subqueries have columns of
    their own.
    """
    parts = ", ".join(f"'{p.key}', json(({p.select.format(id=ticket_id)}))" for p in IMAGE_PARTS)
    return (
        f"CASE WHEN EXISTS (SELECT 1 FROM tickets WHERE id = {ticket_id}) "
        f"THEN json_object({parts}) END"
    )


_FEED_SCHEMA = """
CREATE TABLE IF NOT EXISTS ticket_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id TEXT NOT NULL,
    old_image TEXT
);
CREATE INDEX IF NOT EXISTS ticket_changes_ticket ON ticket_changes (ticket_id, seq);
CREATE TABLE IF NOT EXISTS ticket_feed_state (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    pruned_through INTEGER NOT NULL
);
INSERT OR IGNORE INTO ticket_feed_state VALUES (1, 0);
"""


def _record(ticket_id: str, condition: str = "") -> str:
    """The trigger statement recording the image of the ticket ``ticket_id`` (an expression)."""
    return (
        f"INSERT INTO ticket_changes (ticket_id, old_image) SELECT {ticket_id}, "
        f"{image_sql(ticket_id)} WHERE {ticket_id} IS NOT NULL{condition};"
    )


def _triggers() -> dict[str, str]:
    """The feed's triggers by name: BEFORE each write of each part's table."""
    made = {}
    for part in IMAGE_PARTS:
        new, old = f"NEW.{part.id_column}", f"OLD.{part.id_column}"
        # An update that changes the id writes two tickets: the old id and the new.
        moved = _record(new, f" AND {new} IS NOT {old}")
        for event, body in (
            ("INSERT", _record(new)),
            ("UPDATE", f"{_record(old)}\n    {moved}"),
            ("DELETE", _record(old)),
        ):
            name = f"ticket_changes_{part.table}_{event.lower()}"
            made[name] = (
                f"CREATE TRIGGER {name} BEFORE {event} ON {part.table}\nBEGIN\n    {body}\nEND"
            )
    return made


_CURSOR = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'ticket_changes'), 0)"
# Per ticket, the earliest row after the cursor (SQLite takes the bare column
# from the row of the min()) and the ticket's current image.
# The id is qualified: inside the image's subqueries a bare ``ticket_id`` would
# name their own table's column.
_CHANGES = (
    "SELECT earliest.ticket_id, earliest.old_image, "
    + image_sql("earliest.ticket_id")
    + " FROM (SELECT ticket_id, old_image, min(seq) FROM ticket_changes WHERE seq > ? "
    "GROUP BY ticket_id) AS earliest"
)


class SqliteFeedSource(SqliteSource):
    """An `SqliteSource` whose writes are recorded, for the incremental tracker.

    Opening one installs the ``ticket_changes`` table and its triggers (once;
    again when their SQL changes).  It implements
    [`ChangeFeed`][servicegoals.incremental.ChangeFeed]: `snapshot`,
    `changes`, `cursor` and `prune`.  Recorded rows stay until `prune`
    removes them; a [`Tracker`][servicegoals.tracker.Tracker] prunes what it
    has read.
    """

    def __init__(self, path: str | os.PathLike[str], **options: Any) -> None:
        super().__init__(path, **options)
        connection = self._connect()
        try:
            wanted = _triggers()
            found = dict(
                connection.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                    "AND name LIKE 'ticket_changes_%'"
                ).fetchall()
            )
            if found != wanted:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    connection.execute(_SQLITE_HISTORY_SCHEMA)
                    connection.execute(_SQLITE_PROPERTY_SCHEMA)
                    for statement in _FEED_SCHEMA.split(";"):
                        connection.execute(statement)
                    for name in found:
                        connection.execute(f'DROP TRIGGER "{name}"')
                    for sql in wanted.values():
                        connection.execute(sql)
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise DataSourceError(f"{self.path}: cannot install the change feed: {exc}") from None
        finally:
            connection.close()

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> SqliteFeedSource:
        """Create the file (if needed), the ticket tables and the change feed."""
        SqliteSource.create(path)
        return cls(path)

    def cursor(self) -> int:
        """The sequence number of the latest recorded write (0 before any)."""
        connection = self._connect()
        try:
            return int(connection.execute(_CURSOR).fetchone()[0])
        except sqlite3.Error as exc:
            raise DataSourceError(f"{self.path}: cannot read the change feed: {exc}") from None
        finally:
            connection.close()

    def snapshot(self) -> tuple[int, Iterator[Ticket]]:
        """The cursor and every ticket as of it, read in one transaction.

        The transaction stays open until the iterator is consumed or closed.
        """
        connection = self._connect()
        try:
            connection.execute("BEGIN")
            cursor = int(connection.execute(_CURSOR).fetchone()[0])  # starts the snapshot
        except sqlite3.Error as exc:
            connection.close()
            raise DataSourceError(f"{self.path}: cannot read the change feed: {exc}") from None
        return cursor, self.read_tickets(connection)  # closing it ends the transaction

    def changes(self, since: int) -> ChangeBatch | None:
        """The changes after cursor ``since`` and the cursor after them.

        One `TicketChange` per ticket written since: its image as of ``since``
        and its current one (None where it did not or does not exist).  None
        when rows after ``since`` were pruned, or ``since`` is ahead of this
        file (another file, or one restored from a backup): read a snapshot.

        Raises:
            InvalidInput: ``since`` is not an int of zero or more.
            BadRow: a recorded or current image is not a valid ticket.
            DataSourceError: the file cannot be read.
        """
        since = integer("since", since, low=0)
        connection = self._connect()
        try:
            connection.execute("BEGIN")
            cursor = int(connection.execute(_CURSOR).fetchone()[0])
            (pruned,) = connection.execute(
                "SELECT pruned_through FROM ticket_feed_state"
            ).fetchone()
            if since < pruned or since > cursor:
                return None
            rows = connection.execute(_CHANGES, (since,)).fetchall()
        except sqlite3.Error as exc:
            raise DataSourceError(f"{self.path}: cannot read the change feed: {exc}") from None
        finally:
            connection.close()
        found = []
        for ticket_id, old_image, new_image in rows:
            if old_image != new_image:  # written back as it was: nothing to measure
                old, new = self._ticket(ticket_id, old_image), self._ticket(ticket_id, new_image)
                found.append(TicketChange(old, new))
        return ChangeBatch(tuple(found), cursor)

    def prune(self, before: int) -> int:
        """Delete the recorded rows up to cursor ``before``; returns how many.

        A reader whose cursor is older then gets None from `changes` (and reads
        a snapshot again): prune only what every reader has read.
        """
        before = integer("before", before, low=0)
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            deleted = connection.execute(
                "DELETE FROM ticket_changes WHERE seq <= ?", (before,)
            ).rowcount
            connection.execute(
                "UPDATE ticket_feed_state SET pruned_through = max(pruned_through, ?)", (before,)
            )
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise DataSourceError(f"{self.path}: cannot prune the change feed: {exc}") from None
        finally:
            connection.close()  # an unfinished transaction is rolled back
        return int(deleted)

    def _ticket(self, ticket_id: Any, image: Any) -> Ticket | None:
        if image is None:
            return None
        try:
            return _ticket_from_image(str(self.path), image)
        except BadRow:
            raise
        except (ValueError, KeyError, TypeError, IndexError):  # not JSON or not its shape
            raise BadRow(
                str(self.path),
                f"change of ticket {ticket_id!r}",
                "image",
                image,
                "not a ticket image as the feed's triggers write it",
            ) from None


def _ticket_from_image(source: str, image: str) -> Ticket:
    """The ticket of a JSON image made by `image_sql`."""
    parts = json.loads(image)
    row = parts["ticket"]
    ticket = ticket_from_row(source, row)
    # Sorted here too: SQLite does not promise the order an aggregate sees rows in.
    items = sorted(parts.get("history") or (), key=lambda item: (item[0], item[1]))
    history = [(ticket.id, *item) for item in items]
    if history:
        ticket = with_history(source, ticket, read_histories(source, history))
    rows = [(ticket.id, *item) for item in parts.get("properties") or ()]
    if not rows:
        return ticket
    properties = read_properties(source, rows)[ticket.id]
    try:
        return attrs.evolve(ticket, properties=properties)
    except InvalidInput as exc:
        raise BadRow(source, f"ticket {ticket.id!r}", exc.field, exc.value, exc.reason) from None
