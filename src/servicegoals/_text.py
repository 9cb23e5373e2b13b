"""Text for people: control characters made visible.

A goal, contributor or ticket name may hold terminal escapes (``ESC ] 0;`` sets
a window title, ``ESC [ 2J`` clears the screen) or bidirectional overrides that
reorder what a reader sees.  Everything the command line prints for people goes
through `printable`, which shows such characters as Python escapes instead.
"""

from __future__ import annotations

import re

__all__ = ["json_safe", "printable"]

# C0 controls, DEL, C1 controls, and the bidi embeddings, overrides and isolates
# (plus the marks ALM, LRM and RLM), which reorder the text around them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(found: re.Match[str]) -> str:
    code = ord(found[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control and bidi-override character shown as an escape."""
    return _CONTROL.sub(_escape, text)


# ``json.dumps`` already escapes C0 controls inside strings; it leaves these.
_JSON_RAW = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def json_safe(text: str) -> str:
    """JSON text with those characters as ``\\uXXXX`` escapes: the same data, harmless to print.

    Valid only on ``json.dumps`` output, where such characters occur only inside strings.
    """
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m[0]):04x}", text)
