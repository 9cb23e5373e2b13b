"""The benchmark script keeps working: its quick mode runs here as a smoke test.

Figures are never asserted (targets live in the benchmark, not in a timed
test); what is checked is that every section runs, the equality check passes,
and that the check would catch a difference.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from bench.run import Failed, equal_or_fail

ROOT = Path(__file__).resolve().parent.parent


def test_quick_run_prints_every_section_and_target() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for heading in ("1. In memory", "2. Push-down", "3. Calendar", "4. Equality"):
        assert heading in out
    assert "exactly: PASS" in out
    # Both quick sizes were measured and equal the pandas baseline.
    assert re.search(r"^\s+1,000\s.*\syes$", out, re.MULTILINE)
    assert re.search(r"^\s+10,000\s.*\syes$", out, re.MULTILINE)
    assert "7. Incremental refresh" in out
    assert "8. Clock policy" in out
    assert "10. Custom KPIs" in out
    # The machine's speed, at the start and at the end, to compare runs by.
    assert len(re.findall(r"^machine.*: a fixed pure-Python loop takes \d+\.\d ms", out, re.M)) == 2
    assert len(re.findall(r"^  (PASS|MISS)  ", out, re.MULTILINE)) == 8


def test_equality_check_names_the_cells_that_differ() -> None:
    ours = {("g", "u1", 0): (2, 10), ("g", "u1", 1): (0, 0)}
    assert equal_or_fail("same", ours, dict(ours)) == "yes"
    theirs = {("g", "u1", 0): (2, 11), ("g", "u1", 1): (0, 0)}
    with pytest.raises(Failed, match=r"(?s)1 of 2 cells differ.*\('g', 'u1', 0\): ours \(2, 10\)"):
        equal_or_fail("changed", ours, theirs)
