"""Docstrings render in the API reference: mkdocstrings cross-references, no Sphinx roles.

The site is built with mkdocstrings (Google style); a Sphinx role such as
``:class:`Goal``` shows there as literal text, so none may come back.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import servicegoals
from servicegoals import AggregatingSource, Notifier, TicketSource

SRC = Path(servicegoals.__file__).parent
ROLE = re.compile(r":(class|func|meth|data|attr|mod|exc|obj|ref|py:\w+):`")


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: p.name)
def test_no_sphinx_role_in_the_source(path: Path) -> None:
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if ROLE.search(line)
    ]
    assert not found, "Sphinx roles do not render in mkdocstrings:\n" + "\n".join(found)


def test_the_role_pattern_finds_roles() -> None:
    assert ROLE.search("see :class:`Goal`")
    assert ROLE.search("see :py:func:`measure`")
    assert not ROLE.search("see [`Goal`][] and `measure`")


@pytest.mark.parametrize(
    "method",
    [Notifier.send, TicketSource.tickets, AggregatingSource.measure],
    ids=lambda m: m.__qualname__,
)
def test_methods_plug_in_authors_implement_are_documented(method: object) -> None:
    assert inspect.getdoc(method), "a protocol method without a docstring is missing from the docs"
