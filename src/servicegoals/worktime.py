"""Working-time clocks: how much of an interval counts as working time.

A :class:`WorkingClock` measures the working time between two instants given
as epoch microseconds, so that the measuring loop stays on plain integers.
:data:`CALENDAR` counts every microsecond (wall-clock time).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from attrs import frozen

__all__ = ["CALENDAR", "CalendarClock", "WorkingClock"]


@runtime_checkable
class WorkingClock(Protocol):
    """Measures working time; implemented by ``CalendarClock`` and schedules."""

    def working_us(self, start_us: int, end_us: int) -> int:
        """The working time in ``[start_us, end_us)``, in microseconds (0 when empty)."""
        ...


@frozen
class CalendarClock:
    """Wall-clock time: every microsecond of an interval counts."""

    def working_us(self, start_us: int, end_us: int) -> int:
        """``end_us - start_us``, or 0 for an empty interval."""
        return max(0, end_us - start_us)


#: The wall-clock ("calendar time") clock.
CALENDAR = CalendarClock()
