"""Auto-deploy rules: a configured tag push starts the state machine; the deployer's own retags never do.

Events have the shape EventBridge delivers for ECR pushes; the synthesized patterns are matched offline
with moto's EventBridge pattern matcher. An event starts a deployment when it passes both chained rules.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match
from moto.events.models import EventPattern
from synthesized import configured_deployer, default_deployer  # noqa: F401 (fixtures)

from handlers.domain.events import InvalidAutoDeploy, check_triggers, trigger_pattern
from infra.nag import render

RULE = "AWS::Events::Rule"


def push(repository: str = "orders", tag: str = "main", *, action: str = "PUSH", result: str = "SUCCESS") -> dict:
    return {
        "version": "0",
        "id": "13cde686-328b-6117-af20-0e5566167482",
        "detail-type": "ECR Image Action",
        "source": "aws.ecr",
        "account": "123456789012",
        "time": "2026-11-22T10:15:30Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "result": result,
            "repository-name": repository,
            "image-digest": "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd",
            "action-type": action,
            "image-tag": tag,
        },
    }


@pytest.fixture(scope="module")
def rules(configured) -> dict[str, dict]:
    """``forward`` (default bus) and ``start`` (deployer bus) rules, by where they listen."""
    found = {"start" if "EventBusName" in r["Properties"] else "forward": r["Properties"]
             for r in configured.of_type(RULE).values()
             if r["Properties"].get("EventPattern", {}).get("source") == ["aws.ecr"]}
    assert set(found) == {"forward", "start"}
    return found


def matches(rule: dict, event: dict) -> bool:
    return EventPattern.load(json.dumps(rule["EventPattern"])).matches_event(event)


def starts_deployment(rules: dict, event: dict) -> bool:
    return matches(rules["forward"], event) and matches(rules["start"], event)


@pytest.mark.parametrize("event", [
    push("orders", "main"),
    push("orders", "release-2.4.1"),
    push("payments", "release-9"),
    push("billing", "prod"),
], ids=lambda e: f"{e['detail']['repository-name']}:{e['detail']['image-tag']}")
def test_a_configured_tag_push_starts_a_deployment(rules, event):
    assert starts_deployment(rules, event)


@pytest.mark.parametrize("event", [
    pytest.param(push("orders", "orders-api"), id="the deployer's function-name tag"),
    pytest.param(push("orders", "orders-api.previous"), id="the deployer's previous tag"),
    pytest.param(push("orders", "release-2.previous"), id="a previous tag matching a trigger wildcard"),
    pytest.param(push("orders", "release-api.v12.previous"), id="a kept version's tag matching a trigger wildcard"),
    pytest.param(push("billing", "main"), id="a tag configured for another repository"),
    pytest.param(push("inventory", "main"), id="a repository without auto-deploy"),
    pytest.param(push("orders", "main", action="DELETE"), id="a deletion"),
    pytest.param(push("orders", "main", result="FAILURE"), id="a failed push"),
])
def test_other_pushes_start_nothing(rules, event):
    assert not starts_deployment(rules, event)


def test_the_previous_exclusion_needs_the_forwarding_rule(rules):
    """EventBridge cannot AND two filters on one field: the trigger rule alone would match this retag."""
    retag = push("orders", "release-2.previous")
    assert matches(rules["start"], retag)
    assert not matches(rules["forward"], retag)


def test_rules_chain_through_the_deployer_bus_into_the_state_machine_with_the_raw_event(configured, rules):
    (bus,) = configured.of_type("AWS::Events::EventBus")
    (state_machine,) = configured.of_type("AWS::StepFunctions::StateMachine")
    (forward,), (start,) = rules["forward"]["Targets"], rules["start"]["Targets"]

    assert "EventBusName" not in rules["forward"]  # the default bus, where ECR publishes
    assert forward["Arn"] == {"Fn::GetAtt": [bus, "Arn"]}
    assert rules["start"]["EventBusName"] == {"Ref": bus}
    assert start["Arn"] == {"Ref": state_machine}
    assert not {"Input", "InputPath", "InputTransformer"} & set(start)  # the raw ECR event is the input


def test_eventbridge_may_only_start_this_state_machine_and_forward_to_this_bus(configured, rules):
    (bus,) = configured.of_type("AWS::Events::EventBus")
    (state_machine,) = configured.of_type("AWS::StepFunctions::StateMachine")
    none = json.dumps({})

    def role_grants(rule: str) -> set:
        role = rules[rule]["Targets"][0]["RoleArn"]["Fn::GetAtt"][0]
        principal = configured.resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        assert principal == {"Service": "events.amazonaws.com"}
        return configured.grants(configured.statements(role))

    assert role_grants("start") == {("states:StartExecution", f"<{state_machine}>", none)}
    assert role_grants("forward") == {("events:PutEvents", f"<{bus}.Arn>", none)}


def test_eventbridge_may_assume_each_rule_role_only_for_that_rule_in_this_account(configured, rules):
    """Not for any rule of any account (the confused deputy): aws:SourceArn is the rule's own ARN, which for a
    rule on another bus than the default one names the bus too."""
    (bus,) = configured.of_type("AWS::Events::EventBus")
    expected = {"forward": f"rule/{rules['forward']['Name']}", "start": f"rule/<{bus}>/{rules['start']['Name']}"}
    for rule, resource in expected.items():
        role = rules[rule]["Targets"][0]["RoleArn"]["Fn::GetAtt"][0]
        (trust,) = configured.resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert render(trust["Condition"]["ArnEquals"]["aws:SourceArn"]) == (
            f"arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:{resource}")
    configured.template.resource_properties_count_is("AWS::IAM::Role", {"AssumeRolePolicyDocument": {
        "Statement": [Match.object_like({
            "Principal": {"Service": "events.amazonaws.com"},
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                          "ArnEquals": {"aws:SourceArn": Match.any_value()}},
        })],
    }}, 2)
    configured.template.resource_properties_count_is("AWS::IAM::Role", {"AssumeRolePolicyDocument": {
        "Statement": Match.array_with([Match.object_like({"Principal": {"Service": "events.amazonaws.com"}})]),
    }}, 2)  # no other role trusts EventBridge


def test_without_auto_deploy_there_is_no_push_rule_and_no_bus(defaults):
    rules = [r["Properties"] for r in defaults.of_type(RULE).values()]
    assert not [r for r in rules if "aws.ecr" in json.dumps(r.get("EventPattern", {}))]
    defaults.template.resource_count_is("AWS::Events::EventBus", 0)


def test_repositories_with_the_same_patterns_share_one_branch_and_one_repository_needs_no_or():
    shared = trigger_pattern({"orders": ("main",), "payments": ("main",)})["detail"]
    single = trigger_pattern({"orders": ("main", "release-*")})["detail"]

    assert shared["repository-name"] == ["orders", "payments"]
    assert "$or" not in single
    assert single["image-tag"] == ["main", {"wildcard": "release-*"}]


@pytest.mark.parametrize("triggers, problem", [
    (["main"], "must map ECR repository names to lists of tag patterns"),
    ({"orders": "main"}, "non-empty list of tag patterns"),
    ({"orders": []}, "non-empty list of tag patterns"),
    ({"orders": ["*"]}, "matches every tag, including the <function-name> tags"),
    ({"orders": ["**"]}, "not a tag wildcard"),
    ({"orders": ["release**"]}, "not a tag wildcard"),
    ({"orders": ["orders-api.previous"]}, "tags ending in .previous are the deployer's own"),
    ({"orders": ["has space"]}, "not an ECR image tag"),
    ({"orders": [7]}, "not a tag pattern"),
    ({"Orders": ["main"]}, "not an ECR repository name"),
    ({"inventory": ["main"]}, "not among the repositories the deployer may retag"),
])
def test_an_invalid_trigger_fails_the_synth_saying_what_to_change(triggers, problem):
    with pytest.raises(InvalidAutoDeploy, match=problem):
        check_triggers(triggers, repositories=["orders", "payments", "Orders"])


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidAutoDeploy) as raised:
        check_triggers({"orders": ["*", "x.previous"], "inventory": ["main"]}, repositories=["orders"])
    message = str(raised.value)
    assert "'*' matches every tag" in message and "'x.previous'" in message and "'inventory'" in message


def test_triggers_are_normalized():
    assert check_triggers({"orders": ["main", "main", "v*"]}, repositories=["*"]) == {"orders": ("main", "v*")}
