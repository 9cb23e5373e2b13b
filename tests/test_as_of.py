"""As-of correctness: measuring for an instant counts only events at or before it.

The reported bug: ``servicegoals evaluate --as-of 2026-03-15T12:00:00-07:00``
counted a ticket closed on 17 March.  Equality of every push-down with
``measure`` for random instants is in test_pushdown.py.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from servicegoals import (
    AVG_RESOLUTION_TIME,
    AVG_RESPONSE_TIME,
    CLOSED_TICKETS,
    AccountSettings,
    Cadence,
    Directory,
    Goal,
    InvalidInput,
    Kpi,
    Measurement,
    Ticket,
    User,
    date_range,
    measure,
)
from servicegoals.cli import main
from servicegoals.goalfiles import dump_goals
from servicegoals.sources import CsvSource, InMemorySource, SqliteSource
from servicegoals.stores import InMemoryStore
from servicegoals.tracker import Tracker

ACCOUNT = AccountSettings(timezone="America/Los_Angeles")
SPAN = date_range(date(2026, 3, 1), date(2026, 3, 31), ACCOUNT)
PACIFIC = timezone(timedelta(hours=-7))
AS_OF = datetime(2026, 3, 15, 12, tzinfo=PACIFIC)


def on(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=PACIFIC)


def goal(kpi: Kpi = CLOSED_TICKETS) -> Goal:
    return Goal.create(
        id="g",
        name="March",
        kpi=kpi,
        cadence=Cadence.MONTHLY,
        span=SPAN,
        settings=ACCOUNT,
        contributors=[User("ada", "Ada")],
        targets={"ada": 3 if kpi is CLOSED_TICKETS else timedelta(hours=4)},
    )


TICKETS = [
    Ticket("early", on(2), "support", owner_id="ada", first_response_at=on(2, 14), closed_at=on(3)),
    # Answered before the as-of instant, closed two days after it.
    Ticket("late", on(10), "support", "ada", first_response_at=on(15, 9), closed_at=on(17)),
    # Answered after the as-of instant.
    Ticket("slow", on(14), "support", "ada", first_response_at=on(16), closed_at=on(16, 13)),
    # Closed exactly at the as-of instant: at or before counts.
    Ticket("exact", on(15, 8), "support", "ada", first_response_at=AS_OF, closed_at=AS_OF),
]


def test_a_ticket_closed_after_the_instant_is_open_at_it() -> None:
    result = measure([goal()], TICKETS, at=AS_OF)
    assert result[("g", "ada", 0)] == Measurement(2, 0)  # early and exact, not late or slow
    assert measure([goal()], TICKETS)[("g", "ada", 0)] == Measurement(4, 0)


def test_a_response_after_the_instant_has_not_happened() -> None:
    result = measure([goal(AVG_RESPONSE_TIME)], TICKETS, at=AS_OF)
    hour = 3600 * 10**6
    assert result[("g", "ada", 0)] == Measurement(3, (2 + 5 * 24 - 3 + 4) * hour)
    resolved = measure([goal(AVG_RESOLUTION_TIME)], TICKETS, at=AS_OF)
    assert resolved[("g", "ada", 0)] == Measurement(2, (24 + 4) * hour)


def test_the_instant_may_be_in_any_zone_and_must_be_aware() -> None:
    in_utc = AS_OF.astimezone(UTC)
    assert measure([goal()], TICKETS, at=in_utc) == measure([goal()], TICKETS, at=AS_OF)
    one_before = AS_OF - timedelta(microseconds=1)
    assert measure([goal()], TICKETS, at=one_before)[("g", "ada", 0)] == Measurement(1, 0)
    with pytest.raises(InvalidInput, match="at"):
        measure([goal()], TICKETS, at=datetime(2026, 3, 15, 12))
    with pytest.raises(InvalidInput, match="at"):
        measure([goal()], TICKETS, at="2026-03-15")  # type: ignore[arg-type]


def test_sources_measure_as_of(tmp_path: Path) -> None:
    expected = measure([goal()], TICKETS, at=AS_OF)
    database = tmp_path / "t.db"
    SqliteSource.create(database).add_tickets(TICKETS)
    for up_to in (0, 10**9):
        source = SqliteSource(database, milestone_queries_up_to=up_to)
        assert source.measure([goal()], at=AS_OF) == expected
    assert InMemorySource(TICKETS).measure([goal()], at=AS_OF) == expected


def test_the_tracker_measures_as_of_the_refresh() -> None:
    store = InMemoryStore()
    store.save_goal(goal())
    tracker = Tracker(store, InMemorySource(TICKETS), [], Directory([User("ada", "Ada")]))
    report = tracker.refresh(AS_OF, force=True).reports[0]
    assert report.row("ada", 0).measurement == Measurement(2, 0)


@pytest.mark.parametrize("kind", ["csv", "sqlite"])
def test_evaluate_as_of_counts_no_later_close(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reported bug, through the command line."""
    goals = tmp_path / "goals.toml"
    dump_goals([goal()], goals)
    tickets = tmp_path / "tickets.csv"
    CsvSource.write(tickets, TICKETS)
    if kind == "sqlite":
        tickets = tmp_path / "tickets.db"
        SqliteSource.create(tickets).add_tickets(TICKETS)
    argv = ["evaluate", "--goals", str(goals), "--tickets", str(tickets), "--format", "json"]
    code = main([*argv, "--quiet", "--as-of", "2026-03-15T12:00:00-07:00"])
    out, err = capsys.readouterr()
    assert code == 0, err
    (row,) = [r for r in json.loads(out)["goals"][0]["rows"] if r["kind"] == "cell"]
    assert (row["tickets"], row["status"]) == (2, "in_progress")
