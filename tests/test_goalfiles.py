"""Goal files and the converter: exact round trips, located errors, atomic writes."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicegoals import (
    CLOSED_TICKETS,
    RESPONDED_WITHIN_TARGET,
    AccountSettings,
    Cadence,
    Contributor,
    Goal,
    GoalFileError,
    GoalReport,
    InvalidInput,
    Measurement,
    Unit,
    User,
    date_range,
    dump_goals,
    evaluate,
    load_goals,
    schedule_from_data,
    schedule_to_data,
)
from servicegoals._convert import (
    format_duration,
    goal_from_dict,
    goal_to_dict,
    parse_duration,
    report_from_dict,
    report_to_dict,
)
from servicegoals.cli import main
from servicegoals.goalfiles import MAX_FILE_SIZE, MAX_NESTING, _to_toml
from servicegoals.testing import goals, raises

ROOT = Path(__file__).resolve().parent.parent

# Offsets that created_at may carry; the round trip must keep them.
OFFSETS = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=-5)),
        timezone(timedelta(hours=5, minutes=45)),
        timezone(-timedelta(hours=3, minutes=30, seconds=15)),
    ]
)
# Ids with characters that a TOML key or a path must quote.
#: Any id a store can keep: no NUL, no lone surrogate (those are refused).
IDS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=8)


@st.composite
def varied_goals(draw: st.DrawFn) -> Goal:
    """Goals from servicegoals.testing with awkward ids and created_at offsets."""
    goal = draw(goals(max_days=400))
    ids = draw(
        st.lists(IDS, min_size=len(goal.contributors), max_size=len(goal.contributors), unique=True)
    )
    return attrs.evolve(
        goal,
        id=draw(IDS),
        contributors=[Contributor(c.kind, i) for c, i in zip(goal.contributors, ids, strict=True)],
        created_at=goal.created_at.astimezone(draw(OFFSETS)),
        created_by=draw(st.none() | IDS),
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Module-scoped: hypothesis runs many examples in one test function.
    return tmp_path_factory.mktemp("goalfiles")


# -- round trips ---------------------------------------------------------------------


# Fewer examples: each writes four files with fsync; the conversion itself gets
# the full number of examples in the dict-level test below.
@settings(max_examples=25)
@given(st.lists(varied_goals(), max_size=3, unique_by=lambda g: g.id))
def test_goal_files_round_trip_exactly(folder: Path, drawn: list[Goal]) -> None:
    for name in ("goals.toml", "goals.json"):
        path = folder / name
        dump_goals(drawn, path)
        loaded = load_goals(path)
        assert loaded == tuple(drawn)
        assert [g.created_at.utcoffset() for g in loaded] == [
            g.created_at.utcoffset() for g in drawn
        ]
        # The text depends on the goals only: writing what was read changes nothing.
        written = path.read_bytes()
        dump_goals(loaded, path)
        assert path.read_bytes() == written


def _via_toml(data: dict[str, Any]) -> dict[str, Any]:
    return tomllib.loads(_to_toml(data))


def _via_json(data: dict[str, Any]) -> Any:
    return json.loads(json.dumps(data))


@given(varied_goals())
def test_goal_dicts_survive_both_text_formats(goal: Goal) -> None:
    data = goal_to_dict(goal)
    assert goal_from_dict(_via_toml(data)) == goal
    assert goal_from_dict(_via_json(data)) == goal


@st.composite
def reports(draw: st.DrawFn) -> GoalReport:
    """Reports with fresh, expired-frozen and deleted-contributor rows."""
    goal = draw(goals(max_days=200))
    counts = st.integers(0, 4)

    def measured(g: Goal) -> dict[tuple[str, str, int], Measurement]:
        found = {}
        for c in g.contributors:
            for j in range(len(g.milestones)):
                n = draw(counts)
                total = draw(st.integers(0, n * 10**11)) if goal.kpi.unit is Unit.DURATION else 0
                found[(g.id, c.id, j)] = Measurement(n, total)
        return found

    first = goal.span.start + (goal.span.end - goal.span.start) * draw(st.floats(-0.2, 1.2))
    later = first + timedelta(days=draw(st.integers(0, 120)))
    report = evaluate(goal, measured(goal), at=first)
    if len(goal.contributors) > 1 and draw(st.booleans()):
        goal = goal.without_contributor(goal.contributors[0].id)
    return evaluate(goal, measured(goal), at=later, previous=report)


@given(reports())
def test_reports_round_trip_exactly_through_toml_and_json(report: GoalReport) -> None:
    data = report_to_dict(report)
    for text_format in (_via_toml, _via_json):
        again = report_from_dict(text_format(data))
        assert again == report
        # Equal is not enough for "exact": the types of the numbers are kept too.
        for old, new in zip(report.rows, again.rows, strict=True):
            assert type(new.target) is type(old.target)
            assert type(new.value) is type(old.value)


@given(st.timedeltas())
def test_durations_round_trip_exactly(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=4), "PT4H"),
        (timedelta(days=1, hours=2, minutes=30), "P1DT2H30M"),
        (timedelta(microseconds=1), "PT0.000001S"),
        (timedelta(seconds=90, microseconds=500_000), "PT1M30.5S"),
        (timedelta(days=14), "P14D"),
        (timedelta(0), "PT0S"),
        (-timedelta(seconds=1), "-PT1S"),
    ],
)
def test_durations_are_written_for_people(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("P2W", timedelta(days=14)),
        ("PT1,5S", timedelta(seconds=1.5)),
        ("PT36H", timedelta(hours=36)),
    ],
)
def test_durations_read_other_iso_forms(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value


@pytest.mark.parametrize("text", ["P1M", "P1Y", "PT", "P", "4H", "PT4", "PT0.0000001S", "P1.5D"])
def test_bad_durations(text: str) -> None:
    with raises(InvalidInput, "duration", text):
        parse_duration(text)


# -- the documented example files ---------------------------------------------------

_EXAMPLE = re.compile(r"<!-- goal-file: (\S+) -->\n```\w+\n(.*?)\n```", re.DOTALL)


def test_the_example_files_in_the_docs_load_to_the_same_goals(folder: Path) -> None:
    examples = dict(_EXAMPLE.findall((ROOT / "docs" / "goal-files.md").read_text("utf-8")))
    assert sorted(examples) == ["by-hand.toml", "complete.json", "complete.toml"]
    loaded = {}
    for name, text in examples.items():
        (folder / name).write_text(text + "\n", "utf-8")
        loaded[name] = load_goals(folder / name)
    assert loaded["complete.toml"] == loaded["complete.json"] == loaded["by-hand.toml"]
    assert [g.id for g in loaded["complete.toml"]] == ["response-fy2027", "closed-q2"]
    # The complete example is exactly what dump_goals writes today.
    dump_goals(loaded["by-hand.toml"], folder / "again.toml")
    assert (folder / "again.toml").read_text("utf-8") == examples["complete.toml"] + "\n"


def test_a_hand_written_goal_equals_the_one_goal_create_makes(folder: Path) -> None:
    account = AccountSettings(timezone="America/New_York", fiscal_year_start_month=2)
    expected = Goal.create(
        id="g",
        name="Weekly",
        kpi=CLOSED_TICKETS,
        cadence=Cadence.WEEKLY,
        span=date_range(date(2026, 3, 1), date(2026, 3, 31), account),
        settings=account,
        contributors=[User("u1", "Ada")],
        targets={"u1": 5},
        created_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    path = folder / "weekly.toml"
    path.write_text(
        '[account]\ntimezone = "America/New_York"\nfiscal_year_start_month = 2\n'
        'week_start = "monday"\n\n[[goals]]\nid = "g"\nname = "Weekly"\n'
        'kpi = "closed_tickets"\ncadence = "weekly"\ncreated_at = 2026-02-01T00:00:00Z\n'
        "span = { first_day = 2026-03-01, last_day = 2026-03-31 }\n"
        'contributors = [{ kind = "user", id = "u1" }]\ntargets = { u1 = 5 }\n',
        "utf-8",
    )
    assert load_goals(path) == (expected,)


# -- malformed files -----------------------------------------------------------------

BASE = Goal.create(
    id="g1",
    name="Close",
    kpi=CLOSED_TICKETS,
    cadence=Cadence.MONTHLY,
    span=date_range(date(2026, 1, 1), date(2026, 3, 31), AccountSettings()),
    settings=AccountSettings(),
    contributors=[User("u1", "Ada")],
    targets={"u1": 10},
    created_at=datetime(2025, 12, 1, tzinfo=UTC),
)


def _document(**changes: Any) -> dict[str, Any]:
    goal = goal_to_dict(BASE)
    goal.update(changes)
    return {"goals": [goal]}


START_1 = BASE.milestones[1].period.start.isoformat()
# changes to the one goal of a valid document, the field named and the bad value
MALFORMED: list[tuple[str, dict[str, Any], str, Any]] = [
    ("wrong type", {"name": 5}, "goals[0].name", 5),
    ("empty name", {"name": " "}, "goals[0].name", " "),
    ("unknown kpi", {"kpi": "closed_ticket"}, "goals[0].kpi", "closed_ticket"),
    ("unknown cadence", {"cadence": "daily"}, "goals[0].cadence", "daily"),
    ("unknown contributor", {"targets": {"u1": 1, "u9": 2}}, "goals[0].targets.u9", "u9"),
    ("text target", {"targets": {"u1": [1, "10", 1]}}, "goals[0].targets.u1[1]", "10"),
    ("zero target", {"targets": {"u1": [1, 1, 0]}}, "goals[0].targets.u1[2]", 0),
    ("duration in a count goal", {"targets": {"u1": "PT1H"}}, "goals[0].targets.u1", "PT1H"),
    ("targets per milestone", {"targets": {"u1": [1, 2]}}, "goals[0].targets.u1", [1, 2]),
    (
        "unknown pipeline",
        {"targets": {"u1": [1, 1, {"amount": 1, "pipeline": "x"}]}, "pipelines": ["a"]},
        "goals[0].targets.u1[2].pipeline",
        "x",
    ),
    (
        "naive instant",
        {"created_at": "2026-01-01T00:00:00"},
        "goals[0].created_at",
        "2026-01-01T00:00:00",
    ),
    ("not an instant", {"created_at": "yesterday"}, "goals[0].created_at", "yesterday"),
    ("contributors not a list", {"contributors": "u1"}, "goals[0].contributors", "u1"),
    (
        "contributor kind",
        {"contributors": [{"kind": "robot", "id": "u1"}]},
        "goals[0].contributors[0].kind",
        "robot",
    ),
    ("unknown key", {"colour": "red"}, "goals[0].colour", "colour"),
    (
        "bool as int",
        {"notifications": {"progress_percents": [True]}},
        "goals[0].notifications.progress_percents[0]",
        True,
    ),
    (
        "percent below 1",
        {"notifications": {"progress_percents": [0]}},
        "goals[0].notifications.progress_percents",
        0,
    ),
    (
        "milestones with a gap",
        {"milestones": [goal_to_dict(BASE)["milestones"][i] for i in (0, 2)]},
        "goals[0].milestones[1].start",
        BASE.milestones[2].period.start,
    ),
    (
        "missing key",
        {"span": {"start": START_1}},
        "goals[0].span.end",
        None,
    ),
]


@pytest.mark.parametrize("suffix", [".toml", ".json"])
@pytest.mark.parametrize(
    ("changes", "field", "value"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_goals_name_file_path_and_value(
    folder: Path, suffix: str, changes: dict[str, Any], field: str, value: Any
) -> None:
    data = _document(**changes)
    path = folder / f"malformed{suffix}"
    path.write_text(_to_toml(data) if suffix == ".toml" else json.dumps(data), "utf-8")
    with raises(GoalFileError, field, value) as caught:
        load_goals(path)
    assert str(path) in str(caught.error)


TOML_GOAL = (
    '[[goals]]\nid = "g1"\nname = "Close"\nkpi = "closed_tickets"\ncadence = "custom"\n'
    "span = { start = 2026-01-01T00:00:00Z, end = 2026-02-01T00:00:00Z }\n"
    'contributors = [{ kind = "user", id = "u1" }]\n'
    'milestones = [{ label = "x", start = 2026-01-01T00:00:00Z, end = 2026-02-01T00:00:00Z }]\n'
)
# whole files: name, text, field, value
BROKEN: list[tuple[str, str | bytes, str, Any]] = [
    (
        "naive.toml",
        TOML_GOAL + "created_at = 2026-01-01T00:00:00\n",
        "goals[0].created_at",
        datetime(2026, 1, 1),
    ),
    ("date.toml", TOML_GOAL + "created_at = 2026-01-01\n", "goals[0].created_at", date(2026, 1, 1)),
    (
        "duplicate.toml",
        TOML_GOAL
        + "created_at = 2026-01-01T00:00:00Z\n"
        + TOML_GOAL.replace('"Close"', '"Two"')
        + "created_at = 2026-01-01T00:00:00Z\n",
        "goals[1].id",
        "g1",
    ),
    ("syntax.toml", '[[goals]]\nid = "g1\n', "line 2, column 9", 'id = "g1'),
    ("redefined.toml", "goals = []\ngoals = []\n", "line 2, column 11", "goals = []"),
    (
        "float.toml",
        TOML_GOAL + "created_at = 2026-01-01T00:00:00Z\ntargets = { u1 = 1.5 }\n",
        "goals[0].targets.u1",
        1.5,
    ),
    ("syntax.json", '{"goals": [}', "line 1, column 12", '{"goals": [}'),
    ("duplicate-key.json", '{"goals": [], "goals": []}', "", "goals"),
    ("not-utf8.toml", b"goals = [] # \xff\n", "byte 13", b"\xff"),
    ("top-level.json", "[1]", "", [1]),
    ("no-goals.toml", "", "goals", None),
    ("goals-not-list.json", '{"goals": {"id": "g1"}}', "goals", {"id": "g1"}),
    ("unknown-top.toml", "[[goal]]\nid = 1\n", "goal", "goal"),
    (
        "no-milestones.toml",
        TOML_GOAL.split("milestones")[0] + "created_at = 2026-01-01T00:00:00Z\n",
        "goals[0].milestones",
        None,
    ),
    ("bad-account.toml", '[account]\ntimezone = "Mars/Base"\n', "account.timezone", "Mars/Base"),
]


@pytest.mark.parametrize(("name", "text", "field", "value"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files_name_file_place_and_value(
    folder: Path, name: str, text: str | bytes, field: str, value: Any
) -> None:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, "utf-8")
    with raises(GoalFileError, field, value) as caught:
        load_goals(path)
    assert str(path) in str(caught.error)


def test_a_missing_file(folder: Path) -> None:
    path = folder / "nowhere" / "goals.toml"
    with raises(GoalFileError, "", str(path)) as caught:
        load_goals(path)
    assert "no such file" in str(caught.error)


@pytest.mark.parametrize("name", ["goals.yaml", "goals", "goals.toml.bak"])
def test_only_toml_and_json(folder: Path, name: str) -> None:
    with raises(InvalidInput, "path", str(folder / name)):
        load_goals(folder / name)
    with raises(InvalidInput, "path", str(folder / name)):
        dump_goals([BASE], folder / name)


def test_converter_errors_are_located_in_reports() -> None:
    data = report_to_dict(evaluate(BASE, {}, at=datetime(2026, 2, 1, tzinfo=UTC)))
    data["rows"][1]["status"] = "done"
    with raises(InvalidInput, "report.rows[1].status", "done"):
        report_from_dict(data)
    data["rows"][1]["status"] = "missed"
    data["milestone_rows"][0]["value"] = "1/0"
    with raises(InvalidInput, "r.milestone_rows[0].value", "1/0"):
        report_from_dict(data, where="r")


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _leaves(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(data, (dict, list)):
        for key, value in data.items() if isinstance(data, dict) else enumerate(data):
            yield from _leaves(value, (*path, key))


@given(st.data())
def test_any_damage_gives_a_goal_or_a_located_invalid_input(data: st.DataObject) -> None:
    document = goal_to_dict(BASE)
    path = data.draw(st.sampled_from(list(_leaves(document))[1:]))
    *parents, last = path
    node: Any = document
    for key in parents:
        node = node[key]
    node[last] = data.draw(JUNK)
    try:
        goal_from_dict(document)
    except InvalidInput as exc:
        error = exc
    else:
        return  # the damage happened to be harmless (false for false, say)
    assert error.field.startswith("goal")
    assert type(error) is InvalidInput


# -- writing -------------------------------------------------------------------------


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("goals_to_write", "field", "value"),
    [
        ([BASE, attrs.evolve(BASE, name="Other")], "goals[1].id", "g1"),
        ([BASE, "not a goal"], "goals[1]", "not a goal"),
    ],
)
def test_a_refused_dump_leaves_the_old_file_as_it_was(
    tmp_path: Path, goals_to_write: list[Goal], field: str, value: Any
) -> None:
    path = tmp_path / "goals.toml"
    dump_goals([BASE], path)
    before = path.read_bytes()
    with raises(InvalidInput, field, value):
        dump_goals(goals_to_write, path)
    assert path.read_bytes() == before
    assert _only(tmp_path) == ["goals.toml"]


def test_a_failed_rename_leaves_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "goals.json").mkdir()  # a directory cannot be replaced by a file
    with raises(GoalFileError, "", str(tmp_path / "goals.json")):
        dump_goals([BASE], tmp_path / "goals.json")
    assert _only(tmp_path) == ["goals.json"]


def test_writing_into_a_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "goals.toml"
    with raises(GoalFileError, "", str(path)):
        dump_goals([BASE], path)
    assert _only(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    path = tmp_path / "goals.toml"
    dump_goals([], path)
    os.chmod(path, 0o600)
    dump_goals([BASE], path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_goals(path) == (BASE,)


# -- hostile goal files -------------------------------------------------------------

DEEP = 100_000
TOO_DEEP = f"more than {MAX_NESTING} levels"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.json", "[" * DEEP + "]" * DEEP),
        ("deep.toml", "goals = " + "[" * DEEP + "]" * DEEP + "\n"),
        ("deep-table.json", '{"goals": [' + '{"a": ' * DEEP + "1" + "}" * DEEP + "]}"),
        # Shallow enough for the parsers, too deep for a goal file.
        ("nested.json", '{"goals": ' + "[" * 40 + "]" * 40 + "}"),
        ("nested.toml", "goals = " + "[" * 40 + "]" * 40 + "\n"),
    ],
    ids=["deep.json", "deep.toml", "deep-table.json", "nested.json", "nested.toml"],
)
def test_deeply_nested_files_are_refused(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(text, "utf-8")
    with raises(GoalFileError, "", TOO_DEEP) as caught:
        load_goals(path)
    assert "nested too deeply" in str(caught.error)


def test_files_over_the_size_limit_are_refused_unread(folder: Path) -> None:
    path = folder / "huge.json"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_SIZE + 1)  # sparse: no need to write 16 MiB
    with raises(GoalFileError, "", f"more than {MAX_FILE_SIZE} bytes") as caught:
        load_goals(path)
    assert "too large for a goal file" in str(caught.error)


def test_a_hostile_goal_file_is_one_line_and_exit_2(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = folder / "hostile.json"
    path.write_text("[" * DEEP + "]" * DEEP, "utf-8")
    tickets = Path(__file__).parent.parent / "docs" / "examples" / "tickets.csv"
    code = main(["evaluate", "--goals", str(path), "--tickets", str(tickets)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "nested too deeply" in err


def test_explicit_milestones_cannot_exceed_the_span_limit(folder: Path) -> None:
    def custom(years: int) -> dict[str, Any]:
        start = datetime(2000, 1, 1, tzinfo=UTC)
        span = {"start": start.isoformat(), "end": start.replace(year=2000 + years).isoformat()}
        milestone = {"label": "all", **span}
        return _document(cadence="custom", span=span, milestones=[milestone], targets={"u1": 1})

    path = folder / "century.json"
    path.write_text(json.dumps(custom(100)), "utf-8")
    with pytest.raises(GoalFileError, match=r"goals\[0\]\.span: longer than 20 years"):
        load_goals(path)
    path.write_text(json.dumps(custom(20)), "utf-8")
    (goal,) = load_goals(path)
    assert goal.span.end == datetime(2020, 1, 1, tzinfo=UTC)


# -- custom KPIs: bad input is refused in one located line -----------------------------

#: A custom SHARE KPI stored by value: urgent tickets answered within two hours.
URGENT_WITHIN = attrs.evolve(
    RESPONDED_WITHIN_TARGET,
    key="urgent_within",
    label="Urgent tickets answered within 2 h (%)",
    where={"priority": "urgent"},
)
OSLO = AccountSettings(timezone="Europe/Oslo")
URGENT_GOAL = Goal.create(
    id="urgent",
    name="Urgent answers",
    kpi=URGENT_WITHIN,
    cadence=Cadence.MONTHLY,
    span=date_range(date(2026, 4, 1), date(2026, 6, 30), OSLO),
    settings=OSLO,
    contributors=[User("ada", "Ada")],
    targets={"ada": 90},
)


def _custom_document(kpi: dict[str, Any], **changes: Any) -> dict[str, Any]:
    goal = goal_to_dict(URGENT_GOAL)
    return {"goals": [{**goal, "kpi": {**goal["kpi"], **kpi}, **changes}]}


# changes to the KPI table, to the goal, the field named and the bad value
CUSTOM_BAD: list[tuple[str, dict[str, Any], dict[str, Any], str, Any]] = [
    ("percent target above 100", {}, {"targets": {"ada": 150}}, "targets.ada[0].amount", 150),
    (
        "one of several",
        {},
        {"targets": {"ada": [90, 101, 90]}},
        "targets.ada[1].amount",
        101,
    ),
    ("percent target as text", {}, {"targets": {"ada": "90"}}, "targets.ada", "90"),
    ("unknown field", {"colour": "red"}, {}, "kpi.colour", "colour"),
    ("unknown event", {"event": "solved_at"}, {}, "kpi.event", "solved_at"),
    (
        "percentile above 100",
        {"unit": "duration", "aggregation": "percentile", "percentile": 150},
        {},
        "kpi.percentile",
        150,
    ),
    (
        "percentile 0",
        {"unit": "duration", "aggregation": "percentile", "percentile": 0},
        {},
        "kpi.percentile",
        0,
    ),
    (
        "threshold on a count",
        {"unit": "count", "contribution": "one", "aggregation": "count"},
        {},
        "kpi.threshold",
        timedelta(hours=2),
    ),
    ("negative threshold", {"threshold": "-PT1H"}, {}, "kpi.threshold", -timedelta(hours=1)),
    ("where value a boolean", {"where": {"priority": True}}, {}, "kpi.where['priority']", True),
    (
        "where value a list in a list",
        {"where": {"priority": ["urgent", [1]]}},
        {},
        "kpi.where['priority']",
        [1],
    ),
]


@pytest.mark.parametrize("suffix", [".toml", ".json"])
@pytest.mark.parametrize(
    ("kpi", "changes", "field", "value"),
    [c[1:] for c in CUSTOM_BAD],
    ids=[c[0] for c in CUSTOM_BAD],
)
def test_bad_custom_kpis_and_targets_name_file_path_and_value(
    folder: Path, suffix: str, kpi: dict[str, Any], changes: dict[str, Any], field: str, value: Any
) -> None:
    data = _custom_document(kpi, **changes)
    path = folder / f"custom{suffix}"
    path.write_text(_to_toml(data) if suffix == ".toml" else json.dumps(data), "utf-8")
    with raises(GoalFileError, f"goals[0].{field}", value) as caught:
        load_goals(path)
    assert str(path) in str(caught.error)


def test_a_full_percent_target_loads(folder: Path) -> None:
    path = folder / "full.toml"
    dump_goals([URGENT_GOAL.with_targets("ada", 100)], path)
    assert load_goals(path) == (URGENT_GOAL.with_targets("ada", 100),)


TICKETS_CSV = ROOT / "docs" / "examples" / "tickets.csv"


def _cli_error(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    code = main(["evaluate", "--goals", str(path), "--tickets", str(TICKETS_CSV)])
    out, err = capsys.readouterr()
    assert (code, out, err.count("\n")) == (2, "", 1), err
    return err


def test_the_cli_refuses_a_percent_target_above_100_in_one_line(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = folder / "over.toml"
    path.write_text(_to_toml(_custom_document({}, targets={"ada": 150})), "utf-8")
    err = _cli_error(capsys, path)
    assert "goals[0].targets.ada[0].amount: a percent target is at most 100 (got 150)" in err


def test_the_cli_names_a_ticket_without_the_filtered_property_in_one_line(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The example tickets have no priority column: the filter cannot be decided.
    path = folder / "urgent.toml"
    dump_goals([URGENT_GOAL], path)
    err = _cli_error(capsys, path)
    assert "ticket 't1'.properties: KPI 'urgent_within' filters on this property" in err
    assert "(got 'priority')" in err


def test_schedules_as_plain_data_the_form_of_a_goal_files_schedules_table(
    folder: Path,
) -> None:
    data = {
        "timezone": "America/New_York",
        "week": {"mon_fri": [["09:00", "17:00"]]},
        "holidays": {"dates": ["2026-12-24"]},
    }
    schedule = schedule_from_data(data)
    assert schedule_from_data(schedule_to_data(schedule)) == schedule
    path = folder / "office.json"
    path.write_text(
        json.dumps({"schedules": {"office": data}, **_document(clock={"schedule": "office"})})
    )
    (goal,) = load_goals(path)
    assert goal.clock_policy.clock == schedule
    bad = {"timezone": "UTC", "week": {"tue": [["09:00", "25:00"]]}}
    with raises(InvalidInput, "schedules.office.week.tue[0].end", "25:00"):
        schedule_from_data(bad, where="schedules.office")


def test_the_cli_reads_a_csv_column_as_the_property_a_kpi_filters_on(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = folder / "urgent.toml"
    dump_goals([URGENT_GOAL], path)
    tickets = folder / "tickets.csv"
    header = TICKETS_CSV.read_text("utf-8").splitlines()[0]
    tickets.write_text(
        f"{header},priority,Subject line\n"
        # Urgent, answered in 1 h; urgent, answered in 3 h; low, answered in 5 h.
        "a,2026-04-02T09:00:00+02:00,support,ada,,2026-04-02T10:00:00+02:00,,urgent,Printer\n"
        "b,2026-04-03T09:00:00+02:00,support,ada,,2026-04-03T12:00:00+02:00,,urgent,VPN\n"
        "c,2026-04-04T09:00:00+02:00,support,ada,,2026-04-04T14:00:00+02:00,,low,Mail\n",
        "utf-8",
    )
    common = ["--tickets", str(tickets), "--as-of", "2026-07-01T00:00:00+02:00"]
    code = main(["evaluate", "--goals", str(path), *common, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    (goal,) = json.loads(out)["goals"]
    april = next(r for r in goal["rows"] if r["milestone_index"] == 0)
    # Two urgent tickets, one within 2 h; the low one and the other column are not read.
    assert (april["tickets"], april["value_exact"]) == (2, "50"), april
