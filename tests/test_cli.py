"""The installed ``servicegoals`` command, run as a subprocess like a user runs it.

Also runs every ``$ servicegoals ...`` example of ``docs/cli.md`` and compares
its output with the page.
"""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from servicegoals._demo import build_account
from servicegoals.cli import CSV_HEADER, main
from servicegoals.goalfiles import dump_goals, load_goals
from servicegoals.sources import CsvSource, SqliteSource

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
GOALS = EXAMPLES / "goals.toml"
TICKETS = EXAMPLES / "tickets.csv"
AS_OF = "2026-05-15T12:00:00+02:00"
DEMO_AS_OF = "2026-11-24T12:00:00+00:00"
EV = ["evaluate", "--goals", GOALS, "--tickets", TICKETS]


def _documented_row_fields() -> set[str]:
    """The row fields that the "Each row" table of docs/cli.md documents."""
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    table = page.split("Each row:\n", 1)[1].strip().split("\n\n", 1)[0]
    names = [line.split("|")[1] for line in table.splitlines()[2:]]
    return {name for cell in names for name in re.findall(r"`([a-z_]+)`", cell)}


ROW_FIELDS = _documented_row_fields()
GOAL_FIELDS = {
    "id",
    "name",
    "kpi",
    "unit",
    "direction",
    "cadence",
    "align_to_fiscal_year",
    "pipelines",
    "start",
    "end",
    "rows",
}


def _command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m``."""
    found = shutil.which("servicegoals", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "servicegoals"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "LINES")}
    env["NO_COLOR"] = "1"
    env.pop("SERVICEGOALS_DEBUG", None)
    return env


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_command(), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=_env(),
        timeout=120,
        check=False,
    )


def call(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """Run ``main()`` in this process: what the console script calls, without its start-up.

    Used for the long tables of cases; each kind of case also runs as a subprocess.
    """
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def ok(*args: str | Path, cwd: Path | None = None) -> str:
    done = run(*args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def evaluate_json(*extra: str | Path, goals: Path = GOALS, tickets: Path | str = TICKETS) -> Any:
    common = ("--as-of", AS_OF, "--format", "json")
    return json.loads(ok("evaluate", "--goals", goals, "--tickets", tickets, *common, *extra))


def cells(data: Any, goal_id: str | None = None) -> list[dict[str, Any]]:
    """The cell rows of a JSON output, each with its goal's id added as ``goal``."""
    return [
        {**row, "goal": goal["id"]}
        for goal in data["goals"]
        if goal_id is None or goal["id"] == goal_id
        for row in goal["rows"]
        if row["kind"] == "cell"
    ]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A demo workspace at a fixed time, and the demo's output."""
    path = tmp_path_factory.mktemp("demo") / "workspace.sqlite"
    out = ok("demo", "--db", path, "--as-of", DEMO_AS_OF, "--quiet")
    return path, out


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo account's tickets (tens of thousands) as a CSV file."""
    account = build_account(datetime(2026, 11, 24, 12, tzinfo=UTC))
    path = tmp_path_factory.mktemp("big") / "tickets.csv"
    CsvSource.write(path, account.tickets())
    dump_goals(account.goals, path.with_name("goals.json"))
    return path


# -- demo ------------------------------------------------------------------------


def test_demo_builds_a_workspace_and_prints_every_goal(workspace: tuple[Path, str]) -> None:
    path, out = workspace
    for name in (
        "Close 90 tickets a month",
        "First answer within two hours",
        "Tier 2 resolves within a day and a half",
        "Billing tickets closed per fiscal year",
        "Onboarding sprint: answer within 90 minutes",
    ):
        assert name in out
    assert "Ada Lovelace" in out
    assert "Customer Support (team)" in out
    assert "In progress (inactive)" in out  # the deactivated user's row
    assert re.search(r"2026-10: (Missed|Achieved|Exceeded) \d+%", out)
    assert "FY2026: Missed" in out  # the yearly goal's first fiscal year is over
    with sqlite3.connect(path) as db:
        (tickets,) = db.execute("SELECT count(*) FROM tickets").fetchone()
        (goals,) = db.execute("SELECT count(*) FROM goals").fetchone()
        (reports,) = db.execute("SELECT count(*) FROM reports").fetchone()
    db.close()
    assert 20_000 <= tickets <= 60_000
    assert goals == 5
    assert reports == 5


