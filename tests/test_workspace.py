"""Workspaces of your own: ``servicegoals init``, goal files with people, ``report``.

The rules are in docs/reports.md ("Your goal file", "Bad input") and docs/cli.md
("init", "report").
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from servicegoals import CsvSource, SqliteStore
from servicegoals.cli import main
from servicegoals.goalfiles import load_goal_file, load_goals
from servicegoals.workspace import read_workspace

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
GOALS = EXAMPLES / "goals.toml"
TICKETS = EXAMPLES / "tickets.csv"
AS_OF = "2026-05-15T12:00:00+02:00"

PEOPLE = """
[[people]]
id = "ada"
name = "Ada Lovelace"
email = "ada@example.com"
team_ids = ["tier2"]

[[people]]
id = "alan"
name = "Alan Turing"
team_ids = ["support"]
active = false

[[teams]]
id = "support"
name = "Customer Support"

[[teams]]
id = "tier2"
name = "Tier 2"
parent_id = "support"
"""


def call(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _goal_file(tmp_path: Path, extra: str = PEOPLE, *, created_at: bool = True) -> Path:
    text = GOALS.read_text(encoding="utf-8")
    if not created_at:
        text = text.replace('created_at = "2026-03-20T09:00:00+01:00"\n', "")
    path = tmp_path / "goals.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def _tier2_tickets(tmp_path: Path) -> Path:
    """The example tickets, with ada's moved to the child team tier2."""
    text = TICKETS.read_text(encoding="utf-8").replace(",ada,support,", ",ada,tier2,")
    path = tmp_path / "tickets.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _json(capsys: pytest.CaptureFixture[str], *args: str | Path) -> Any:
    code, out, err = call(capsys, *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_init_refresh_report_with_people_and_a_team_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "ws.sqlite"
    goals, tickets = _goal_file(tmp_path), _tier2_tickets(tmp_path)
    code, out, err = call(capsys, "init", "--db", db, "--goals", goals, "--tickets", tickets)
    assert (code, err) == (0, "")
    assert out == (
        f"workspace {db}: 10 tickets, 2 goal(s), 2 people, 2 team(s); "
        f"next: servicegoals refresh --db {db}\n"
    )
    workspace = read_workspace(db)
    assert workspace.settings.timezone == "Europe/Oslo"
    assert workspace.directory.find_user("ada") is not None
    assert call(capsys, "refresh", "--db", db, "--as-of", AS_OF)[0] == 0
    data = _json(capsys, "report", "--db", db)
    closed, response = data["goals"]
    names = {r["contributor_id"]: r["contributor_name"] for r in closed["rows"]}
    assert names == {"ada": "Ada Lovelace", "alan": "Alan Turing", None: None}
    # alan is deactivated: his rows are frozen as inactive.
    alan_may = next(
        r for r in closed["rows"] if r["contributor_id"] == "alan" and r["milestone"] == "2026-05"
    )
    assert alan_may["frozen"] == "contributor_inactive"
    # The support team counts its child team tier2, where ada's tickets now are.
    (cell,) = [r for r in response["rows"] if r["kind"] == "cell"]
    assert (cell["contributor_name"], cell["tickets"]) == ("Customer Support", 9)
    # The same goal file evaluated directly agrees with the workspace.
    direct = _json(capsys, "evaluate", "--goals", goals, "--tickets", tickets, "--as-of", AS_OF)
    assert [r["tickets"] for r in direct["goals"][1]["rows"]] == [9, 9, 9]
    code, out, _ = call(capsys, "report", "--db", db)
    assert "Ada Lovelace" in out
    assert "Customer Support (team)" in out


def test_without_people_everyone_is_active_and_shown_by_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "ws.sqlite"
    assert call(capsys, "init", "--db", db, "--goals", GOALS, "--tickets", TICKETS)[0] == 0
    assert call(capsys, "refresh", "--db", db, "--as-of", AS_OF)[0] == 0
    report = _json(capsys, "report", "--db", db)
    expected = _json(capsys, "evaluate", "--goals", GOALS, "--tickets", TICKETS, "--as-of", AS_OF)
    for got, want in zip(report["goals"], expected["goals"], strict=True):
        assert [r["frozen"] for r in got["rows"] if r["kind"] != "cell"] == [None] * sum(
            r["kind"] != "cell" for r in want["rows"]
        )
        assert [r["status"] for r in got["rows"]] == [r["status"] for r in want["rows"]]
        assert [r["value_exact"] for r in got["rows"]] == [r["value_exact"] for r in want["rows"]]


def test_created_at_defaults_to_the_load_time(tmp_path: Path) -> None:
    path = _goal_file(tmp_path, "", created_at=False)
    before = datetime.now(UTC)
    goals = load_goals(path)
    after = datetime.now(UTC)
    assert all(before <= g.created_at <= after for g in goals)
    assert goals[0].created_at == goals[1].created_at  # one load, one time


def test_init_reads_sqlite_files_and_urls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first.sqlite"
    assert call(capsys, "init", "--db", first, "--goals", GOALS, "--tickets", TICKETS)[0] == 0
    for n, spec in enumerate((str(first), f"sqlite:///{first}")):
        db = tmp_path / f"copy{n}.sqlite"
        code, out, err = call(capsys, "init", "--db", db, "--goals", GOALS, "--tickets", spec)
        assert (code, err) == (0, ""), spec
        assert "10 tickets" in out


def test_init_adopts_an_existing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "store.sqlite"
    goals = load_goals(GOALS)
    with SqliteStore(db) as store:
        store.save_goal(goals[1])
    code, out, err = call(capsys, "init", "--db", db, "--tickets", TICKETS)
    assert (code, err) == (0, ""), err
    assert "10 tickets, 0 goal(s)" in out
    assert read_workspace(db).kind == "custom"
    with SqliteStore(db) as store:
        assert [g.id for g in store.goals()] == ["response"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.sqlite"]


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not-a-store", "--db: exists and is not a servicegoals store; choose another path"),
        ("workspace", "--db: is already a servicegoals workspace"),
        ("missing-dir", "--db: the directory"),
        ("unknown-team", "people[0].team_ids: unknown team (got 'nope')"),
        ("cycle", "teams.parent_id: team tree has a cycle"),
        ("unlisted", "goals[0].contributors[1].id: not in [[people]] (got 'alan')"),
        ("bad-tickets", "line 2, column 'created_at'"),
    ],
)
def test_init_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, message: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    db = work / "ws.sqlite"
    goals, tickets = _goal_file(tmp_path), TICKETS
    if case == "not-a-store":
        shutil.copy(TICKETS, db)
    elif case == "workspace":
        assert call(capsys, "init", "--db", db, "--goals", GOALS)[0] == 0
    elif case == "missing-dir":
        db = work / "missing" / "ws.sqlite"
    elif case == "unknown-team":
        goals = _goal_file(tmp_path, PEOPLE.replace('["tier2"]', '["nope"]'))
    elif case == "cycle":
        goals = _goal_file(
            tmp_path,
            PEOPLE + '[[teams]]\nid = "a"\nname = "A"\nparent_id = "b"\n'
            '[[teams]]\nid = "b"\nname = "B"\nparent_id = "a"\n',
        )
    elif case == "unlisted":
        goals = _goal_file(tmp_path, PEOPLE.replace('id = "alan"', 'id = "alan2"'))
    elif case == "bad-tickets":
        tickets = tmp_path / "bad.csv"
        lines = TICKETS.read_text(encoding="utf-8").splitlines()
        tickets.write_text("\n".join([*lines, "t99,yesterday,support,ada,,,"]) + "\n")
        message = "line 12, column 'created_at'"
    before = _files(work)
    code, out, err = call(capsys, "init", "--db", db, "--goals", goals, "--tickets", tickets)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("servicegoals: error: ")
    assert message in err
    assert _files(work) == before  # nothing written, no temporary file left


