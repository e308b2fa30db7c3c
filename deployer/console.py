"""Where the CLI's output goes, so it suits a terminal and a CI log alike.

Results go to stdout: text, or one JSON document with ``--output json``. Progress goes to stdout in text
mode and to stderr in JSON mode (stdout stays parseable). Colour and a live status line (rewritten in place)
only when that stream is a terminal and ``NO_COLOR`` is unset; a CI log gets plain lines, no control codes.

Much of what is shown was read from AWS (execution causes, records, names): every line is made printable
first (``handlers.domain.text``), so no control character or bidi override read from AWS reaches the terminal
or the log; the console's own colour codes are added after. JSON documents escape them by themselves.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping

from handlers.domain.text import printable

_STYLES = {"ok": "32", "bad": "31", "warn": "33", "dim": "2", "bold": "1"}
_CLEAR_LINE = "\r\x1b[K"


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Console:
    def __init__(self, *, json_output: bool = False, stdout=None, stderr=None,
                 env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.json = json_output
        self.out = stdout or sys.stdout
        self.err = stderr or sys.stderr
        self.progress = self.err if json_output else self.out
        self.live = _is_terminal(self.progress)
        self.colour = self.live and "NO_COLOR" not in env and env.get("TERM") != "dumb"
        self._status_shown = False

    def paint(self, text: str, style: str | None) -> str:
        text = printable(text)
        if not (self.colour and style):
            return text
        return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"

    def say(self, text: str = "", style: str | None = None) -> None:
        """A progress line (every command's narration, the timeline of an execution)."""
        self.clear_status()
        print(self.paint(text, style), file=self.progress, flush=True)

    def status(self, text: str) -> None:
        """The live status line: on a terminal only, replaced by the next one or by the next line said."""
        if self.live:
            self.progress.write(_CLEAR_LINE + self.paint(text, "dim"))
            self.progress.flush()
            self._status_shown = True

    def clear_status(self) -> None:
        if self._status_shown:
            self.progress.write(_CLEAR_LINE)
            self.progress.flush()
            self._status_shown = False

    def show(self, text: str = "", style: str | None = None) -> None:
        """A result line in text mode (nothing in JSON mode: the document carries it)."""
        if not self.json:
            self.say(text, style)

    def emit(self, document: dict) -> None:
        """The command's JSON document (JSON mode only): one per command, on stdout."""
        if self.json:
            self.clear_status()
            json.dump(document, self.out, indent=2, default=str)
            self.out.write("\n")
            self.out.flush()

    def error(self, text: str) -> None:
        self.clear_status()
        colour, text = self.colour and _is_terminal(self.err), printable(text)
        print(f"\x1b[31m{text}\x1b[0m" if colour else text, file=self.err, flush=True)