def test_demo_has_one_goal_of_each_template_and_cadence(workspace: tuple[Path, str]) -> None:
    path, _ = workspace
    data = json.loads(ok("goals", "list", "--db", path, "--format", "json"))
    assert {g["kpi"] for g in data["goals"]} == {
        "closed_tickets",
        "avg_response_time",
        "avg_resolution_time",
    }
    assert {g["cadence"] for g in data["goals"]} == {
        "weekly",
        "monthly",
        "quarterly",
        "yearly",
        "custom",
    }
    assert any(g["align_to_fiscal_year"] for g in data["goals"])


def test_demo_is_reproducible_and_rerunning_replaces_it(tmp_path: Path) -> None:
    first = ok("demo", "--as-of", DEMO_AS_OF, "--quiet", cwd=tmp_path)
    default = tmp_path / "servicegoals-demo.sqlite"
    assert default.exists()
    second = run("demo", "--as-of", DEMO_AS_OF, cwd=tmp_path)
    assert second.returncode == 0
    assert second.stdout == first
    assert "32,026 tickets" in second.stderr or "tickets, 5 goals" in second.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["servicegoals-demo.sqlite"]


def test_demo_refuses_to_replace_a_file_that_is_not_a_demo(tmp_path: Path) -> None:
    precious = tmp_path / "precious.sqlite"
    precious.write_text("my data")
    done = run("demo", "--db", precious, "--quiet")
    assert done.returncode == 2
    assert "exists and is not a demo workspace" in done.stderr
    assert precious.read_text() == "my data"


# -- evaluate ----------------------------------------------------------------------


def test_evaluate_json_fields_and_exact_values() -> None:
    data = evaluate_json()
    assert data["version"] == 4
    assert data["calculated_at"] == AS_OF
    assert [g["id"] for g in data["goals"]] == ["closed", "response"]
    for goal in data["goals"]:
        assert set(goal) == GOAL_FIELDS
        for row in goal["rows"]:
            assert set(row) == ROW_FIELDS
    closed = data["goals"][0]
    assert closed["kpi"] == "closed_tickets"
    assert closed["unit"] == "count"
    by_key = {(r["kind"], r["contributor_id"], r["milestone"]): r for r in closed["rows"]}
    april = by_key[("cell", "alan", "2026-04")]
    assert (april["target"], april["value"], april["attainment"]) == (2, 1, "1/2")
    assert (april["target_exact"], april["value_exact"], april["target_iso"]) == ("2", "1", None)
    assert (april["percent"], april["status"], april["tickets"]) == (50.0, "missed", 1)
    assert (april["percent_text"], april["status_text"]) == ("50%", "Missed")
    assert april["start"] == "2026-03-31T22:00:00+00:00"  # Oslo midnight, in UTC
    may = by_key[("cell", "alan", "2026-05")]
    assert (may["attainment"], may["percent"], may["status"]) == ("3/2", 150.0, "in_progress")
    assert by_key[("cell", "ada", "2026-06")]["status"] == "pending"
    whole = by_key[("goal", "alan", None)]
    assert (whole["attainment"], whole["percent_text"], whole["milestone_index"]) == (
        "2/3",
        "66%",
        None,
    )
    assert whole["percent"] == pytest.approx(200 / 3)
    total = by_key[("total", None, "2026-04")]
    assert (total["target"], total["value"], total["status"]) == (5, 4, "missed")
    # Forecasts: 14.5 of May's 31 days (Oslo) have elapsed at 12:00 on the 15th.
    assert (may["forecast_method"], may["forecast_exact"]) == ("elapsed_share", "186/29")
    assert (may["forecast_attainment"], may["forecast_percent_text"]) == ("93/29", "320%")
    assert may["forecast"] == pytest.approx(186 / 29)
    assert (may["today_target_exact"], may["pace_gap_exact"]) == ("29/31", "64/31")
    assert (may["at_risk"], may["no_forecast_reason"]) == (False, None)
    ada_may = by_key[("cell", "ada", "2026-05")]
    assert (ada_may["forecast_attainment"], ada_may["at_risk"]) == ("62/87", True)
    assert (april["forecast"], april["no_forecast_reason"], april["today_target"]) == (
        None,
        "final",
        None,
    )
    assert whole["no_forecast_reason"] == "whole_goal"
    (response,) = cells(data, "response")
    assert response["contributor_kind"] == "team"
    assert response["tickets"] == 9
    assert response["total_us"] == 73_800_000_000
    assert response["value"] == 8200.0  # 2h 16m 40s, in seconds
    assert response["value_iso"] == "PT2H16M40S"
    assert response["value_exact"] == "8200000000"  # in microseconds
    assert (response["target"], response["target_iso"]) == (14400.0, "PT4H")
    assert response["target_exact"] == "14400000000"
    assert response["attainment"] == "72/41"
    assert response["percent"] == pytest.approx(7200 / 41)
    assert response["percent_text"] == "175%"  # rounded down, like the table
    assert response["infinite"] is False
    assert (response["forecast_method"], response["forecast_exact"]) == (
        "current_value",
        "8200000000",
    )
    assert (response["today_target_iso"], response["pace_gap_iso"]) == ("PT4H", "PT1H43M20S")


