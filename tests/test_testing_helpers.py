"""The public test helpers in ``servicegoals.testing`` keep their promises."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import find, given
from hypothesis import strategies as st

from servicegoals import (
    AVG_RESPONSE_TIME,
    AccountSettings,
    Aggregation,
    Cadence,
    Contribution,
    ContributorKind,
    Directory,
    Goal,
    ImmutableField,
    InvalidInput,
    Kpi,
    Period,
    Ticket,
    TicketEvent,
    User,
)
from servicegoals.testing import (
    AMOUNT,
    CHANNELS,
    DUE,
    PIPELINES,
    TIERS,
    goals,
    kpis,
    periods,
    raises,
    tickets,
)

#: The events a duration may start at.
STARTS = ("CREATED", "FIRST_RESPONSE", "CLOSED", "FIRST_CLOSE")

# -- raises ---------------------------------------------------------------------------------


def test_raises_passes_when_the_error_names_field_and_value() -> None:
    with raises(InvalidInput, "timezone", "Mars/Base") as caught:
        AccountSettings(timezone="Mars/Base")
    assert isinstance(caught.error, InvalidInput)
    with raises(InvalidInput, "timezone"):  # the value is optional
        AccountSettings(timezone="Mars/Base")


@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        ("time_zone", "Mars/Base", "does not name field 'time_zone'"),
        ("timezone", "Mars/base", "does not name value 'Mars/base'"),
    ],
)
def test_raises_fails_when_the_error_names_something_else(
    field: str, value: object, complaint: str
) -> None:
    with pytest.raises(AssertionError, match=complaint), raises(InvalidInput, field, value):
        AccountSettings(timezone="Mars/Base")


def test_raises_tells_true_from_one() -> None:
    with (
        pytest.raises(AssertionError, match="does not name value 1"),
        raises(InvalidInput, "fiscal_year_start_month", 1),
    ):
        AccountSettings(fiscal_year_start_month=True)


def test_raises_fails_when_nothing_is_raised_and_lets_other_errors_through() -> None:
    missing = "InvalidInput naming 'timezone' was not raised"
    with pytest.raises(AssertionError, match=missing), raises(InvalidInput, "timezone"):
        AccountSettings(timezone="UTC")
    with pytest.raises(InvalidInput), raises(ImmutableField, "timezone"):
        AccountSettings(timezone="Mars/Base")


# -- strategies -----------------------------------------------------------------------------


@given(
    period=periods(min_days=3, max_days=40, min_start=date(2030, 1, 1), max_start=date(2030, 2, 1))
)
def test_periods_respect_their_bounds(period: Period) -> None:
    # Local midnights in any zone are within a day and a bit of UTC midnight.
    assert timedelta(days=3) - timedelta(hours=2) <= period.duration < timedelta(days=41, hours=2)
    assert datetime(2029, 12, 31, tzinfo=UTC) <= period.start < datetime(2030, 2, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("options", "field", "value"),
    [
        ({"min_days": 0}, "min_days", 0),
        ({"min_days": 9, "max_days": 8}, "min_days", 9),
        ({"max_days": 20 * 366}, "max_days", 20 * 366),
    ],
)
def test_periods_refuse_impossible_lengths(options: dict[str, Any], field: str, value: int) -> None:
    with raises(InvalidInput, field, value):
        periods(**options)


@given(goal=goals(kpis=[AVG_RESPONSE_TIME], cadences=[Cadence.WEEKLY], max_days=30))
def test_goals_use_the_chosen_kpis_and_cadences(goal: Goal) -> None:
    assert goal.kpi is AVG_RESPONSE_TIME
    assert goal.cadence is Cadence.WEEKLY
    assert goal.span.duration < timedelta(days=31)


@given(data=st.data(), goal=goals(max_days=60))
def test_tickets_aimed_at_a_goal(data: st.DataObject, goal: Goal) -> None:
    delay = timedelta(days=5)
    ticket = data.draw(tickets(goal, max_delay=delay))
    users = {c.id for c in goal.contributors if c.kind is ContributorKind.USER}
    teams = {c.id for c in goal.contributors if c.kind is ContributorKind.TEAM}
    assert ticket.owner_id in {*users, "outsider", None}
    assert ticket.team_id in {*teams, "outsider-team", None}
    cells = {t.pipeline for row in goal.targets for t in row if t and t.pipeline}
    assert ticket.pipeline in (goal.pipelines | cells or set(PIPELINES)) | {"other"}
    assert goal.span.start - delay <= ticket.created_at < goal.span.end
    for later in (ticket.first_response_at, ticket.closed_at):
        assert later is None or ticket.created_at <= later <= ticket.created_at + delay


@given(
    ticket=tickets(
        window=Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)),
        pipelines=["only"],
        max_delay=timedelta(0),
    )
)
def test_tickets_in_a_window_and_pipelines(ticket: Ticket) -> None:
    assert ticket.pipeline == "only"
    assert datetime(2026, 1, 1, tzinfo=UTC) <= ticket.created_at < datetime(2026, 1, 2, tzinfo=UTC)
    assert ticket.closed_at in (None, ticket.created_at)


def test_tickets_refuse_bad_options() -> None:
    with raises(InvalidInput, "pipelines", []):
        tickets(pipelines=[])
    with raises(InvalidInput, "max_delay", timedelta(-1)):
        tickets(max_delay=timedelta(-1))


def test_goals_need_people_in_the_directory() -> None:
    empty = Directory()
    with raises(InvalidInput, "directory", empty):
        find(goals(directory=empty), lambda goal: True)
    only_u = find(goals(directory=Directory([User("u", "U")])), lambda goal: True)
    assert only_u.contributor_ids == ("u",)


# -- custom KPIs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wanted",
    [
        *(lambda k, a=a: k.aggregation is a for a in Aggregation),
        *(lambda k, c=c: k.contribution is c for c in Contribution),
        *(lambda k, e=e: k.event is e for e in TicketEvent),
        *(lambda k, e=e: k.start is e for e in TicketEvent if e.name in STARTS),
        lambda k: len(k.where) == 2,
        lambda k: isinstance(k.percentile, Fraction) and k.percentile.denominator > 1,
        lambda k: k.threshold == 0,
    ],
)
def test_kpis_reach_every_shape(wanted: Any) -> None:
    assert wanted(find(kpis(), wanted))


@given(kpi=kpis(aggregations=[Aggregation.SHARE, Aggregation.PERCENTILE]))
def test_kpis_keep_to_the_chosen_aggregations(kpi: Kpi) -> None:
    assert kpi.aggregation in (Aggregation.SHARE, Aggregation.PERCENTILE)
    assert (kpi.threshold is None) == (kpi.aggregation is Aggregation.PERCENTILE)
    assert all(set(allowed) <= {*CHANNELS, *TIERS} for _, allowed in kpi.where)


@pytest.mark.parametrize("aggregations", [[], ["share"]])
def test_kpis_refuse_bad_aggregations(aggregations: list[Any]) -> None:
    with raises(InvalidInput, "aggregations", aggregations):
        kpis(aggregations=aggregations)


@given(data=st.data(), goal=goals(kpis=kpis(), max_days=60))
def test_tickets_carry_the_properties_that_custom_kpis_read(
    data: st.DataObject, goal: Goal
) -> None:
    assert goal.kpi.key.startswith("custom-")
    ticket = data.draw(tickets(goal, properties=True, reopens=True))
    props = ticket.properties
    assert props["channel"] in CHANNELS
    assert props["tier"] in TIERS
    assert props[AMOUNT] in range(0, 1001, 50)
    assert DUE not in props or props[DUE] >= ticket.created_at  # type: ignore[operator]
    for reopen in ticket.reopens:
        assert ticket.created_at <= reopen.closed_at <= reopen.reopened_at
        assert ticket.closed_at is not None
        assert reopen.reopened_at <= ticket.closed_at


def test_plain_tickets_have_no_properties_or_reopens() -> None:
    plain = find(tickets(), lambda t: True)
    assert (dict(plain.properties), plain.reopens) == ({}, ())
    assert find(tickets(reopens=True), lambda t: bool(t.reopens)).reopens
