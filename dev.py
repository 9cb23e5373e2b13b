#!/usr/bin/env python3
"""Developer entry point that needs nothing but python3.

    python3 dev.py demo    # set up .venv and run the main job
    python3 dev.py test    # set up .venv and run every check and test
    python3 dev.py bench   # set up .venv and run the benchmarks (--quick: a smoke test)

The first run creates ``.venv`` and installs the project with its extras; later
runs reinstall only when ``pyproject.toml`` changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".dev-stamp"
EXTRAS = "dev,sql,cli,html,testing,docs,bench,duckdb"


def _run(*args: str | Path) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    done = subprocess.run([str(a) for a in args], cwd=ROOT, check=False)
    if done.returncode != 0:
        sys.exit(done.returncode)


def setup() -> None:
    """Create the virtual environment and install the project when needed."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PY.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    _run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(PY, "-m", "pip", "install", "--quiet", "-e", f".[{EXTRAS}]")
    STAMP.write_text(wanted)


def demo(args: list[str]) -> None:
    _run(BIN / "servicegoals", "demo", *args)


def _apt_install(package: str, why: str) -> None:
    """Install a Debian package with apt-get (as root, else with sudo)."""
    if os.environ.get("SERVICEGOALS_SKIP_APT") == "1" or not shutil.which("apt-get"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"installing {package} {why}", flush=True)
    _run(*sudo, "apt-get", "update", "-qq")
    _run(*sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", package)


def _ensure_postgres() -> None:
    """Install Debian's PostgreSQL server when missing: the push-down tests start one.

    The tests fail loudly (they never skip) when no server can start.
    """
    if shutil.which("pg_ctl") or list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
        return
    if os.environ.get("SERVICEGOALS_SKIP_POSTGRES") == "1":
        return
    _apt_install("postgresql", "for the push-down tests")


def _ensure_chromium() -> None:
    """Install Debian's Chromium when missing: the HTML report is tested in it.

    Playwright drives this system browser (its own browser download is not
    used); the tests fail, never skip, without it.
    """
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    _apt_install("chromium", "for the HTML report's browser tests")


def test(args: list[str]) -> None:
    _ensure_postgres()
    _ensure_chromium()
    _run(PY, "-m", "ruff", "check", "src", "tests", "bench", "typing_tests", "dev.py")
    _run(PY, "-m", "ruff", "format", "--check", "src", "tests", "bench", "typing_tests", "dev.py")
    _run(PY, "-m", "mypy", "--strict", "src", "tests", "bench", "typing_tests")
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # mkdocs-material's end-of-life banner
    with tempfile.TemporaryDirectory() as site:  # the docs site, strict: warnings fail
        _run(PY, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", site)
    _run(PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args)


def bench(args: list[str]) -> None:
    _run(PY, "-m", "bench", *args)


COMMANDS = {"demo": demo, "test": test, "bench": bench}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python3 dev.py {{{'|'.join(COMMANDS)}}} [args...]")
    setup()
    COMMANDS[sys.argv[1]](sys.argv[2:])
