"""Hide secrets in text meant for people: error messages, log records, reprs.

A URL's password, query string and fragment often carry credentials (a
database password, a webhook's ``?token=``), so every URL shown to a user goes
through `redact_url` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"

# As SQLAlchemy reads URLs, a password runs to the last "@" and may hold "/" or "?".
_LOGIN = re.compile(r"(?P<user>[^:/?#@]*):[^@]*@")
_QUERY = re.compile(r"[?#]")


def redact_url(url: object) -> str:
    """``url`` as text with its password, query string and fragment masked.

    The scheme, user name, host, port and path stay readable, so the message
    still says where the failure happened.  Works on anything with a `str()`
    (SQLAlchemy `URL` objects already hide their password there).
    """
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    login = _LOGIN.match(rest)
    if login is not None:
        rest = f"{login['user']}:{MASK}@{rest[login.end() :]}"
    query = _QUERY.search(rest)
    if query is not None:
        rest = f"{rest[: query.end()]}{MASK}"
    return f"{scheme}{sep}{rest}"


def url_secrets(url: str) -> list[str]:
    """The password and the query values of ``url``: what `scrub` must hide.

    A driver may echo them in its own messages ("could not convert 'x'"), so
    masking the URL alone is not enough.
    """
    rest = url.partition("://")[2] or url
    found = []
    login = _LOGIN.match(rest)
    if login is not None:
        found.append(rest[len(login["user"]) + 1 : login.end() - 1])
        rest = rest[login.end() :]
    query = _QUERY.search(rest)
    if query is not None:
        for item in re.split(r"[&;]", rest[query.end() :]):
            found.append(item.partition("=")[2] or item)
    return [secret for secret in found if secret]


def scrub(text: str, secrets: Iterable[str | bytes | None]) -> str:
    """``text`` with every occurrence of each non-empty secret masked.

    For messages that come from a driver or a server, which may echo what they
    were given.
    """
    for secret in secrets:
        if isinstance(secret, bytes):
            secret = secret.decode("utf-8", "replace")
        if secret:
            text = text.replace(secret, MASK)
    return text
