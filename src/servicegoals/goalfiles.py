"""Goal files: goals in TOML or JSON, chosen by the file's suffix.

A goal file is a table with a ``goals`` list and an optional ``account`` table
(the account's calendar).  [`dump_goals`][] writes every field, milestones
included, so that [`load_goals`][] gives back exactly the same goals; a file
written by hand may leave the milestones out and give ``[account]`` settings to
compute them from.  See ``docs/goal-files.md`` for the format.

TOML is read with the standard library's `tomllib` and written by the small
writer below, which only needs the shapes `servicegoals._convert` emits
(tables, lists, strings, integers, booleans), so no extra dependency.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
import tomllib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from attrs import frozen

from ._convert import (
    directory_from_dict,
    goal_from_dict,
    goal_to_dict,
    schedule_from_dict,
    schedule_to_dict,
    settings_from_dict,
)
from .calendar import AccountSettings
from .errors import GoalFileError, InvalidInput
from .goals import ContributorKind, Directory, Goal
from .worktime import Schedule

__all__ = [
    "MAX_FILE_SIZE",
    "MAX_NESTING",
    "GoalFile",
    "dump_goals",
    "load_goal_file",
    "load_goals",
    "schedule_from_data",
    "schedule_to_data",
]

#: The largest goal file read, in bytes; a bigger one is refused before parsing.
MAX_FILE_SIZE = 16 * 1024 * 1024
#: The deepest nesting of lists and tables in a goal file (a written file needs 6).
MAX_NESTING = 32

_FORMATS = {".toml": "toml", ".json": "json"}
_TOP_KEYS = ("account", "schedules", "goals", "people", "teams")


def _format(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise InvalidInput("path", os.fspath(path), "expected a .toml or .json file")
    return _FORMATS[suffix]


# -- reading -----------------------------------------------------------------

_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key, value in pairs:
        if key in table:  # json would keep the last one silently; TOML refuses too
            raise _DuplicateKey(key)
        table[key] = value
    return table


def _line(text: str, number: int) -> str:
    lines = text.splitlines()
    return lines[number - 1].strip() if 0 < number <= len(lines) else ""


def _parse(file: Path, text: str, fmt: str) -> Any:
    """The document's data; a syntax error names the line and column."""
    try:
        data = _parse_syntax(file, text, fmt)
        too_deep = _nesting(data) > MAX_NESTING
    except RecursionError:  # both parsers recurse once per level
        too_deep = True
    if too_deep:
        raise GoalFileError(
            file, "", f"more than {MAX_NESTING} levels", "lists and tables nested too deeply"
        )
    return data


def _nesting(data: Any) -> int:
    """How deeply lists and tables nest in ``data`` (without recursion)."""
    deepest = 0
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_NESTING:  # deeper is refused anyway: stop counting
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _parse_syntax(file: Path, text: str, fmt: str) -> Any:
    if fmt == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            found = _TOML_AT.search(message)
            if found is None:
                raise GoalFileError(file, "", None, f"invalid TOML: {message}") from None
            line, column = int(found[1]), int(found[2])
            reason = f"invalid TOML: {message[: found.start()]}"
            raise GoalFileError(
                file, f"line {line}, column {column}", _line(text, line), reason
            ) from None
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as exc:
        raise GoalFileError(
            file, f"line {exc.lineno}, column {exc.colno}", _line(text, exc.lineno), exc.msg
        ) from None
    except _DuplicateKey as exc:
        raise GoalFileError(file, "", exc.key, "duplicate key in a JSON object") from None


def _read(file: Path) -> str:
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_FILE_SIZE + 1)
    except FileNotFoundError:
        raise GoalFileError(file, "", os.fspath(file), "no such file") from None
    except OSError as exc:
        raise GoalFileError(file, "", os.fspath(file), f"cannot read: {exc.strerror}") from None
    if len(raw) > MAX_FILE_SIZE:
        raise GoalFileError(
            file, "", f"more than {MAX_FILE_SIZE} bytes", "too large for a goal file"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.end]
        raise GoalFileError(file, f"byte {exc.start}", bad, "not UTF-8 text") from None