def test_evaluate_csv_has_the_documented_header_and_one_line_per_row() -> None:
    out = ok(
        "evaluate", "--goals", GOALS, "--tickets", TICKETS, "--as-of", AS_OF, "--format", "csv"
    )
    lines = out.splitlines()
    assert lines[0] == ",".join(CSV_HEADER)
    assert len(lines) == 1 + 11 + 3  # closed: 6 cells, 2 whole goals, 3 totals; response: 3
    assert (
        "closed,Close tickets every month,closed_tickets,monthly,count,cell,alan,user,,0,2026-04,"
        in out
    )
    assert ",2,,2,1,,1,1,0,1/2,50.0,50%,false,missed,Missed,," in out


def test_evaluate_table_shows_rows_totals_and_whole_goals() -> None:
    out = ok("evaluate", "--goals", GOALS, "--tickets", TICKETS, "--as-of", AS_OF)
    assert "Close tickets every month [closed]" in out
    assert re.search(r"alan\s+2026-04\s+2\s+1\s+50%\s+Missed", out)
    assert re.search(r"support \(team\)\s+2026-04-01\.\.2026-05-31\s+4h 00m\s+2h 16m\s+175%", out)
    assert re.search(r"All contributors\s+2026-05\s+5\s+4\s+80%\s+In progress\s+8\.6 \(171%\)", out)
    assert re.search(
        r"ada\s+2026-05\s+3\s+1\s+33%\s+In progress\s+2\.1 \(71%\) at risk\s+1\.4 \(-0\.4\)", out
    )
    assert re.search(r"2h 16m \(175%\)\s+4h 00m \(\+1h 43m\)", out)
    assert "Whole goal" in out
    assert not any(line != line.rstrip() for line in out.splitlines())


def test_evaluate_reads_json_goal_files_and_sqlite_tickets_alike(tmp_path: Path) -> None:
    goals = tmp_path / "goals.json"
    dump_goals(load_goals(GOALS), goals)
    database = tmp_path / "tickets.sqlite"
    SqliteSource.create(database).add_tickets(CsvSource(TICKETS).tickets())
    expected = evaluate_json()
    assert evaluate_json(goals=goals) == expected
    assert evaluate_json(tickets=database) == expected
    assert evaluate_json(tickets=f"sqlite:///{database}") == expected


