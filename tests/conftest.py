"""Shared test configuration."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Calendar math over random time zones is slower than hypothesis expects on a
# loaded 2-core CI machine; a deadline there only measures the machine.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile(
    "thorough", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=1000
)
settings.load_profile(os.environ.get("SERVICEGOALS_HYPOTHESIS_PROFILE", "default"))