@frozen
class GoalFile:
    """What a goal file holds: its goals, its ``[account]`` calendar and its people.

    ``settings`` is None without an ``[account]`` table; ``directory`` is empty
    without ``[[people]]`` and ``[[teams]]`` sections.
    """

    goals: tuple[Goal, ...]
    settings: AccountSettings | None
    directory: Directory


def _contents(data: Any, loaded_at: datetime) -> GoalFile:
    if not isinstance(data, Mapping):
        raise InvalidInput("", data, "expected a table with a goals list")
    for key in data:
        if key not in _TOP_KEYS:
            raise InvalidInput(key, key, f"unknown key (known keys: {', '.join(_TOP_KEYS)})")
    settings: AccountSettings | None = None
    if "account" in data:
        settings = settings_from_dict(data["account"], where="account")
    if "goals" not in data:
        raise InvalidInput("goals", None, "a required key is missing")
    items = data["goals"]
    if not isinstance(items, list):
        raise InvalidInput("goals", items, "expected a list of goals ([[goals]] tables in TOML)")
    schedules = _schedules(data.get("schedules", {}))
    goals = tuple(
        goal_from_dict(
            item, where=f"goals[{i}]", settings=settings, created_at=loaded_at, schedules=schedules
        )
        for i, item in enumerate(items)
    )
    _check_ids(goals)
    people = {"people": data.get("people", []), "teams": data.get("teams", [])}
    directory = directory_from_dict(people, users_key="people")
    if directory.users or directory.teams:
        _check_people(goals, directory)
    return GoalFile(goals, settings, directory)


def _schedules(data: Any) -> dict[str, Schedule]:
    """The file's named working-time schedules, which goals' ``clock`` tables refer to."""
    if not isinstance(data, Mapping):
        raise InvalidInput("schedules", data, "expected a table of named schedules")
    return {
        name: schedule_from_data(value, where=f"schedules.{name}") for name, value in data.items()
    }


def schedule_from_data(data: Any, *, where: str = "schedule") -> Schedule:
    """The working-time schedule that plain ``data`` (JSON, TOML) describes.

    The form of a goal file's ``[schedules]`` tables: ``{"timezone":
    "America/New_York", "week": {"mon_fri": [["09:00", "17:00"]]}, "holidays":
    {"dates": ["2026-12-24"], "country": "US", "subdivision": "NY"}}``.  Days
    ``mon`` .. ``sun`` (or ``mon_fri``, ``sat_sun``, ``every_day``) list
    ``[start, end]`` local times; a day left out is closed.  An error names its
    path from ``where``, such as ``schedule.week.tue[0].end``.
    """
    return schedule_from_dict(data, where=where)


def schedule_to_data(schedule: Schedule) -> dict[str, Any]:
    """``schedule`` as plain data; `schedule_from_data` reads it back exactly."""
    return schedule_to_dict(schedule)


def _check_people(goals: Iterable[Goal], directory: Directory) -> None:
    """A file that lists people lists every contributor: an unlisted one would count as gone."""
    for i, goal in enumerate(goals):
        for j, c in enumerate(goal.contributors):
            if c.kind is ContributorKind.USER and directory.find_user(c.id) is None:
                raise InvalidInput(f"goals[{i}].contributors[{j}].id", c.id, "not in [[people]]")
            if c.kind is ContributorKind.TEAM and directory.find_team(c.id) is None:
                raise InvalidInput(f"goals[{i}].contributors[{j}].id", c.id, "not in [[teams]]")


def _check_ids(goals: Iterable[Goal]) -> None:
    seen: dict[str, int] = {}
    for i, goal in enumerate(goals):
        if goal.id in seen:
            raise InvalidInput(
                f"goals[{i}].id", goal.id, f"duplicate goal id (also goals[{seen[goal.id]}])"
            )
        seen[goal.id] = i


def load_goals(path: str | os.PathLike[str]) -> tuple[Goal, ...]:
    """The goals in a ``.toml`` or ``.json`` goal file, in file order.

    Every error is a `GoalFileError` naming the file, the place inside it
    and the bad value: a missing file, broken syntax, a wrong type, an unknown
    KPI or contributor, a naive date-time, a duplicate goal id.
    """
    return load_goal_file(path).goals