def test_evaluate_skips_bad_rows_only_when_asked(tmp_path: Path) -> None:
    broken = tmp_path / "tickets.csv"
    text = TICKETS.read_text().replace("2026-04-21T15:00:00+02:00", "soon")
    broken.write_text(text)
    done = run("evaluate", "--goals", GOALS, "--tickets", broken, "--as-of", AS_OF)
    assert done.returncode == 2
    assert "line 5" in done.stderr
    assert "first_response_at" in done.stderr
    done = run("evaluate", "--goals", GOALS, "--tickets", broken, "--skip-bad-rows")
    assert done.returncode == 0
    assert "skipped 1 bad row(s)" in done.stderr


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--user", "alan"], {("closed", "alan", 0), ("closed", "alan", 1), ("closed", "alan", 2)}),
        (["--status", "missed"], {("closed", "alan", 0)}),
        (
            ["--status", "achieved", "--status", "missed"],
            {("closed", "ada", 0), ("closed", "alan", 0)},
        ),
        (["--kpi", "avg_response_time"], {("response", "support", 0)}),
        (["--name", "ANSWER"], {("response", "support", 0)}),
        (["--cadence", "custom"], {("response", "support", 0)}),
        (
            ["--milestone-type", "month"],
            {("closed", c, i) for c in ("ada", "alan") for i in range(3)},
        ),
        (["--team", "support"], {("response", "support", 0)}),
        (
            ["--min-progress", "100"],
            {("closed", "ada", 0), ("closed", "alan", 1), ("response", "support", 0)},
        ),
        (
            ["--max-progress", "49.9", "--kpi", "closed_tickets"],
            {("closed", "ada", 1), ("closed", "ada", 2), ("closed", "alan", 2)},
        ),
        (["--from", "2026-06-01", "--user", "ada"], {("closed", "ada", 2)}),
        (["--to", "2026-04-30", "--user", "ada"], {("closed", "ada", 0)}),
        (
            [
                "--from",
                "2026-05-31",
                "--to",
                "2026-05-31",
                "--timezone",
                "Europe/Oslo",
                "--user",
                "ada",
            ],
            {("closed", "ada", 1)},
        ),
        (
            [
                "--from",
                "2026-05-31",
                "--to",
                "2026-05-31",
                "--timezone",
                "America/New_York",
                "--user",
                "ada",
            ],
            {("closed", "ada", 1), ("closed", "ada", 2)},
        ),
        (["--pipeline", "support"], set()),  # these goals count every pipeline
    ],
)
def test_evaluate_filters(
    capsys: pytest.CaptureFixture[str], options: list[str], expected: set[tuple[str, str, int]]
) -> None:
    common = ("--tickets", TICKETS, "--as-of", AS_OF, "--format", "json")
    code, out, err = call(capsys, "evaluate", "--goals", GOALS, *common, *options)
    assert (code, err) == (0, "")
    data = json.loads(out)
    found = {(r["goal"], r["contributor_id"], r["milestone_index"]) for r in cells(data)}
    assert found == expected
    assert all(g["rows"] for g in data["goals"])  # goals without matching rows are left out


def test_filters_run_in_the_installed_command() -> None:
    data = evaluate_json("--status", "missed", "--user", "alan")
    assert [(r["kind"], r["milestone"]) for r in data["goals"][0]["rows"]] == [
        ("cell", "2026-04"),
        ("goal", None),
        ("total", "2026-04"),
    ]
    out = ok("evaluate", "--goals", GOALS, "--tickets", TICKETS, "--user", "nobody")
    assert out == "No goals match.\n"


# -- refresh and goals list ------------------------------------------------------------


def test_refresh_runs_when_due_or_forced(tmp_path: Path, workspace: tuple[Path, str]) -> None:
    path = tmp_path / "ws.sqlite"
    shutil.copy(workspace[0], path)
    out = ok("refresh", "--db", path, "--as-of", "2026-11-24T18:00:00Z")
    assert out.startswith("refresh at 2026-11-24T18:00:00+00:00 skipped")
    out = ok("refresh", "--db", path, "--as-of", "2026-11-24T18:00:00Z", "--force")
    assert out.startswith("refreshed 5 goal(s) at 2026-11-24T18:00:00+00:00")
    out = ok("refresh", "--db", path, "--as-of", "2026-11-26T00:00:00Z")
    assert out.startswith("refreshed 5 goal(s)")
    data = json.loads(ok("goals", "list", "--db", path, "--format", "json"))
    assert data["calculated_at"] == "2026-11-26T00:00:00+00:00"
    # What was the status on the first refresh?  The history answers.
    then = json.loads(
        ok("goals", "list", "--db", path, "--format", "json", "--as-of", "2026-11-24T13:00:00Z")
    )
    assert {r["calculated_at"] for g in then["goals"] for r in g["rows"]} == {DEMO_AS_OF}


