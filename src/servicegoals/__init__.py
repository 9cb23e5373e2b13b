"""servicegoals: service goals for CRM and helpdesk tools.

Quotas for support users and teams on closed tickets, average response time and
average resolution time, per milestone, with exact statuses.
"""

from __future__ import annotations

from ._errors import (
    DataSourceError,
    DeliveryError,
    ImmutableField,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ServiceGoalsError,
    StoreError,
)
from .calendar import (
    AccountSettings,
    Cadence,
    Milestone,
    Period,
    Weekday,
    calendar_year,
    date_range,
    day_start,
    fiscal_year,
    milestones,
)
from .goals import (
    Contributor,
    ContributorKind,
    Directory,
    Goal,
    NotificationSettings,
    Target,
    Team,
    User,
)
from .kpis import (
    AVG_RESOLUTION_TIME,
    AVG_RESPONSE_TIME,
    CLOSED_TICKETS,
    SERVICE_TEMPLATES,
    Direction,
    Kpi,
    Measurement,
    Ticket,
    TicketEvent,
    Unit,
    kpi_by_key,
)
from .measure import CellKey, CellPlan, Measurements, measure, plan_cells
from .status import FrozenReason, GoalReport, Progress, Score, Status, evaluate, score

__version__ = "0.1.0"

__all__ = [
    "AVG_RESOLUTION_TIME",
    "AVG_RESPONSE_TIME",
    "CLOSED_TICKETS",
    "SERVICE_TEMPLATES",
    "AccountSettings",
    "Cadence",
    "CellKey",
    "CellPlan",
    "Contributor",
    "ContributorKind",
    "DataSourceError",
    "DeliveryError",
    "Direction",
    "Directory",
    "FrozenReason",
    "Goal",
    "GoalReport",
    "ImmutableField",
    "InvalidInput",
    "Kpi",
    "Measurement",
    "Measurements",
    "Milestone",
    "NotFound",
    "NotificationSettings",
    "Period",
    "PermissionDenied",
    "Progress",
    "Score",
    "ServiceGoalsError",
    "Status",
    "StoreError",
    "Target",
    "Team",
    "Ticket",
    "TicketEvent",
    "Unit",
    "User",
    "Weekday",
    "calendar_year",
    "date_range",
    "day_start",
    "evaluate",
    "fiscal_year",
    "kpi_by_key",
    "measure",
    "milestones",
    "plan_cells",
    "score",
]
