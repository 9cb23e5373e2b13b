"""Workspaces: one SQLite file with an account's tickets, goals, snapshots and people.

A workspace holds the tickets (the ``tickets`` table of
[SqliteSource][servicegoals.sources.SqliteSource]), the goals, report snapshots
and outbox (the tables of [SqliteStore][servicegoals.stores.SqliteStore]) and
the account's calendar and people (a ``workspace`` table of JSON documents:
``kind``, ``account``, ``directory``).  `create_workspace` makes one from goals
and tickets, or adopts an existing `SqliteStore` file; `read_workspace` opens
one.  ``docs/cli.md`` documents the commands that use them.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from attrs import frozen

from ._convert import (
    directory_from_dict,
    directory_to_dict,
    settings_from_dict,
    settings_to_dict,
)
from ._redact import redact_url
from .calendar import AccountSettings
from .errors import InvalidInput
from .goals import ContributorKind, Directory, Goal, Team, User
from .kpis import Ticket
from .sources import CsvSource, SqliteSource, TicketSource
from .stores import SqliteStore, open_read_only

__all__ = [
    "Workspace",
    "create_workspace",
    "open_tickets",
    "read_kind",
    "read_workspace",
    "write_workspace",
]

_PROG = "servicegoals"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS workspace (
    key TEXT PRIMARY KEY,
    data TEXT NOT NULL
)
"""
_SQLITE_MAGIC = b"SQLite format 3\x00"


@frozen
class Workspace:
    """A workspace file's calendar and people, and its kind (``"demo"`` or ``"custom"``)."""

    path: Path
    settings: AccountSettings
    directory: Directory
    kind: str


# == files ========================================================================


def is_sqlite(path: Path) -> bool:
    """True when ``path`` is an SQLite database file."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return False


def must_exist(option: str, path: Path) -> None:
    """An existing file, not a directory."""
    if not path.exists():
        raise InvalidInput(option, str(path), "no such file")
    if path.is_dir():
        raise InvalidInput(option, str(path), "is a directory, not a file")


def writable_target(option: str, path: Path) -> None:
    """A path a new file can be renamed to: its directory exists; it is not a directory."""
    parent = path.parent
    if not parent.is_dir():
        raise InvalidInput(option, str(path), f"the directory {str(parent)!r} does not exist")
    if path.is_dir():
        raise InvalidInput(option, str(path), "is a directory, not a file")


def remove_sqlite(path: Path) -> None:
    """Delete an SQLite file with its journal files."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def temp_beside(path: Path) -> Path:
    """A fresh name beside ``path``, renamed over it once complete."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


# == the workspace table ==========================================================


def write_workspace(path: Path, settings: AccountSettings, directory: Directory, kind: str) -> None:
    """Record the account's calendar and people in the workspace file at ``path``."""
    rows = {
        "kind": kind,
        "account": settings_to_dict(settings),
        "directory": directory_to_dict(directory),
    }
    with sqlite3.connect(path) as db:
        db.execute(_SCHEMA)
        db.executemany(
            "INSERT OR REPLACE INTO workspace (key, data) VALUES (?, ?)",
            [(key, json.dumps(value, sort_keys=True)) for key, value in rows.items()],
        )
    db.close()


def _tables(path: Path) -> dict[str, str]:
    """The workspace table's rows, or KeyError when the file has none (or is no database)."""
    try:
        db = open_read_only(path)  # also reads a WAL file in a folder we cannot write
        try:
            return dict(db.execute("SELECT key, data FROM workspace").fetchall())
        finally:
            db.close()
    except sqlite3.Error:
        raise KeyError("workspace") from None