def test_report_needs_a_refresh_and_a_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "ws.sqlite"
    assert call(capsys, "init", "--db", db, "--goals", GOALS, "--tickets", TICKETS)[0] == 0
    code, _, err = call(capsys, "report", "--db", db)
    assert code == 2
    assert "no report yet: run 'servicegoals refresh --db" in err
    code, _, err = call(capsys, "report")
    assert (code, err.count("\n")) == (2, 1)
    assert "either --db PATH or --goals FILE --tickets SOURCE" in err
    code, _, err = call(capsys, "report", "--goals", GOALS)
    assert "report --goals needs --tickets SOURCE" in err


def test_load_goal_file_gives_the_directory_and_settings(tmp_path: Path) -> None:
    found = load_goal_file(_goal_file(tmp_path))
    assert [u.name for u in found.directory.users] == ["Ada Lovelace", "Alan Turing"]
    assert found.directory.descendants("support") == {"support", "tier2"}
    assert found.settings is not None
    assert found.settings.timezone == "Europe/Oslo"
    assert len(found.goals) == 2
    assert load_goal_file(GOALS).directory.users == ()
    assert sum(1 for _ in CsvSource(TICKETS).tickets()) == 10


def test_report_of_a_goal_file_is_what_evaluate_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ("--goals", _goal_file(tmp_path), "--tickets", TICKETS, "--as-of", AS_OF)
    for fmt in ("table", "csv", "json"):
        code, report, _ = call(capsys, "report", *common, "--format", fmt)
        assert code == 0
        assert report == call(capsys, "evaluate", *common, "--format", fmt)[1]
    html = tmp_path / "out" / "report.html"
    code, _, err = call(capsys, "report", *common, "--html", html)
    assert code == 2
    assert "--html: the directory" in err
    html.parent.mkdir()
    assert call(capsys, "report", *common, "--html", html, "--quiet")[:3] == (0, "", "")
    page = html.read_text(encoding="utf-8")
    assert "<title>Service goals: goals.toml</title>" in page
    assert "Ada Lovelace" in page
    assert sorted(p.name for p in html.parent.iterdir()) == ["report.html"]
