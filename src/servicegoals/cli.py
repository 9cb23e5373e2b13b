"""The ``servicegoals`` command line (placeholder until the CLI issue lands)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import date

from .calendar import AccountSettings, Cadence, date_range, milestones


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] != ["demo"]:
        print("usage: servicegoals demo", file=sys.stderr)
        return 2
    account = AccountSettings(timezone="America/New_York", fiscal_year_start_month=4)
    span = date_range(date(2026, 4, 1), date(2027, 3, 31), account)
    for m in milestones(Cadence.QUARTERLY, span, account, align_to_fiscal_year=True):
        start, end = (t.astimezone(account.tz) for t in (m.period.start, m.period.end))
        print(f"{m.label}: {start} .. {end}")
    return 0