def test_goals_list_shows_the_current_milestone(workspace: tuple[Path, str]) -> None:
    path, _ = workspace
    data = json.loads(ok("goals", "list", "--db", path, "--format", "json"))
    assert data["calculated_at"] == DEMO_AS_OF
    labels = {g["id"]: {r["milestone"] for r in g["rows"]} for g in data["goals"]}
    assert labels == {
        "monthly-closed": {"2026-11"},
        "onboarding-sprint": {"2026-10-14..2026-12-14"},
        "quarterly-resolution": {"FY2027-Q2"},
        "weekly-response": {"2026-11-23"},
        "yearly-billing": {"FY2027"},
    }
    names = {r["contributor_name"] for g in data["goals"] for r in g["rows"]}
    assert {"Ada Lovelace", "Customer Support", None} <= names


def test_goals_list_filters_by_team_members_and_status(workspace: tuple[Path, str]) -> None:
    path, _ = workspace
    data = json.loads(ok("goals", "list", "--db", path, "--format", "json", "--team", "tier-2"))
    assert [g["id"] for g in data["goals"]] == ["quarterly-resolution"]
    assert {r["contributor_id"] for r in cells(data)} == {"ken", "radia", "dennis", "frances"}
    out = ok("goals", "list", "--db", path, "--status", "pending")
    assert out == "No goals match.\n"
    csv_out = ok("goals", "list", "--db", path, "--format", "csv", "--kpi", "closed_tickets")
    assert csv_out.splitlines()[0] == ",".join(CSV_HEADER)


# -- errors: one line, exit code 2 -------------------------------------------------------


def _bad_goal_file(tmp_path: Path) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text('[[goals]]\nid = "g"\nname = "G"\nkpi = "happiness"\n')
    return path


def _unknown_zone_file(tmp_path: Path) -> Path:
    path = tmp_path / "zone.toml"
    path.write_text(GOALS.read_text().replace("Europe/Oslo", "Mars/Olympus_Mons"))
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["evaluate", "--goals", "missing.toml", "--tickets", TICKETS],
            "missing.toml: no such file",
        ),
        (
            ["evaluate", "--goals", GOALS, "--tickets", "missing.csv"],
            "--tickets: no such file (got 'missing.csv')",
        ),
        (
            ["evaluate", "--goals", _bad_goal_file, "--tickets", TICKETS],
            "goals[0].kpi: unknown goal template",
        ),
        (["evaluate", "--goals", TICKETS, "--tickets", TICKETS], "expected a .toml or .json file"),
        (["evaluate", "--goals", GOALS, "--tickets", GOALS], "the header lacks the column(s) id"),
        (["evaluate", "--goals", GOALS], "the following arguments are required: --tickets"),
        ([*EV, "--format", "xml"], "invalid choice: 'xml'"),
        ([*EV, "--frobnicate"], "unrecognized arguments: --frobnicate"),
        ([*EV, "--status", "great"], "invalid choice: 'great'"),
        ([*EV, "--as-of", "2026-05-01T12:00:00"], "--as-of: naive date-time"),
        ([*EV, "--as-of", "next tuesday"], "--as-of: expected an ISO-8601 date-time"),
        (
            ["evaluate", "--goals", _unknown_zone_file, "--tickets", TICKETS],
            "account.timezone: unknown IANA time zone (got 'Mars/Olympus_Mons')",
        ),
        (
            [*EV, "--from", "2026-05-01", "--timezone", "Mars/Olympus_Mons"],
            "--timezone: unknown IANA time zone",
        ),
        ([*EV, "--from", "May"], "--from: expected a date"),
        ([*EV, "--from", "2026-05-02", "--to", "2026-05-01"], "--to: is before --from"),
        ([*EV, "--min-progress", "lots"], "--min-progress: expected a number"),
        (
            [*EV, "--min-progress", "90", "--max-progress", "10"],
            "--max-progress: is below --min-progress 90",
        ),
        (
            ["evaluate", "--goals", GOALS, "--tickets", "sqlite:///missing.sqlite"],
            "--tickets: no such file",
        ),
        (["refresh", "--db", "missing.sqlite"], "--db: no such file (got 'missing.sqlite')"),
        (["refresh", "--db", GOALS], "not a servicegoals workspace"),
        (["goals", "list", "--db", TICKETS], "not a servicegoals workspace"),
        (["goals"], "the following arguments are required: COMMAND"),
        ([], "the following arguments are required: COMMAND"),
        (["launch"], "invalid choice: 'launch'"),
    ],
)
def test_errors_are_one_line_and_exit_code_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[Any],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = call(capsys, *(a(tmp_path) if callable(a) else a for a in args))
    assert (code, out) == (2, "")
    _one_error_line(err, message)


