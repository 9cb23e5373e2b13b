"""Ticket properties are never dropped silently: a source that cannot store them refuses.

DuckDB files have no property table: writing a ticket that has some is an
`InvalidInput` naming the ticket and its properties, and nothing is written.
The sources that store them are tested in test_stored_properties.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from servicegoals import InvalidInput, Ticket
from servicegoals.duckdb_source import DuckDbSource

OPENED = datetime(2026, 3, 2, 9, tzinfo=UTC)
PLAIN = Ticket("t1", OPENED, "support", owner_id="ada", closed_at=OPENED + timedelta(hours=2))
TAGGED = Ticket(
    "t2", OPENED, "support", owner_id="ada", properties={"priority": "urgent", "channel": "chat"}
)


def test_duckdb_refuses_a_ticket_with_properties_and_writes_nothing(tmp_path: Path) -> None:
    source = DuckDbSource.create(tmp_path / "tickets.duckdb")
    with pytest.raises(InvalidInput) as caught:
        source.add_tickets([PLAIN, TAGGED])
    assert caught.value.field == "ticket 't2'.properties"
    assert caught.value.value == "channel, priority"
    assert "refused rather than dropped" in str(caught.value)
    assert list(source.tickets()) == []  # all or nothing: t1 was not stored either
    source.add_tickets([PLAIN])
    assert list(source.tickets()) == [PLAIN]
