"""``servicegoals.testing`` without hypothesis: the test doubles import, strategies explain.

The strategies need the ``testing`` extra; ``raises``, ``CapturingNotifier``,
``ManualClock`` and ``InMemorySource`` need nothing (docs/api.md, "Testing helpers").
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A meta-path finder that refuses hypothesis, as if it were not installed.
_BLOCK = """
import importlib.abc, sys

class NoHypothesis(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "hypothesis" or name.startswith("hypothesis."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoHypothesis())
"""


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCK + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_doubles_import_and_work_without_hypothesis() -> None:
    done = _python(
        """
        from datetime import UTC, datetime, timedelta
        from servicegoals import InvalidInput
        from servicegoals.testing import CapturingNotifier, InMemorySource, ManualClock, raises

        clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
        clock.advance(timedelta(hours=1))
        with raises(InvalidInput, "id"):
            raise InvalidInput("id", 1, "bad")
        print(CapturingNotifier().keys, clock().hour, len(list(InMemorySource([]).tickets())))
        print("hypothesis" in sys.modules)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "1", "0", "False"]


def test_a_strategy_without_hypothesis_names_the_extra() -> None:
    done = _python(
        """
        from servicegoals.testing import goals
        """
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "ImportError: servicegoals.testing.goals needs hypothesis: "
        "pip install 'servicegoals[testing]'"
    )


def test_the_strategies_load_on_first_use() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, servicegoals.testing as t; a = 'hypothesis' in sys.modules; "
            "t.goals; print(a, 'hypothesis' in sys.modules, t.PIPELINES[0])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "support"]


def test_the_testing_extra_holds_only_hypothesis() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = project["project"]["optional-dependencies"]["testing"]
    assert [req.split(">")[0] for req in extra] == ["hypothesis"]
