"""The emulator's moto patches fail loudly when moto changes (fidelity) or degrade to slower (speed)."""

from __future__ import annotations

import pytest

from deployer.local.patching import Kind, Patch, PatchTargetChanged, check, installed


class FakeBackend:
    """Stands in for a moto class across an upgrade."""

    def publish_version(self, name_or_arn, description=""):
        return ("moto", name_or_arn)


def _ours(self, name_or_arn, description=""):
    return ("patched", name_or_arn)


def test_a_patch_that_fits_is_installed_for_the_block_only():
    patch = Patch(FakeBackend, "publish_version", _ours, ("self", "name_or_arn", "description"))
    assert check([patch]) == []
    with installed([patch]):
        assert FakeBackend().publish_version("fn") == ("patched", "fn")
    assert FakeBackend().publish_version("fn") == ("moto", "fn")


def test_a_renamed_attribute_stops_the_emulator_before_anything_is_patched():
    speed = Patch(FakeBackend, "publish_version", _ours, ("self", "name_or_arn", "description"), Kind.SPEED)
    renamed = Patch(FakeBackend, "publish_function_version", _ours, ("self", "name_or_arn", "description"))
    assert check([renamed]) == [f"fidelity patch: {__name__}.FakeBackend."
                                "publish_function_version no longer exists"]
    with pytest.raises(PatchTargetChanged, match="publish_function_version no longer exists"), \
            installed([speed, renamed]):
        pass  # pragma: no cover - never entered
    assert FakeBackend().publish_version("fn") == ("moto", "fn")


def test_a_changed_signature_is_reported_with_both_parameter_lists():
    stale = Patch(FakeBackend, "publish_version", _ours, ("self", "name_or_arn"))
    assert check([stale]) == [f"fidelity patch: {__name__}.FakeBackend.publish_version now "
                              "takes (self, name_or_arn, description), the patch expects (self, name_or_arn)"]


def test_a_speed_patch_that_no_longer_fits_is_skipped_with_a_warning_and_the_rest_still_apply():
    gone = Patch(FakeBackend, "parse_once", lambda self: None, ("self",), Kind.SPEED)
    fits = Patch(FakeBackend, "publish_version", _ours, ("self", "name_or_arn", "description"))
    with pytest.warns(RuntimeWarning, match="emulator runs slower: .*parse_once no longer exists"), \
            installed([gone, fits]):
        assert FakeBackend().publish_version("fn") == ("patched", "fn")
        assert not hasattr(FakeBackend, "parse_once")
