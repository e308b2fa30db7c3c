"""Free text that people will read (``requestedBy``, alarm names, causes): what a terminal must never get.

Control characters (Unicode category Cc: C0, DEL, C1) can move a terminal's cursor, recolour or erase what
is shown, or start a new line that a CI log reads as a command; the bidirectional overrides and isolates
(U+202A to U+202E, U+2066 to U+2069, "Trojan Source", CVE-2021-42574) make text display as something else.
Requests carrying them are refused; text read back from AWS is escaped before it is shown.
"""

from __future__ import annotations

_BIDI_CONTROLS = frozenset(chr(code) for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def is_unsafe(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or char in _BIDI_CONTROLS


def unsafe_characters(text: str) -> list[str]:
    """The unsafe characters of ``text``, each once, escaped (``['\\\\x1b']``)."""
    return [escape(char) for char in dict.fromkeys(text) if is_unsafe(char)]


def escape(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str) -> str:
    """``text`` with every unsafe character written as its escape, so it shows as one inert line."""
    return "".join(escape(char) if is_unsafe(char) else char for char in text)
