"""How a CLI command ends when it cannot do its job: a message for people and an exit code for pipelines."""

from __future__ import annotations

# The exit codes (deployer.cli re-exports them; docs/cli.md documents them).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_STARTED = 0, 1, 2, 3


class CommandError(Exception):
    """The command stops here; ``str(exc)`` says why and what to do."""

    exit_code = EXIT_FAILED


class UsageError(CommandError):
    """A bad argument, found before anything was asked of AWS; the message names the argument."""

    exit_code = EXIT_USAGE


class NotStarted(CommandError):
    """AWS could not be reached or refused the call: no credentials, access denied, no such state machine
    or table. For deploy and rollback: no execution was started."""

    exit_code = EXIT_NOT_STARTED
