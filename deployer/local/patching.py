"""How the emulator patches moto, so that a moto upgrade fails loudly instead of drifting from AWS silently.

Every patch declares what it replaces: the attribute, the parameters the replacement was written against,
and the other attributes of the same target its code calls. ``check`` compares that with the installed moto.
A patch the emulator needs to be right (*fidelity*: AWS's behaviour; *facility*: an option the caller asked
for, such as time scaling) that no longer fits stops the emulator: it would otherwise run moto's behaviour,
which differs. A patch that only makes the emulator cheaper (*speed*) or quieter (*quiet*) is skipped with a
warning, so an upgrade makes the emulator slower or noisier, never wrong.
tests/deployer/local/test_patching.py checks every patch the emulator declares against the moto in use.
"""

from __future__ import annotations

import enum
import inspect
import logging
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from unittest import mock

log = logging.getLogger(__name__)


class Kind(enum.Enum):
    FIDELITY = "fidelity"  # restores an AWS behaviour the deployer depends on
    FACILITY = "facility"  # an emulator option the caller asked for (time scaling): not AWS, but promised
    SPEED = "speed"  # the same behaviour, cheaper
    QUIET = "quiet"  # the same behaviour, without moto's noise

    @property
    def required(self) -> bool:
        """Without it the emulator would be wrong (not merely slower or noisier)."""
        return self in (Kind.FIDELITY, Kind.FACILITY)


class PatchTargetChanged(RuntimeError):
    """moto no longer has the attribute (or signature) a required patch was written against."""


@dataclass(frozen=True)
class Patch:
    """Replace ``target.name`` with ``replacement``; ``parameters`` are the original's parameter names, as
    the replacement expects them (``None``: not callable, or not checked). ``uses``: other attributes of
    ``target`` the replacement calls. ``adds``: moto has no such attribute (an API it does not implement);
    the patch adds it, and a moto that grows one is a change to look at."""

    target: object
    name: str
    replacement: object
    parameters: tuple[str, ...] | None
    kind: Kind = Kind.FIDELITY
    why: str = ""
    uses: tuple[str, ...] = ()
    adds: bool = False

    @property
    def where(self) -> str:
        owner = getattr(self.target, "__qualname__", None) or getattr(self.target, "__name__", repr(self.target))
        return f"{getattr(self.target, '__module__', '')}.{owner}.{self.name}".lstrip(".")

    def problem(self) -> str | None:
        """Why this patch no longer fits the installed moto, or None (judged on moto's own attributes, also
        while an emulator has them patched)."""
        original = _moto_attribute(self.target, self.name)
        if self.adds:
            if original is not _ABSENT:
                return f"{self.where} now exists: the emulator adds its own; see whether moto's answers as AWS does"
        elif original is _ABSENT:
            return f"{self.where} no longer exists"
        gone = [name for name in self.uses if _moto_attribute(self.target, name) is _ABSENT]
        if gone:
            return f"{self.where}'s replacement calls {', '.join(gone)}, which moto no longer has there"
        if self.parameters is None or self.adds:
            return None
        original = original.__func__ if isinstance(original, staticmethod | classmethod) else original
        try:
            found = tuple(inspect.signature(original).parameters)
        except (TypeError, ValueError):
            return f"{self.where} is no longer a function"
        if found != self.parameters:
            return f"{self.where} now takes ({', '.join(found)}), the patch expects ({', '.join(self.parameters)})"
        return None


_ABSENT = object()
_replaced: dict[tuple[int, str], list] = {}  # (id(target), name): [moto's own attribute or _ABSENT, installs]
_replacing = threading.Lock()


def _moto_attribute(target: object, name: str) -> object:
    """``target.name`` as moto defines it (not as an installed patch replaced it), or ``_ABSENT``."""
    with _replacing:
        replaced = _replaced.get((id(target), name))
    return replaced[0] if replaced else inspect.getattr_static(target, name, _ABSENT)


@contextmanager
def _replacing_one(patch: Patch) -> Iterator[None]:
    """``mock.patch.object``, remembering moto's own attribute for ``problem`` while the patch is in."""
    key = (id(patch.target), patch.name)
    with _replacing:
        _replaced.setdefault(key, [inspect.getattr_static(patch.target, patch.name, _ABSENT), 0])[1] += 1
    try:
        with mock.patch.object(patch.target, patch.name, patch.replacement, create=patch.adds):
            yield
    finally:
        with _replacing:
            _replaced[key][1] -= 1
            if not _replaced[key][1]:
                del _replaced[key]


def check(patches: Iterable[Patch]) -> list[str]:
    """Every problem, for the patch-target test and for ``installed``."""
    return [f"{patch.kind.value} patch: {problem}" for patch in patches if (problem := patch.problem())]


@contextmanager
def installed(patches: Iterable[Patch]) -> Iterator[None]:
    """Install the patches for the block, in order. A required patch that no longer fits raises
    ``PatchTargetChanged`` before anything is patched; an optional one (speed, quiet) is left out."""
    patches = list(patches)
    broken = [patch for patch in patches if patch.problem()]
    required = [patch for patch in broken if patch.kind.required]
    if required:
        raise PatchTargetChanged("; ".join(check(required)) + " — moto changed: update deployer/local to match")
    for patch in broken:
        consequence = "slower" if patch.kind is Kind.SPEED else "noisier"
        warnings.warn(f"emulator runs {consequence}: {patch.problem()} ({patch.kind.value} patch skipped)",
                      RuntimeWarning, stacklevel=3)
    with ExitStack() as stack:
        for patch in patches:
            if patch not in broken:
                stack.enter_context(_replacing_one(patch))
        yield


def original(target: object, name: str):
    """moto's ``target.name``, for a replacement to call; None where moto has none, for then ``installed``
    never installs that replacement (it skips a speed patch, refuses a required one), so declaring the patches
    never fails before ``check`` can say what changed."""
    return getattr(target, name, None)


def parameters_of(function: Callable) -> tuple[str, ...]:
    """The parameter names of ``function`` (for declaring a patch against the code in front of you)."""
    return tuple(inspect.signature(function).parameters)
