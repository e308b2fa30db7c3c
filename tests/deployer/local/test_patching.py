"""The emulator's moto patches fail loudly when moto changes (fidelity) or degrade to slower (speed)."""

from __future__ import annotations

import os

import pytest
from moto.awslambda.models import LambdaAlias, LambdaFunction
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from support import make_world

from deployer.local.emulator import Emulator
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


def test_a_helper_the_replacement_calls_that_moto_renamed_is_reported():
    patch = Patch(FakeBackend, "publish_version", _ours, ("self", "name_or_arn", "description"), uses=("_resolve",))
    assert check([patch]) == [f"fidelity patch: {__name__}.FakeBackend.publish_version's replacement calls "
                              "_resolve, which moto no longer has there"]


def test_an_api_the_emulator_adds_is_added_for_the_block_and_reported_once_moto_has_its_own():
    added = Patch(FakeBackend, "describe_history", lambda self: ["emulated"], None, adds=True)
    assert check([added]) == []
    with installed([added]):
        assert FakeBackend().describe_history() == ["emulated"]
    assert not hasattr(FakeBackend, "describe_history")
    grown = Patch(FakeBackend, "publish_version", _ours, None, adds=True)
    assert check([grown]) == [f"fidelity patch: {__name__}.FakeBackend.publish_version now exists: the emulator "
                              "adds its own; see whether moto's answers as AWS does"]


@pytest.mark.parametrize(("kind", "consequence"), [(Kind.FIDELITY, None), (Kind.FACILITY, None),
                                                   (Kind.SPEED, "slower"), (Kind.QUIET, "noisier")])
def test_only_what_leaves_the_emulator_right_may_be_skipped(kind, consequence):
    """Fidelity (AWS's behaviour) and facility (an option asked for) patches must fit; speed and quiet may go."""
    gone = Patch(FakeBackend, "parse_once", lambda self: None, ("self",), kind)
    if consequence is None:
        with pytest.raises(PatchTargetChanged, match=f"{kind.value} patch: .*parse_once no longer exists"), \
                installed([gone]):
            pass  # pragma: no cover - never entered
    else:
        with pytest.warns(RuntimeWarning, match=f"emulator runs {consequence}: .*parse_once no longer exists"), \
                installed([gone]):
            pass


def test_a_skipped_speed_patch_leaves_the_fidelity_patch_of_the_same_attribute_in_place():
    """The emulator's client cache lies over the fidelity patch that marks Step Functions' own clients."""
    fidelity = Patch(FakeBackend, "publish_version", _ours, ("self", "name_or_arn", "description"))
    stale_speed = Patch(FakeBackend, "publish_version", lambda self, name_or_arn: ("cached", name_or_arn),
                        ("self", "name_or_arn"), Kind.SPEED)
    with pytest.warns(RuntimeWarning, match="emulator runs slower"), installed([fidelity, stale_speed]):
        assert FakeBackend().publish_version("fn") == ("patched", "fn")
    assert FakeBackend().publish_version("fn") == ("moto", "fn")


def test_patches_are_judged_on_motos_own_attributes_while_installed():
    """A second emulator in the process sees moto's attributes, not the first one's replacements."""
    wider = Patch(FakeBackend, "publish_version", lambda self, *args, **kwargs: "wider",
                  ("self", "name_or_arn", "description"))
    added = Patch(FakeBackend, "describe_history", lambda self: [], None, adds=True)
    with installed([wider, added]):
        assert check([wider, added]) == []
        with installed([wider, added]):
            assert FakeBackend().publish_version("fn") == "wider"
        assert FakeBackend().publish_version("fn") == "wider"
    assert FakeBackend().publish_version("fn") == ("moto", "fn")
    assert not hasattr(FakeBackend, "describe_history")


# --- the emulator's own patches, against the installed moto ----------------------------------------------

@pytest.mark.slow
def test_every_patch_the_emulator_declares_fits_the_installed_moto():
    """Every option that adds patches is on (time scales, quotas), so every declaration is checked."""
    declared = Emulator(time_scale=0.5, timeout_scale=0.5, quotas=True).patches()
    assert check(declared) == []
    assert {patch.kind for patch in declared} == set(Kind)
    with Emulator(time_scale=0.5, timeout_scale=0.5, quotas=True):  # every one of them installed meanwhile
        assert check(declared) == []


@pytest.mark.slow
def test_a_required_moto_attribute_that_is_gone_stops_the_emulator_and_leaves_everything_as_it_was(monkeypatch):
    monkeypatch.delattr(LambdaAlias, "update")
    moto_configuration, environment = LambdaFunction.get_configuration, dict(os.environ)
    with pytest.raises(PatchTargetChanged, match=r"fidelity patch: .*LambdaAlias\.update no longer exists"):
        Emulator().start()
    assert LambdaFunction.get_configuration is moto_configuration  # nothing was patched
    assert dict(os.environ) == environment  # moto's mock and the emulator's environment are gone again


@pytest.mark.slow
def test_a_speed_patch_whose_target_moto_moved_is_skipped_and_deployments_still_succeed(monkeypatch):
    """As if moto had moved ``ExecutionWorker._get_evaluation_entrypoint`` where the emulator cannot see it:
    the class no longer has it, moto's executions still reach it. The emulator warns, parses the ASL at every
    execution (slower) and deploys as before (not wrong)."""
    parse, parses = ExecutionWorker._get_evaluation_entrypoint, []

    def moved(self, name):
        if name != "_get_evaluation_entrypoint":
            raise AttributeError(name)
        parses.append(self)
        return parse.__get__(self)

    monkeypatch.delattr(ExecutionWorker, "_get_evaluation_entrypoint")
    monkeypatch.setattr(ExecutionWorker, "__getattr__", moved, raising=False)
    with pytest.warns(RuntimeWarning, match="emulator runs slower: .*_get_evaluation_entrypoint no longer exists"):
        emulator = Emulator(time_scale=0.05).start()
    try:
        world = make_world(emulator)
        for digest, version in ((world.v2, "2"), (world.v3, "3")):
            execution = emulator.run(world.request(digest, strategy="AllAtOnce"))
            assert execution.status == "SUCCEEDED", execution.cause
            assert world.settled_on() == version
    finally:
        emulator.stop()
    assert len(parses) == 2  # once per execution: the parse cache was left out
