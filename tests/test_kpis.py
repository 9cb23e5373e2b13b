"""KPIs, tickets and measurements: the templates, validation and exact arithmetic."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import servicegoals
from servicegoals import (
    AVG_RESOLUTION_TIME,
    AVG_RESPONSE_TIME,
    CLOSED_TICKETS,
    MEDIAN_RESPONSE_TIME,
    RESPONDED_WITHIN_TARGET,
    SERVICE_TEMPLATES,
    AccountSettings,
    Aggregation,
    Cadence,
    Contribution,
    Direction,
    Goal,
    InvalidInput,
    Kpi,
    Measurement,
    Ticket,
    TicketEvent,
    Unit,
    User,
    date_range,
    kpi_by_key,
    measure,
)
from servicegoals.testing import raises, tickets

#: The library as an untyped caller sees it: wrong types get past mypy to the checks.
sg: Any = servicegoals

CREATED = datetime(2026, 3, 2, 9, tzinfo=UTC)
NAIVE = datetime(2026, 3, 2, 9)
EARLIER = CREATED - timedelta(microseconds=1)


def epoch_us(instant: datetime) -> int:
    """Epoch microseconds computed another way than the library does."""
    return calendar.timegm(instant.utctimetuple()) * 1_000_000 + instant.microsecond


# -- KPIs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kpi", "key", "unit", "direction", "event"),
    [
        (CLOSED_TICKETS, "closed_tickets", Unit.COUNT, Direction.HIGHER_IS_BETTER, "closed_at"),
        (
            AVG_RESPONSE_TIME,
            "avg_response_time",
            Unit.DURATION,
            Direction.LOWER_IS_BETTER,
            "first_response_at",
        ),
        (
            AVG_RESOLUTION_TIME,
            "avg_resolution_time",
            Unit.DURATION,
            Direction.LOWER_IS_BETTER,
            "closed_at",
        ),
    ],
)
def test_service_templates(
    kpi: Kpi, key: str, unit: Unit, direction: Direction, event: str
) -> None:
    assert (kpi.key, kpi.unit, kpi.direction, kpi.event.value) == (key, unit, direction, event)
    assert kpi_by_key(key) is kpi
    assert SERVICE_TEMPLATES[key] is kpi


def test_service_templates_are_the_three_templates_in_order() -> None:
    assert list(SERVICE_TEMPLATES) == ["closed_tickets", "avg_response_time", "avg_resolution_time"]


@pytest.mark.parametrize("key", ["nps", "", None, 3, "Closed_Tickets"])
def test_unknown_template_keys_are_refused(key: object) -> None:
    with raises(InvalidInput, "kpi", key):
        sg.kpi_by_key(key)


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"key": ""}, "kpi.key", ""),
        ({"label": None}, "kpi.label", None),
        ({"unit": "count"}, "kpi.unit", "count"),
        ({"direction": "higher"}, "kpi.direction", "higher"),
        ({"event": "closed_at"}, "kpi.event", "closed_at"),
    ],
)
def test_kpi_validation(changes: dict[str, Any], field: str, value: object) -> None:
    with raises(InvalidInput, field, value):
        attrs.evolve(CLOSED_TICKETS, **changes)


#: A SHARE of property values: "% of refunds up to 500 cents".
SMALL_REFUNDS = Kpi(
    "small_refunds",
    "Refunds up to 5.00 (%)",
    Unit.PERCENT,
    Direction.HIGHER_IS_BETTER,
    TicketEvent.CREATED,
    Contribution.PROPERTY,
    Aggregation.SHARE,
    threshold=500,
    value_property="refund",
)


@pytest.mark.parametrize(
    ("kpi", "changes", "field", "value"),
    [
        (MEDIAN_RESPONSE_TIME, {"percentile": -1}, "kpi.percentile", -1),
        (
            MEDIAN_RESPONSE_TIME,
            {"percentile": Fraction(201, 2)},
            "kpi.percentile",
            Fraction(201, 2),
        ),
        (MEDIAN_RESPONSE_TIME, {"percentile": True}, "kpi.percentile", True),
        (
            MEDIAN_RESPONSE_TIME,
            {"threshold": timedelta(hours=1)},
            "kpi.threshold",
            timedelta(hours=1),
        ),
        (CLOSED_TICKETS, {"threshold": 5}, "kpi.threshold", 5),
        (
            RESPONDED_WITHIN_TARGET,
            {"threshold": -timedelta(seconds=1)},
            "kpi.threshold",
            -timedelta(seconds=1),
        ),
        (RESPONDED_WITHIN_TARGET, {"threshold": 7200}, "kpi.threshold", 7200),
        (SMALL_REFUNDS, {"threshold": -1}, "kpi.threshold", -1),
        (SMALL_REFUNDS, {"value_property": ""}, "kpi.value_property", ""),
        (SMALL_REFUNDS, {"where": {"channel": set()}}, "kpi.where['channel']", frozenset()),
        (SMALL_REFUNDS, {"where": {"channel": [1.5]}}, "kpi.where['channel']", 1.5),
        # An unhashable value is named, not a TypeError from building the set.
        (SMALL_REFUNDS, {"where": {"channel": [{"a": 1}]}}, "kpi.where['channel']", {"a": 1}),
        (SMALL_REFUNDS, {"where": "channel"}, "kpi.where", "channel"),
    ],
)
def test_custom_kpi_bad_input_names_the_field(
    kpi: Kpi, changes: dict[str, Any], field: str, value: object
) -> None:
    with raises(InvalidInput, field, value):
        attrs.evolve(kpi, **changes)


@pytest.mark.parametrize(
    ("properties", "field", "value"),
    [
        ({"refund": "12"}, "ticket 't'.properties['refund']", "12"),
        ({"refund": -5}, "ticket 't'.properties['refund']", -5),
        ({"refund": CREATED}, "ticket 't'.properties['refund']", CREATED),
        ({}, "ticket 't'.properties['refund']", None),
    ],
)
def test_a_numeric_property_that_is_not_an_int_names_the_ticket(
    properties: dict[str, Any], field: str, value: object
) -> None:
    account = AccountSettings()
    goal = Goal.create(
        id="refunds",
        name="Refunds",
        kpi=SMALL_REFUNDS,
        cadence=Cadence.CUSTOM,
        span=date_range(CREATED.date(), CREATED.date(), account),
        settings=account,
        contributors=[User("u1", "Ada")],
        targets={"u1": 90},
    )
    ticket = Ticket("t", CREATED, "p", owner_id="u1", properties=properties)
    with raises(InvalidInput, field, value) as caught:
        measure([goal], [ticket])
    assert "\n" not in str(caught.error)


def test_zero_thresholds_are_allowed() -> None:
    assert attrs.evolve(SMALL_REFUNDS, threshold=0).threshold == 0
    assert attrs.evolve(RESPONDED_WITHIN_TARGET, threshold=timedelta(0)).threshold == timedelta(0)


@pytest.mark.parametrize("kpi", [RESPONDED_WITHIN_TARGET, SMALL_REFUNDS])
def test_percent_targets_are_at_most_100(kpi: Kpi) -> None:
    account = AccountSettings()

    def goal(target: Any) -> Goal:
        return Goal.create(
            id="share",
            name="Share",
            kpi=kpi,
            cadence=Cadence.MONTHLY,
            span=date_range(datetime(2026, 1, 1).date(), datetime(2026, 2, 28).date(), account),
            settings=account,
            contributors=[User("u1", "Ada")],
            targets={"u1": target},
        )

    full = goal(100)
    assert full.target("u1", 0) is not None
    with raises(InvalidInput, "targets.u1[0].amount", 101):
        goal(101)
    with raises(InvalidInput, "targets.u1[1].amount", 250):
        goal([90, 250])
    with raises(InvalidInput, "targets.u1[1].amount", 101):
        full.with_target("u1", 1, 101)


def test_a_custom_kpi() -> None:
    reopened = Kpi("reopened", "Reopened tickets", Unit.COUNT, Direction.LOWER_IS_BETTER)
    assert reopened.event is TicketEvent.CLOSED


# -- tickets ----------------------------------------------------------------------------


def test_a_ticket_keeps_its_instants_and_their_epoch_microseconds() -> None:
    oslo = AccountSettings(timezone="Europe/Oslo").tz
    closed = datetime(2026, 3, 29, 3, 0, 0, 7, tzinfo=oslo)  # after the spring-forward jump
    ticket = Ticket(
        "t1",
        CREATED,
        "support",
        owner_id="u1",
        team_id="t1",
        first_response_at=CREATED,  # answered at once: a zero response time is valid
        closed_at=closed,
    )
    assert ticket.closed_at is closed  # kept as given
    assert ticket.created_us == epoch_us(CREATED)
    assert ticket.first_response_us == ticket.created_us
    assert ticket.closed_us == epoch_us(closed)
    assert ticket.closed_us % 1_000_000 == 7
    open_ticket = Ticket("t2", CREATED, "support")
    assert open_ticket.first_response_us is None
    assert open_ticket.closed_us is None
    assert open_ticket.owner_id is None
    assert open_ticket.team_id is None


def test_tickets_compare_by_their_fields() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert Ticket("t", CREATED, "p") == Ticket("t", CREATED.astimezone(plus_two), "p")
    assert Ticket("t", CREATED, "p") != Ticket("t", CREATED, "q")


@pytest.mark.parametrize(
    ("kwargs", "field", "value"),
    [
        ({"id": ""}, "id", ""),
        ({"id": None}, "id", None),
        ({"id": 7}, "id", 7),
        ({"created_at": NAIVE}, "created_at", NAIVE),
        ({"created_at": None}, "created_at", None),
        ({"created_at": "2026-03-02T09:00:00Z"}, "created_at", "2026-03-02T09:00:00Z"),
        ({"pipeline": ""}, "pipeline", ""),
        ({"pipeline": None}, "pipeline", None),
        ({"owner_id": ""}, "owner_id", ""),
        ({"owner_id": 5}, "owner_id", 5),
        ({"team_id": ""}, "team_id", ""),
        ({"first_response_at": NAIVE}, "first_response_at", NAIVE),
        ({"closed_at": NAIVE}, "closed_at", NAIVE),
        ({"closed_at": 1_700_000_000}, "closed_at", 1_700_000_000),
        ({"first_response_at": EARLIER}, "first_response_at", EARLIER),
        ({"closed_at": EARLIER}, "closed_at", EARLIER),
    ],
)
def test_ticket_validation(kwargs: dict[str, object], field: str, value: object) -> None:
    fields: dict[str, object] = {"id": "t1", "created_at": CREATED, "pipeline": "support"}
    with raises(InvalidInput, field, value):
        sg.Ticket(**(fields | kwargs))


def test_a_ticket_closed_before_it_was_created_names_the_ticket() -> None:
    with raises(InvalidInput, "closed_at", EARLIER) as caught:
        Ticket("t-42", CREATED, "support", closed_at=EARLIER)
    assert "'t-42'" in str(caught.error)


@given(
    instant=st.datetimes(
        datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=st.timezones(), allow_imaginary=False
    ),
    delay=st.timedeltas(timedelta(0), timedelta(days=400)),
)
def test_epoch_microseconds_are_exact_in_any_zone(instant: datetime, delay: timedelta) -> None:
    # Adding to an aware datetime adds wall-clock time; add to the instant instead.
    later = (instant.astimezone(UTC) + delay).astimezone(instant.tzinfo)
    ticket = Ticket("t", instant, "p", first_response_at=later)
    assert ticket.created_us == epoch_us(instant)
    assert ticket.first_response_us is not None
    assert ticket.first_response_us - ticket.created_us == delay // timedelta(microseconds=1)


@given(ticket=tickets())
def test_generated_tickets_are_valid_and_ordered(ticket: Ticket) -> None:
    for later in (ticket.first_response_us, ticket.closed_us):
        assert later is None or later >= ticket.created_us
    assert ticket == attrs.evolve(ticket)  # rebuilding re-validates


# -- measurements -----------------------------------------------------------------------


def test_measurement_average_is_an_exact_fraction() -> None:
    m = Measurement(3, 10)
    assert m.average == Fraction(10, 3)
    assert m.average_duration == timedelta(microseconds=3)
    assert Measurement(2, 5).average_duration == timedelta(microseconds=2)  # half to even
    assert Measurement(2, 7).average_duration == timedelta(microseconds=4)
    assert Measurement().average is None
    assert Measurement().average_duration is None
    assert Measurement() == Measurement(0, 0)


def test_measurements_add_up_only_with_measurements() -> None:
    assert Measurement(1, 5) + Measurement(2, 7) == Measurement(3, 12)
    with pytest.raises(TypeError):
        Measurement(1, 5) + 3  # type: ignore[operator]


@pytest.mark.parametrize(
    ("count", "total", "field", "value"),
    [
        (-1, 0, "count", -1),
        (True, 0, "count", True),
        (1.0, 0, "count", 1.0),
        (1, -5, "total", -5),
        (1, timedelta(seconds=1), "total", timedelta(seconds=1)),
    ],
)
def test_measurement_validation(count: object, total: object, field: str, value: object) -> None:
    with raises(InvalidInput, field, value):
        sg.Measurement(count, total)


measurements = st.builds(Measurement, st.integers(0, 10**6), st.integers(0, 10**15))


@given(a=measurements, b=measurements, c=measurements)
def test_measurement_addition_is_a_commutative_monoid(
    a: Measurement, b: Measurement, c: Measurement
) -> None:
    assert a + b == b + a
    assert (a + b) + c == a + (b + c)
    assert a + Measurement() == a
    total = a + b
    if total.count:
        assert total.average == Fraction(a.total + b.total, a.count + b.count)


@pytest.mark.parametrize(
    "thing",
    [CLOSED_TICKETS, Ticket("t", CREATED, "p"), Measurement(1, 2)],
    ids=["kpi", "ticket", "measurement"],
)
def test_kpis_tickets_and_measurements_are_immutable(thing: Any) -> None:
    name = attrs.fields(type(thing))[0].name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(thing, name, None)
