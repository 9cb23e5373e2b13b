"""Deprecated private alias of `servicegoals.errors`, kept while modules migrate."""

from __future__ import annotations

from .errors import (
    DataSourceError,
    DeliveryError,
    ImmutableField,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ServiceGoalsError,
    StoreError,
)

__all__ = [
    "DataSourceError",
    "DeliveryError",
    "ImmutableField",
    "InvalidInput",
    "NotFound",
    "PermissionDenied",
    "ServiceGoalsError",
    "StoreError",
]
