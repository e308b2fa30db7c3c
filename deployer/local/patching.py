"""How the emulator patches moto, so that a moto upgrade fails loudly instead of drifting from AWS silently.

Every patch declares what it replaces: the attribute, and the parameters the replacement was written
against. ``check`` compares that with the installed moto. A *fidelity* patch that no longer fits stops the
emulator (it would otherwise run moto's behaviour, which differs from AWS's); a *speed* patch that no longer
fits is skipped with a warning, so an upgrade makes the emulator slower, never wrong.
tests/deployer/local/test_patching.py checks every patch the emulator declares against the moto in use.
"""

from __future__ import annotations

import enum
import inspect
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from unittest import mock

log = logging.getLogger(__name__)


class Kind(enum.Enum):
    FIDELITY = "fidelity"  # restores an AWS behaviour the deployer depends on
    SPEED = "speed"  # the same behaviour, cheaper


class PatchTargetChanged(RuntimeError):
    """moto no longer has the attribute (or signature) a fidelity patch was written against."""


@dataclass(frozen=True)
class Patch:
    """Replace ``target.name`` with ``replacement``; ``parameters`` are the original's parameter names, as
    the replacement expects them (``None``: not callable, or not checked)."""

    target: object
    name: str
    replacement: object
    parameters: tuple[str, ...] | None
    kind: Kind = Kind.FIDELITY
    why: str = ""

    @property
    def where(self) -> str:
        owner = getattr(self.target, "__qualname__", None) or getattr(self.target, "__name__", repr(self.target))
        return f"{getattr(self.target, '__module__', '')}.{owner}.{self.name}".lstrip(".")

    def problem(self) -> str | None:
        """Why this patch no longer fits the installed moto, or None."""
        if not hasattr(self.target, self.name):
            return f"{self.where} no longer exists"
        if self.parameters is None:
            return None
        original = inspect.getattr_static(self.target, self.name)
        original = original.__func__ if isinstance(original, staticmethod | classmethod) else original
        try:
            found = tuple(inspect.signature(original).parameters)
        except (TypeError, ValueError):
            return f"{self.where} is no longer a function"
        if found != self.parameters:
            return f"{self.where} now takes ({', '.join(found)}), the patch expects ({', '.join(self.parameters)})"
        return None


def check(patches: Iterable[Patch]) -> list[str]:
    """Every problem, for the patch-target test and for ``installed``."""
    return [f"{patch.kind.value} patch: {problem}" for patch in patches if (problem := patch.problem())]


@contextmanager
def installed(patches: Iterable[Patch]) -> Iterator[None]:
    """Install the patches for the block. A fidelity patch that no longer fits raises ``PatchTargetChanged``
    before anything is patched; a speed patch that no longer fits is left out."""
    patches = list(patches)
    broken = [patch for patch in patches if patch.problem()]
    fidelity = [patch for patch in broken if patch.kind is Kind.FIDELITY]
    if fidelity:
        raise PatchTargetChanged("; ".join(check(fidelity)) + " — moto changed: update deployer/local to match")
    for patch in broken:
        warnings.warn(f"emulator runs slower: {patch.problem()} (speed patch skipped)", RuntimeWarning,
                      stacklevel=3)
    with ExitStack() as stack:
        for patch in patches:
            if patch not in broken:
                stack.enter_context(mock.patch.object(patch.target, patch.name, patch.replacement))
        yield


def parameters_of(function: Callable) -> tuple[str, ...]:
    """The parameter names of ``function`` (for declaring a patch against the code in front of you)."""
    return tuple(inspect.signature(function).parameters)
