"""A terminal gets colour and a live status line; a CI log gets plain lines; JSON mode keeps stdout clean."""

from __future__ import annotations

import io
import json

from deployer.console import Console


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_colour_and_a_status_line_that_the_next_line_replaces():
    out = Terminal()
    console = Console(stdout=out, stderr=io.StringIO(), env={"TERM": "xterm"})
    console.status("Bake · 10% on version 2")
    console.say("  => SUCCEEDED", "ok")
    assert out.getvalue() == "\r\x1b[K\x1b[2mBake · 10% on version 2\x1b[0m\r\x1b[K\x1b[32m  => SUCCEEDED\x1b[0m\n"


def test_no_color_keeps_the_words_plain():
    out = Terminal()
    Console(stdout=out, env={"NO_COLOR": "1"}).say("  => FAILED", "bad")
    assert out.getvalue() == "  => FAILED\n"


def test_a_log_gets_plain_lines_and_no_status_line():
    out = io.StringIO()
    console = Console(stdout=out, env={})
    console.status("Bake")
    console.say("  => FAILED", "bad")
    assert out.getvalue() == "  => FAILED\n"


def test_json_mode_writes_progress_to_stderr_and_one_document_to_stdout():
    out, err = io.StringIO(), io.StringIO()
    console = Console(json_output=True, stdout=out, stderr=err, env={})
    console.say("started run-1")
    console.show("text result")
    console.emit({"status": "SUCCEEDED"})
    assert json.loads(out.getvalue()) == {"status": "SUCCEEDED"} and err.getvalue() == "started run-1\n"


def test_text_read_from_aws_reaches_a_terminal_as_one_inert_line_and_colour_is_still_the_consoles():
    out, err = Terminal(), Terminal()
    console = Console(stdout=out, stderr=err, env={"TERM": "xterm"})
    cause = "rolled back\x1b]0;owned\x07\n::error::fake\r\u202eevil\x9b2J"

    console.say(f"  => FAILED: {cause}", "bad")
    console.error(cause)

    escaped = "rolled back\\x1b]0;owned\\x07\\n::error::fake\\r\\u202eevil\\x9b2J"
    assert out.getvalue() == f"\x1b[31m  => FAILED: {escaped}\x1b[0m\n"
    assert err.getvalue() == f"\x1b[31m{escaped}\x1b[0m\n"


def test_a_json_document_carries_control_characters_only_as_escapes():
    out = io.StringIO()
    Console(json_output=True, stdout=out, env={}).emit({"cause": "a\x1b[2Jb\u202e"})
    assert "\x1b" not in out.getvalue() and "\u202e" not in out.getvalue()
    assert json.loads(out.getvalue()) == {"cause": "a\x1b[2Jb\u202e"}