def _one_error_line(stderr: str, message: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("servicegoals: error: ")
    assert message in lines[0]
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["evaluate", "--goals", "missing.toml", "--tickets", TICKETS],
            "missing.toml: no such file",
        ),
        (["evaluate", "--goals", GOALS, "--tickets", "missing.csv"], "--tickets: no such file"),
        (["refresh", "--db", "missing.sqlite"], "--db: no such file"),
        (
            ["evaluate", "--goals", _bad_goal_file, "--tickets", TICKETS],
            "goals[0].kpi: unknown goal template",
        ),
        ([*EV, "--format", "xml"], "invalid choice: 'xml'"),
        (
            ["evaluate", "--goals", _unknown_zone_file, "--tickets", TICKETS],
            "account.timezone: unknown IANA time zone",
        ),
        (["goals", "list", "--db", TICKETS], "not a servicegoals workspace"),
        ([*EV, "--as-of", "2026-05-01T12:00:00"], "--as-of: naive date-time"),
    ],
)
def test_the_installed_command_reports_errors_in_one_line(
    tmp_path: Path, args: list[Any], message: str
) -> None:
    done = run(*(a(tmp_path) if callable(a) else a for a in args), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    _one_error_line(done.stderr, message)


def test_help_and_version_exit_0() -> None:
    assert "evaluate" in ok("--help")
    assert "--min-progress" in ok("evaluate", "--help")
    assert ok("--version").strip() == "servicegoals 0.1.0"


def test_python_dash_m_runs_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "servicegoals", "--version"],
        capture_output=True,
        text=True,
        check=False,
        env=_env(),
    )
    assert (done.returncode, done.stdout.strip()) == (0, "servicegoals 0.1.0")


# -- progress bar ------------------------------------------------------------------------


def _stderr_on_a_terminal(*args: str | Path) -> str:
    """Run the command with stderr on a pseudo-terminal; return what it drew there."""
    leader, follower = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the follower side was closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        done = subprocess.run(
            [*_command(), *map(str, args)],
            stdout=subprocess.DEVNULL,
            stderr=follower,
            cwd=ROOT,
            env=_env(),
            timeout=120,
            check=False,
        )
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    assert done.returncode == 0
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_on_a_terminal_only_and_not_when_quiet(big_csv: Path) -> None:
    goals = big_csv.with_name("goals.json")
    args = ("evaluate", "--goals", goals, "--tickets", big_csv, "--as-of", DEMO_AS_OF)
    assert "reading tickets" in _stderr_on_a_terminal(*args)
    assert "reading tickets" not in _stderr_on_a_terminal(*args, "--quiet")
    piped = run(*args)  # stderr is a pipe here
    assert piped.returncode == 0
    assert piped.stderr == ""


def test_init_of_a_big_csv_shows_progress_on_a_terminal_only(big_csv: Path, tmp_path: Path) -> None:
    goals = big_csv.with_name("goals.json")
    args = ("init", "--goals", goals, "--tickets", big_csv)
    assert "reading tickets" in _stderr_on_a_terminal(*args, "--db", tmp_path / "a.sqlite")
    quiet = _stderr_on_a_terminal(*args, "--db", tmp_path / "b.sqlite", "--quiet")
    assert "reading tickets" not in quiet


def test_refresh_shows_its_goals_progress_on_a_terminal_only(
    workspace: tuple[Path, str], tmp_path: Path
) -> None:
    db = tmp_path / "copy.sqlite"
    shutil.copyfile(workspace[0], db)
    args = ("refresh", "--db", db, "--force")
    drawn = _stderr_on_a_terminal(*args, "--as-of", "2026-11-25T12:00:00Z")
    assert "refreshing goals" in drawn
    assert "5/5" in drawn  # the demo's five goals
    assert "refreshing goals" not in _stderr_on_a_terminal(
        *args, "--as-of", "2026-11-26T12:00:00Z", "--quiet"
    )
    piped = run(*args, "--as-of", "2026-11-27T12:00:00Z")  # stderr is a pipe here
    assert piped.returncode == 0
    assert piped.stderr == ""
    assert piped.stdout.startswith("refreshed 5 goal(s) at 2026-11-27T12:00:00+00:00")


