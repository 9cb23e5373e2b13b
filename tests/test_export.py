"""Reports as plain data: `report_records`, `report_data`, and the reprs of reports.

The rules are documented on the Quickstart (docs/index.md, "Export a report")
and in docs/cli.md ("JSON output").
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from servicegoals import (
    AVG_RESPONSE_TIME,
    AccountSettings,
    Cadence,
    Goal,
    GoalReport,
    InvalidInput,
    Ticket,
    User,
    date_range,
    evaluate,
    forecast,
    measure,
    report_data,
    report_records,
)
from servicegoals._text import json_safe, printable
from servicegoals.export import RECORD_FIELDS
from servicegoals.goalfiles import load_goals
from servicegoals.sources import CsvSource

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
AT = datetime(2026, 5, 15, 10, tzinfo=UTC)
ACCOUNT = AccountSettings(timezone="UTC")


def _response_goal() -> Goal:
    return Goal.create(
        id="r",
        name="Answer fast",
        kpi=AVG_RESPONSE_TIME,
        cadence=Cadence.MONTHLY,
        span=date_range(date(2026, 4, 1), date(2026, 5, 31), ACCOUNT),
        settings=ACCOUNT,
        contributors=[User("ada", "Ada"), User("alan", "Alan")],
        targets={"ada": timedelta(hours=1), "alan": timedelta(hours=2)},
        created_at=AT,
    )


def _ticket(n: int, owner: str, minutes: int) -> Ticket:
    start = datetime(2026, 4, 3, 9, tzinfo=UTC) + timedelta(hours=n)
    return Ticket(
        id=f"t{n}",
        created_at=start,
        pipeline="support",
        owner_id=owner,
        first_response_at=start + timedelta(minutes=minutes),
    )


def _response_report() -> tuple[Goal, GoalReport]:
    goal = _response_goal()
    # Three answers from ada (10, 20, 30 min), one slow one from alan (3 h):
    # the total row's mean is 240/4 min, its pooled target (1h·3 + 2h·1)/4.
    tickets = [_ticket(0, "ada", 10), _ticket(1, "ada", 20), _ticket(2, "ada", 30)]
    tickets.append(_ticket(3, "alan", 180))
    return goal, evaluate(goal, measure([goal], tickets), at=AT)


def test_duration_records_are_seconds_iso_text_and_exact_microseconds() -> None:
    goal, report = _response_report()
    records = report_records(goal, report)
    assert all(tuple(r) == RECORD_FIELDS for r in records)
    ada = records[0]
    assert (ada["contributor_id"], ada["milestone"], ada["kind"]) == ("ada", "2026-04", "cell")
    assert (ada["target"], ada["target_iso"], ada["target_exact"]) == (3600.0, "PT1H", "3600000000")
    assert (ada["value"], ada["value_iso"], ada["value_exact"]) == (1200.0, "PT20M", "1200000000")
    assert (ada["tickets"], ada["total_us"]) == (3, 3_600_000_000)
    assert (ada["attainment"], ada["percent"], ada["percent_text"]) == ("3", 300.0, "300%")
    assert (ada["status"], ada["status_text"]) == ("exceeded", "Exceeded")  # April has ended
    (total,) = [r for r in records if r["kind"] == "total" and r["milestone_index"] == 0]
    # The pooled target weighs each target by its tickets: (1h·3 + 2h·1) / 4 = 1h 15m.
    assert (total["target"], total["target_iso"], total["target_exact"]) == (
        4500.0,
        "PT1H15M",
        "4500000000",
    )
    assert (total["value"], total["value_iso"]) == (3600.0, "PT1H")  # 240 min / 4
    # No tickets in May: no mean, no attainment.
    (may,) = [r for r in records if r["contributor_id"] == "ada" and r["milestone_index"] == 1]
    assert (may["value"], may["value_iso"], may["value_exact"]) == (None, None, None)
    assert (may["attainment"], may["percent"], may["percent_text"]) == (None, None, "–")
    json.dumps(records)  # plain data only


def test_a_fractional_mean_keeps_its_exact_value_beside_the_float() -> None:
    goal = _response_goal()
    tickets = [_ticket(0, "ada", 10), _ticket(1, "ada", 10), _ticket(2, "ada", 11)]
    report = evaluate(goal, measure([goal], tickets), at=AT)
    first = report_records(goal, report)[0]
    assert first["value_exact"] == "620000000"  # 31 min / 3 = 10m 20s, exactly
    tickets.append(_ticket(3, "ada", 0))
    tickets[3] = Ticket(
        id="t3",
        created_at=tickets[3].created_at,
        pipeline="support",
        owner_id="ada",
        first_response_at=tickets[3].created_at + timedelta(microseconds=1),
    )
    report = evaluate(goal, measure([goal], tickets), at=AT)
    first = report_records(goal, report)[0]
    exact = Fraction(first["value_exact"])
    assert exact.denominator == 4
    assert first["value_exact"] == "1860000001/4"
    assert first["value"] == pytest.approx(float(exact) / 1_000_000)
    assert first["value_iso"] == "PT7M45S"  # rounded to the microsecond
    assert repr(report.row("ada", 0)).startswith("<Progress 'ada', milestone 0: ≈4.65e+08 of")


def test_report_data_is_one_goal_of_the_json_document() -> None:
    goals = load_goals(EXAMPLES / "goals.toml")
    measured = measure(goals, CsvSource(EXAMPLES / "tickets.csv").tickets())
    report = evaluate(goals[0], measured, at=AT)
    data = report_data(goals[0], report)
    assert data["id"] == "closed"
    assert data["unit"] == "count"
    assert len(data["rows"]) == 11
    row = data["rows"][0]
    assert set(row) == set(RECORD_FIELDS) - {"goal_id", "goal_name", "kpi", "cadence", "unit"}
    assert isinstance(row["target"], int)
    assert json.loads(json.dumps(data)) == data


def test_a_report_of_another_goal_is_refused() -> None:
    goal, report = _response_report()
    other = load_goals(EXAMPLES / "goals.toml")[0]
    with pytest.raises(InvalidInput, match=r"report\.goal_id"):
        report_records(other, report)
    with pytest.raises(InvalidInput, match="expected a GoalReport"):
        report_records(goal, "report")  # type: ignore[arg-type]


def test_reprs_are_short_and_str_has_a_line_per_row() -> None:
    _, report = _response_report()
    text = repr(report)
    assert text.startswith("<GoalReport 'r' at 2026-05-15T10:00:00+00:00: 2 milestones, 4 rows")
    assert len(text) < 200
    lines = str(report).splitlines()
    assert lines[0] == text
    assert len(lines) == 1 + 4 + 2 + 2  # cells, whole goals, totals
    assert repr(report.row("ada", 0)) == (
        "<Progress 'ada', milestone 0: 1200000000 of 3600000000, 300% exceeded>"
    )
    assert repr(report.whole_goal("alan")) == (
        "<Progress 'alan', whole goal: 10800000000 of 7200000000, 66% in_progress>"
    )
    assert (
        repr(report.total(1)) == "<Progress total of milestone 1: – of 5400000000, – in_progress>"
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),  # sets the window title
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # clears the screen
        ("a\x9b31mb", "a\\x9b31mb"),  # C1 CSI
        ("del\x7f", "del\\x7f"),
        ("abc\u202edcba", "abc\\u202edcba"),  # right-to-left override
        ("iso\u2066late\u2069", "iso\\u2066late\\u2069"),
        ("Karen Spärck Jones – 日本", "Karen Spärck Jones – 日本"),  # letters stay
    ],
)
def test_printable_escapes_controls_and_bidi_overrides(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_json_safe_keeps_the_data_and_escapes_what_json_leaves_raw() -> None:
    data = {"name": "\x1b]0;t\x07 \x9b \u202e x"}
    text = json_safe(json.dumps(data, ensure_ascii=False, indent=2))
    for raw in ("\x1b", "\x9b", "\u202e"):
        assert raw not in text
    assert json.loads(text) == data


# -- forecasts -----------------------------------------------------------------------


class _NoWorkingTime:
    def working_us(self, start_us: int, end_us: int) -> int:
        return 0


def _closed_report() -> tuple[Goal, GoalReport]:
    goals = load_goals(EXAMPLES / "goals.toml")
    measured = measure(goals, CsvSource(EXAMPLES / "tickets.csv").tickets())
    return goals[0], evaluate(goals[0], measured, at=AT)


def _row(records: list[dict[str, Any]], kind: str, who: str | None, label: str) -> dict[str, Any]:
    return next(
        r for r in records if (r["kind"], r["contributor_id"], r["milestone"]) == (kind, who, label)
    )


def test_records_carry_the_forecast_computed_or_given() -> None:
    goal, report = _closed_report()
    computed = report_records(goal, report)
    assert computed == report_records(goal, report, projected=forecast(goal, report))
    may = _row(computed, "cell", "alan", "2026-05")
    # 14.5 of May's 31 days (Oslo): 3 tickets project to 186/29 of a target of 2.
    assert (may["forecast_method"], may["forecast"], may["forecast_exact"]) == (
        "elapsed_share",
        pytest.approx(186 / 29),
        "186/29",
    )
    assert (may["forecast_percent_text"], may["at_risk"]) == ("320%", False)
    total = _row(computed, "total", None, "2026-05")
    assert (total["forecast_exact"], total["today_target_exact"]) == ("248/29", "145/62")
    on_no_time = report_records(
        goal, report, projected=forecast(goal, report, clock=_NoWorkingTime())
    )
    may = _row(on_no_time, "cell", "alan", "2026-05")
    assert (may["forecast"], may["today_target"], may["no_forecast_reason"]) == (
        None,
        None,
        "nothing_elapsed",
    )
    assert (may["forecast_percent_text"], may["at_risk"]) == ("–", False)


def test_a_duration_forecast_is_seconds_iso_text_and_exact() -> None:
    goal, report = _response_report()
    record = _row(report_records(goal, report), "cell", "alan", "2026-05")
    assert record["no_forecast_reason"] == "no_tickets"  # alan answered nothing in May
    assert (record["today_target"], record["today_target_iso"]) == (7200.0, "PT2H")
    april = _row(report_records(goal, report), "cell", "ada", "2026-04")
    assert (april["no_forecast_reason"], april["pace_gap"]) == ("final", None)


def test_a_forecast_of_another_report_is_refused() -> None:
    goal, report = _closed_report()
    earlier = evaluate(goal, {}, at=AT - timedelta(days=1))
    with pytest.raises(InvalidInput) as caught:
        report_records(goal, report, projected=forecast(goal, earlier))
    assert caught.value.field == "forecast"


def test_a_report_of_changed_milestones_is_shown_without_forecasts() -> None:
    goal, report = _closed_report()
    longer = Goal.create(
        id=goal.id,
        name=goal.name,
        kpi=goal.kpi,
        cadence=goal.cadence,
        span=date_range(date(2026, 4, 1), date(2026, 7, 31), ACCOUNT),
        settings=ACCOUNT,
        contributors=goal.contributors,
        targets={c.id: 2 for c in goal.contributors},
        created_at=AT,
    )
    records = report_records(longer, report)
    assert len(records) == 11
    assert all(r["forecast_method"] is None and r["at_risk"] is None for r in records)
