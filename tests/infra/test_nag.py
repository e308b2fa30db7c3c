"""cdk-nag (AWS Solutions) finds nothing left: what is not fixed is acknowledged where it is made, with a reason."""

from __future__ import annotations

import pytest
from aws_cdk import Validations
from cdk_nag import AwsSolutionsChecks
from synthesized import configured_deployer, default_deployer  # noqa: F401 (fixtures)

GENERIC = {"ok", "fine", "todo", "n/a", "na", "none", "suppressed", "acknowledged", "required", "needed", "by design"}


@pytest.fixture(params=["configured", "defaults"])
def synth(request):
    return request.getfixturevalue(request.param)


def acknowledgements(synth) -> dict[tuple[str, str], object]:
    return {(construct.node.path, rule): reason
            for construct in synth.stack.node.find_all()
            for entry in construct.node.metadata if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY
            for rule, reason in entry.data.items()}


def test_aws_solutions_checks_leave_no_finding(synth):
    report = AwsSolutionsChecks().validate_scope(synth.stack)

    findings = [f"{v.severity} {v.rule_name} at {[r.construct_path for r in v.violating_resources]}"
                for v in report.violations]
    assert findings == []


def test_every_acknowledgement_says_why(synth):
    found = acknowledgements(synth)

    assert len(found) >= 12  # each task role, the state machine role, the CI policy
    for (path, rule), reason in found.items():
        assert isinstance(reason, str), (path, rule)
        assert len(reason.split()) >= 8 and reason.strip(" .").lower() not in GENERIC, (path, rule, reason)


def test_only_iam_wildcards_and_the_dead_letter_queue_being_one_are_acknowledged(synth):
    found = acknowledgements(synth)
    others = {(path, rule) for path, rule in found if not rule.startswith("Annotation::AwsSolutions-IAM5[Resource::")}
    assert {rule for _, rule in others} == {"Annotation::AwsSolutions-SQS3"}, others
    assert [path for path, _ in others] == [synth.stack.deployer.safety_net.dead_letters.node.path]