def test_evaluate_of_a_big_csv_matches_the_workspace(
    big_csv: Path, workspace: tuple[Path, str]
) -> None:
    """Streaming a CSV and pushing the aggregation down into SQLite agree exactly."""
    goals = big_csv.with_name("goals.json")
    common = ("--goals", goals, "--as-of", DEMO_AS_OF, "--format", "csv")
    from_csv = ok("evaluate", "--tickets", big_csv, *common)
    from_db = ok("evaluate", "--tickets", workspace[0], *common)
    assert from_csv == from_db
    assert len(from_csv.splitlines()) > 100


# -- the examples of docs/cli.md -----------------------------------------------------------

_CONSOLE = re.compile(r"```console\n(.*?)```", re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    """``(command line, expected output)`` of every ``$`` line in docs/cli.md."""
    found = []
    for block in _CONSOLE.findall((ROOT / "docs" / "cli.md").read_text()):
        for part in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            lines = part.splitlines()
            command = lines.pop(0)
            while command.endswith("\\"):  # a continued command line
                command = command[:-1] + lines.pop(0)
            found.append((command, "".join(f"{line}\n" for line in lines)))
    return found


@pytest.mark.parametrize(("command", "expected"), _examples())
def test_docs_cli_examples(tmp_path: Path, command: str, expected: str) -> None:
    """Run in a scratch directory that has the example files where the page says."""
    shutil.copytree(EXAMPLES, tmp_path / "docs" / "examples")
    args = shlex.split(command)
    assert args[0] == "servicegoals"
    done = run(*args[1:], cwd=tmp_path)
    failing = expected.startswith("servicegoals: error:")
    assert done.returncode == (2 if failing else 0), done.stderr
    got = done.stderr if failing else done.stdout
    assert [line.rstrip() for line in got.splitlines()] == expected.splitlines()


# -- control characters ----------------------------------------------------------

HOSTILE = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202eevil"


def _hostile_goal_file(tmp_path: Path) -> Path:
    """The example goals, one named (and one contributor called) to take over a terminal."""
    text = GOALS.read_text(encoding="utf-8")
    text = text.replace('"Close tickets every month"', json.dumps(HOSTILE))
    text = text.replace('id = "alan" }', f"id = {json.dumps('alan' + HOSTILE)} }}")
    text = text.replace("alan = 2", f"{json.dumps('alan' + HOSTILE)} = 2")
    path = tmp_path / "hostile.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _raw_controls(text: str) -> set[str]:
    return {ch for ch in text if ch in "\x1b\x07\x9b\u202e"}


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_names_cannot_send_terminal_escapes(tmp_path: Path, fmt: str) -> None:
    goals = _hostile_goal_file(tmp_path)
    out = ok("evaluate", "--goals", goals, "--tickets", TICKETS, "--as-of", AS_OF, "--format", fmt)
    assert _raw_controls(out) == set()
    if fmt == "table":
        assert "\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\u202eevil" in out
    else:  # the same data, escaped as JSON allows
        data = json.loads(out)
        assert data["goals"][0]["name"] == HOSTILE
        assert data["goals"][0]["rows"][4]["contributor_id"] == "alan" + HOSTILE


def test_errors_cannot_send_terminal_escapes(tmp_path: Path) -> None:
    goals = tmp_path / f"bad{HOSTILE}.toml"
    goals.write_text("[[goals]]\nid = 1\n", encoding="utf-8")
    for args in (
        ("evaluate", "--goals", goals, "--tickets", TICKETS),
        ("evaluate", "--goals", GOALS, "--tickets", TICKETS, "--as-of", HOSTILE),
        ("refresh", "--db", tmp_path / HOSTILE),
    ):
        done = run(*args)
        assert done.returncode == 2
        assert _raw_controls(done.stderr) == set(), args
        assert len(done.stderr.splitlines()) == 1