def read_workspace(path: Path) -> Workspace:
    """The calendar and people of the workspace file at ``path``."""
    must_exist("--db", path)
    not_one = (
        f"not a servicegoals workspace (create one with '{_PROG} init' or '{_PROG} demo --db PATH')"
    )
    if not is_sqlite(path):
        raise InvalidInput("--db", str(path), not_one)
    try:
        found = _tables(path)
    except KeyError:
        raise InvalidInput("--db", str(path), not_one) from None
    try:
        settings = settings_from_dict(json.loads(found["account"]))
        directory = directory_from_dict(json.loads(found["directory"]))
        kind = json.loads(found["kind"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("--db", str(path), f"a damaged workspace table: {exc}") from None
    return Workspace(path, settings, directory, kind)


def read_kind(path: Path) -> str | None:
    """A workspace file's kind, or None when ``path`` is not a workspace."""
    try:
        return read_workspace(path).kind
    except InvalidInput:
        return None


# == ticket sources ===============================================================


def _sqlite_url_path(url: str, option: str) -> Path | None:
    """The file of an ``sqlite:///path`` URL (None for other URLs)."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in ("sqlite", "sqlite3"):
        return None
    if not rest.startswith("/") or rest == "/":
        raise InvalidInput(
            option, redact_url(url), "expected sqlite:///relative/path or sqlite:////abs"
        )
    return Path(rest[1:])


@contextmanager
def open_tickets(
    spec: str,
    *,
    option: str = "--tickets",
    skip_bad_rows: bool = False,
    properties: bool = False,
) -> Iterator[TicketSource]:
    """The ticket source ``spec`` names: a CSV file, an SQLite file or a database URL.

    An SQLite file and a database URL give aggregating sources (measured in the
    database); a CSV file gives a `CsvSource` (streamed), whose extra columns are
    ticket properties when ``properties`` is true.
    """
    if "://" in spec:
        path = _sqlite_url_path(spec, option)
        if path is None:
            with _url_source(spec, option) as source:
                yield source
            return
        must_exist(option, path)
        yield SqliteSource(path)
        return
    path = Path(spec)
    must_exist(option, path)
    if is_sqlite(path):
        yield SqliteSource(path)
        return
    yield CsvSource(path, on_error="skip" if skip_bad_rows else "raise", properties=properties)


@contextmanager
def _url_source(url: str, option: str) -> Iterator[TicketSource]:
    try:
        from .sql import SqlAlchemySource
    except ImportError:
        raise InvalidInput(
            option,
            redact_url(url),
            "a database URL needs the extra: pip install 'servicegoals[sql]'",
        ) from None
    with SqlAlchemySource(url) as source:
        yield source


# == creating one =================================================================


def _is_store(path: Path) -> bool:
    """A `SqliteStore` file (goals and snapshots) that is not yet a workspace."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return {"schema_version", "goals", "reports"} <= names


def _copy_database(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite file (its WAL included), by SQLite's backup API."""
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def create_workspace(
    path: Path,
    *,
    goals: Sequence[Goal] = (),
    tickets: Iterable[Ticket] | None = None,
    settings: AccountSettings | None = None,
    directory: Directory | None = None,
) -> tuple[Workspace, int]:
    """Make a workspace at ``path`` from goals and tickets; returns it and the ticket count.

    A new file is built beside ``path`` and renamed into place, so a failure
    leaves nothing half-written.  An existing `SqliteStore` file is adopted: a
    copy gets the tickets, goals and workspace table and replaces it.  Any other
    existing file (a workspace included) is refused.

    Args:
        path: The workspace file to create.
        goals: Goals to save (an adopted store's goals with the same ids are replaced).
        tickets: The account's tickets; None leaves the ticket table empty.
        settings: The account's calendar (default: UTC, calendar fiscal year).
        directory: The account's people and teams (default, or when empty: each
            goal's contributors, active, named by their ids).

    Raises:
        InvalidInput: The path exists and is a workspace or not a store, or its
            directory does not exist.
    """
    writable_target("--db", path)
    adopt = False
    if path.exists():
        if read_kind(path) is not None:
            raise InvalidInput("--db", str(path), "is already a servicegoals workspace")
        if not (is_sqlite(path) and _is_store(path)):
            raise InvalidInput(
                "--db", str(path), "exists and is not a servicegoals store; choose another path"
            )
        adopt = True
    temp = temp_beside(path)
    try:
        if adopt:
            _copy_database(path, temp)
        source = SqliteSource.create(temp)
        count = 0 if tickets is None else source.add_tickets(tickets)
        with SqliteStore(temp) as store:
            for goal in goals:
                store.save_goal(goal)
        settings = settings or AccountSettings()
        if directory is None or not (directory.users or directory.teams):
            directory = _listed(goals)
        write_workspace(temp, settings, directory, "custom")
        _checkpoint(temp)
        os.replace(temp, path)
    finally:
        remove_sqlite(temp)
    return Workspace(path, settings, directory, "custom"), count


def _listed(goals: Iterable[Goal]) -> Directory:
    """Without people, every contributor is listed, active, under its id.

    The tracker counts a contributor missing from the directory as deleted.
    """
    users: dict[str, User] = {}
    teams: dict[str, Team] = {}
    for goal in goals:
        for c in goal.contributors:
            if c.kind is ContributorKind.USER:
                users.setdefault(c.id, User(c.id, c.id))
            else:
                teams.setdefault(c.id, Team(c.id, c.id))
    return Directory(users.values(), teams.values())


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the file, so that renaming the file alone moves everything."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA journal_mode=DELETE")
    finally:
        db.close()
