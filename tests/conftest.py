"""Shared test configuration."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from postgres_server import running_postgres

# Calendar math over random time zones is slower than hypothesis expects on a
# loaded 2-core CI machine; a deadline there only measures the machine.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile(
    "thorough", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=1000
)
settings.load_profile(os.environ.get("SERVICEGOALS_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real throwaway PostgreSQL server's database URL (tests/postgres_server.py).

    Started on first use, removed at the end of the session.  A server that
    cannot start fails the tests that need it; it is skipped only when
    SERVICEGOALS_SKIP_POSTGRES=1 asks for that explicitly.
    """
    if os.environ.get("SERVICEGOALS_SKIP_POSTGRES") == "1":
        pytest.skip("SERVICEGOALS_SKIP_POSTGRES=1")
    with running_postgres() as url:
        yield url