def load_goal_file(path: str | os.PathLike[str]) -> GoalFile:
    """Everything in a goal file: goals, the ``[account]`` table, ``[[people]]`` and ``[[teams]]``.

    A goal without ``created_at`` gets the time the file is loaded.  Errors are
    `GoalFileError`s, as for `load_goals`; a person in an unknown team, a
    team under an unknown parent or a cycle in the team tree are errors too.
    """
    file = Path(path)
    fmt = _format(file)
    text = _read(file)
    data = _parse(file, text, fmt)
    try:
        return _contents(data, datetime.now(UTC))
    except InvalidInput as exc:
        raise GoalFileError(file, exc.field, exc.value, exc.reason) from None


# -- writing -----------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
_HEADER = "# servicegoals goal file: see docs/goal-files.md for the format.\n"


def _toml_str(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_str(key)


def _toml_value(value: Any, *, multiline: bool = False) -> str:
    """One value, inline; a top-level list of tables gets one item per line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return (
            "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    if isinstance(value, list):
        items = [_toml_value(v) for v in value]
        if multiline and any(isinstance(v, Mapping) for v in value):
            return "[\n" + "".join(f"    {item},\n" for item in items) + "]"
        return "[" + ", ".join(items) + "]"
    raise InvalidInput(
        "value", value, "TOML goal files hold tables, lists, strings, integers, booleans"
    )


def _is_table(value: Any) -> bool:
    """A table with nested tables or lists is written as a [section]; others inline."""
    return isinstance(value, Mapping) and any(
        isinstance(v, (Mapping, list)) for v in value.values()
    )


def _toml_table(lines: list[str], path: list[str], table: Mapping[str, Any]) -> None:
    sections = []
    for key, value in table.items():
        array_of_tables = (
            not path
            and isinstance(value, list)
            and value
            and all(isinstance(v, Mapping) for v in value)
        )
        if array_of_tables or _is_table(value):
            sections.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value, multiline=True)}")
    for key, value in sections:
        name = ".".join(_toml_key(k) for k in [*path, key])
        for item in value if isinstance(value, list) else [value]:
            lines.append("")
            lines.append(f"[[{name}]]" if isinstance(value, list) else f"[{name}]")
            _toml_table(lines, [*path, key], item)


def _to_toml(data: Mapping[str, Any]) -> str:
    lines: list[str] = []
    _toml_table(lines, [], data)
    return _HEADER + "\n".join(lines).lstrip("\n") + "\n"


def _write_atomically(file: Path, payload: bytes) -> None:
    """Write a temporary file beside ``file``, then rename it over ``file``.

    A reader sees the old file or the new one, never half of one; a failure
    leaves the old file as it was and removes the temporary one.
    """
    temp = file.with_name(f".{file.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileNotFoundError):  # keep the replaced file's permissions
            os.chmod(temp, stat.S_IMODE(os.stat(file).st_mode))
        os.replace(temp, file)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise GoalFileError(file, "", os.fspath(file), f"cannot write: {exc.strerror}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_directory(file.parent)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable where the platform allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _goal_data(index: int, goal: Goal) -> dict[str, Any]:
    try:
        return goal_to_dict(goal)
    except InvalidInput as exc:
        raise InvalidInput(f"goals[{index}].{exc.field}", exc.value, exc.reason) from None


def dump_goals(goals: Iterable[Goal], path: str | os.PathLike[str]) -> None:
    """Write ``goals`` to a ``.toml`` or ``.json`` goal file, atomically.

    Everything is checked and serialised before the disk is touched, and the
    file is replaced in one rename, so a failure never leaves a half-written
    file.  Duplicate goal ids are refused.
    """
    file = Path(path)
    fmt = _format(file)
    items = tuple(goals)
    for i, goal in enumerate(items):
        if not isinstance(goal, Goal):
            raise InvalidInput(f"goals[{i}]", goal, "expected a Goal")
    _check_ids(items)
    data = {"goals": [_goal_data(i, g) for i, g in enumerate(items)]}
    if fmt == "toml":
        text = _to_toml(data)
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    try:
        payload = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end]
        raise InvalidInput(
            "goals", bad, "text that is not valid Unicode cannot be written"
        ) from None
    _write_atomically(file, payload)
