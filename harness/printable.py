"""Text from results files made fit for a terminal: the one escaping every text view uses.

Case names, object keys and error messages come from results directories that may come from
anywhere. Printed raw, an ANSI escape recolours or clears the terminal, a newline splits a row
in two and a bidi override (U+202E) reverses what follows; a 50 MB message floods the screen.
:func:`printable` shows each such character as a Python-style escape and cuts long text.
"""

from __future__ import annotations

import unicodedata

DEFAULT_LIMIT = 500
"""Characters of one field a text view prints before cutting it."""
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
"""Unicode categories shown escaped: controls, format characters (bidi overrides, zero-width),
line and paragraph separators, surrogates, private use and unassigned code points."""


def printable(text: str, limit: int = DEFAULT_LIMIT) -> str:
    """``text`` with control and format characters escaped, cut after ``limit`` characters."""
    cut = text[:limit]
    shown = "".join(_escape(char) for char in cut)
    if len(text) > limit:
        shown += f"... ({len(text) - limit:,} more characters)"
    return shown


def _escape(char: str) -> str:
    if unicodedata.category(char) not in _INVISIBLE:
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
