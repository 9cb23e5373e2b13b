"""Working-time schedules in goal files: named, inline, per team; exact round trips."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest

from servicegoals import (
    ClockPolicy,
    GoalFileError,
    InvalidInput,
    Schedule,
    Ticket,
    dump_goals,
    load_goal_file,
    load_goals,
    measure,
)
from servicegoals.worktime import CALENDAR

NEW_YORK = ZoneInfo("America/New_York")

FILE = """
[account]
timezone = "America/New_York"

[schedules.office]
timezone = "America/New_York"
week = { mon_fri = [["09:00", "17:00"]] }

[schedules.nights]
timezone = "America/New_York"
week = { every_day = [["22:00", "06:00"]] }

[[goals]]
id = "answer"
name = "Answer within 2 working hours"
kpi = "avg_response_time"
cadence = "monthly"
span = { first_day = 2026-01-01, last_day = 2026-03-31 }
contributors = [{ kind = "user", id = "ada" }, { kind = "team", id = "night" }]
targets = { ada = "PT2H", night = "PT2H" }
CLOCK
"""


def write(tmp_path: Path, clock: str, name: str = "goals.toml") -> Path:
    path = tmp_path / name
    path.write_text(FILE.replace("CLOCK", clock), encoding="utf-8")
    return path


def test_a_goal_refers_to_a_named_schedule_and_is_timed_by_it(tmp_path: Path) -> None:
    path = write(tmp_path, 'clock = { schedule = "office", paused_statuses = ["on hold"] }')
    goal = load_goal_file(path).goals[0]
    office = Schedule.weekly("America/New_York", mon_fri=[("09:00", "17:00")])
    assert goal.clock_policy == ClockPolicy(clock=office, paused_statuses={"on hold"})
    # Friday 16:00 to Monday 10:00 is two working hours on a 9-17 schedule.
    friday = Ticket(
        "t1",
        created_at=datetime(2026, 1, 9, 16, tzinfo=NEW_YORK),
        pipeline="support",
        owner_id="ada",
        first_response_at=datetime(2026, 1, 12, 10, tzinfo=NEW_YORK),
    )
    cell = measure([goal], [friday])[("answer", "ada", 0)]
    assert (cell.count, cell.total) == (1, 2 * 3600 * 10**6)


def test_team_schedules_and_inline_schedules_round_trip_exactly(tmp_path: Path) -> None:
    clock = (
        'clock = { schedule = { timezone = "Europe/Oslo", week = { mon = [["08:00", "16:00"]] } },'
        ' team_schedules = { night = "nights" }, resolution = "first_close" }'
    )
    goals = load_goals(write(tmp_path, clock))
    policy = goals[0].clock_policy
    assert policy.clock != CALENDAR
    assert dict(policy.team_clocks)["night"] == Schedule.weekly(
        "America/New_York", every_day=[("22:00", "06:00")]
    )
    for suffix in ("toml", "json"):
        target = tmp_path / f"again.{suffix}"
        dump_goals(goals, target)
        assert load_goals(target) == goals


@pytest.mark.parametrize(
    ("clock", "field", "value"),
    [
        ('clock = { schedule = "ofice" }', "goals[0].clock.schedule", "ofice"),
        (
            'clock = { team_schedules = { night = "day" } }',
            "goals[0].clock.team_schedules.night",
            "day",
        ),
        (
            'clock = { schedule = { timezone = "Mars/Base", week = {} } }',
            "goals[0].clock.schedule.timezone",
            "Mars/Base",
        ),
        ("clock = { schedule = 7 }", "goals[0].clock.schedule", 7),
    ],
)
def test_a_bad_schedule_reference_is_a_located_error(
    tmp_path: Path, clock: str, field: str, value: object
) -> None:
    with pytest.raises(GoalFileError) as caught:
        load_goals(write(tmp_path, clock))
    assert caught.value.field == field
    assert caught.value.value == value


def test_a_broken_named_schedule_names_its_table(tmp_path: Path) -> None:
    path = write(tmp_path, 'clock = { schedule = "office" }')
    path.write_text(
        path.read_text().replace('[["09:00", "17:00"]]', '[["09:00", "17:0x"]]'), encoding="utf-8"
    )
    with pytest.raises(GoalFileError) as caught:
        load_goals(path)
    assert caught.value.field == "schedules.office.week.mon_fri[0].end"


def test_schedules_must_be_a_table(tmp_path: Path) -> None:
    path = tmp_path / "goals.json"
    path.write_text('{"schedules": [], "goals": []}', encoding="utf-8")
    with pytest.raises(GoalFileError) as caught:
        load_goals(path)
    assert caught.value.field == "schedules"


def test_only_schedules_can_be_written(tmp_path: Path) -> None:
    goal = load_goals(write(tmp_path, 'clock = { schedule = "office" }'))[0]

    class Fixed:
        """A clock of the user's own: it has no plain-data form."""

        def working_us(self, start_us: int, end_us: int) -> int:
            return end_us - start_us

    custom = attrs.evolve(goal, clock_policy=ClockPolicy(clock=Fixed()))
    with pytest.raises(InvalidInput) as caught:
        dump_goals([custom], tmp_path / "out.toml")
    assert caught.value.field.endswith("clock_policy.clock")
    assert not (tmp_path / "out.toml").exists()
