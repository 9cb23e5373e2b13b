"""Release readiness: the wheel and sdist build, pass ``twine check`` and install.

One slow test (about half a minute): it builds both distributions from this
checkout, checks their metadata and contents, installs the wheel into a fresh
virtual environment without any extra and runs ``servicegoals demo`` from it.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

import servicegoals

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str | Path, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=300, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_build_check_install_and_run_the_demo(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # No isolation: the build backend (hatchling) comes from the dev extra, so the
    # build needs no download.
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT)
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    version = servicegoals.__version__
    assert wheel.name == f"servicegoals-{version}-py3-none-any.whl"
    assert sdist.name == f"servicegoals-{version}.tar.gz"
    assert "PASSED" in _run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist)

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"servicegoals-{version}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert {"servicegoals/py.typed", "servicegoals/cli.py", "servicegoals/_demo.py"} <= names
    assert not any(n.startswith(("tests/", "docs/")) for n in names)
    assert "servicegoals = servicegoals.cli:main" in entry_points
    for line in (
        "License-Expression: MIT",
        "Requires-Python: >=3.11",
        "Classifier: Typing :: Typed",
        "Project-URL: Documentation, https://servicegoals.readthedocs.io/",
        "Provides-Extra: cli",
        "Description-Content-Type: text/markdown",
    ):
        assert line in metadata
    with tarfile.open(sdist) as archive:
        members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
    assert {
        "LICENSE",
        "README.md",
        "CHANGELOG.md",
        "mkdocs.yml",
        "docs/index.md",
        "docs/examples/goals.toml",
        "tests/test_cli.py",
        "src/servicegoals/cli.py",
    } <= members

    # A clean environment: the wheel and its run-time dependencies, no extras,
    # so the demo prints its plain-text tables.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    _run(
        bin_dir / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel
    )
    out = _run(
        bin_dir / "servicegoals",
        "demo",
        "--db",
        tmp_path / "demo.sqlite",
        "--as-of",
        "2026-11-24T12:00:00Z",
        "--quiet",
        cwd=tmp_path,
    )
    assert "Close 90 tickets a month [monthly-closed]" in out
    assert "Contributor" in out
    assert "In progress (inactive)" in out
    assert "─" not in out  # rich is not installed there: the plain-text table
    assert (tmp_path / "demo.sqlite").exists()
