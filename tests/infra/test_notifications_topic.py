"""The optional topic: the deployer's events as short messages, encrypted, published to only by its own rule and
its own alarms; off unless asked for."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match
from moto.events.models import EventPattern
from synthesized import configured_deployer, default_deployer  # noqa: F401 (fixtures)

from handlers.domain import notifications as n
from handlers.domain.images import parse_image_uri
from handlers.domain.model import Deployment, Stable
from handlers.domain.strategy import Plan, Step
from infra.nag import render

REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders"
DEPLOYMENT = Deployment(
    function_name="orders-api", function_arn="arn:aws:lambda:eu-west-1:123456789012:function:orders-api",
    alias="live", alias_exists=True, target=parse_image_uri(f"{REPOSITORY}@sha256:{'b' * 64}"),
    stable=Stable("1", f"{REPOSITORY}@sha256:{'a' * 64}", f"sha256:{'a' * 64}"), latest_image=None,
    plan=Plan("Canary10Percent5Minutes", (Step(10, 300),)), check_interval_seconds=60,
)


def topic_rule(synth) -> dict:
    (topic,) = synth.of_type("AWS::SNS::Topic")
    (rule,) = [r["Properties"] for r in synth.of_type("AWS::Events::Rule").values()
               if r["Properties"]["Targets"][0]["Arn"] == {"Ref": topic}]
    return rule


def event_of(notification: n.Notification) -> dict:
    """The event EventBridge delivers for a notification the handlers sent."""
    return {"version": "0", "id": "1", "detail-type": notification.detail_type, "source": n.SOURCE,
            "account": "123456789012", "time": "2026-12-01T10:00:00Z", "region": "eu-west-1",
            "resources": notification.resources, "detail": notification.detail()}


def test_every_notification_reaches_the_topic_as_its_type_and_summary(configured):
    rule = topic_rule(configured)
    (target,) = rule["Targets"]
    pattern = EventPattern.load(json.dumps(rule["EventPattern"]))
    shifted = n.traffic_shifted(DEPLOYMENT, "2", 10, 0, "arn:aws:states:eu-west-1:123456789012:execution:x:run")

    assert pattern.matches_event(event_of(shifted))
    assert not pattern.matches_event({**event_of(shifted), "source": "aws.states"})
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {"detail-type": "$.detail-type", "detail-summary": "$.detail.summary"}
    assert transformer["InputTemplate"] == '"<detail-type>: <detail-summary>"'
    assert "RoleArn" not in target  # SNS is authorized by its topic policy (EventBridge, resource-based policies)


def test_the_topic_is_encrypted_with_its_own_rotating_key_and_takes_tls_only(configured):
    (key,) = configured.of_type("AWS::KMS::Key")
    (topic,) = configured.of_type("AWS::SNS::Topic").values()

    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    assert configured.resources[key]["Properties"]["EnableKeyRotation"] is True
    services = [s for s in configured.resources[key]["Properties"]["KeyPolicy"]["Statement"]
                if "Service" in s["Principal"]]
    assert [(sorted(s["Principal"]["Service"]), sorted(s["Action"])) for s in services] == [
        (["cloudwatch.amazonaws.com", "events.amazonaws.com"], ["kms:Decrypt", "kms:GenerateDataKey*"])]


def test_only_the_deployers_rule_and_alarms_may_publish(configured):
    (rule,) = [id for id, r in configured.of_type("AWS::Events::Rule").items()
               if r["Properties"] == topic_rule(configured)]
    (policy,) = configured.of_type("AWS::SNS::TopicPolicy").values()
    statements = {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}

    allowed = [s for s in statements.values() if s["Effect"] == "Allow"]
    assert {json.dumps(s["Principal"]) for s in allowed} == {
        '{"Service": "events.amazonaws.com"}', '{"Service": "cloudwatch.amazonaws.com"}'}
    assert all(s["Action"] == "sns:Publish" for s in allowed)
    assert statements["EventBridgeForTheDeployersRule"]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule, "Arn"]}}}
    alarms = statements["CloudWatchForTheDeployersAlarms"]["Condition"]
    assert render(alarms["ArnLike"]["aws:SourceArn"]) == (
        "arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:deployer-under-test-*")
    assert alarms["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert all(a["Properties"]["AlarmName"].startswith("deployer-under-test-")
               for a in configured.of_type("AWS::CloudWatch::Alarm").values())
    denied = [s for s in statements.values() if s["Effect"] == "Deny"]
    assert denied and denied[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_each_address_is_subscribed_by_email(configured):
    (topic,) = configured.of_type("AWS::SNS::Topic")
    for address in ("oncall@example.com", "team@example.com"):
        configured.template.has_resource_properties("AWS::SNS::Subscription", {
            "Protocol": "email", "Endpoint": address, "TopicArn": {"Ref": topic}})


def test_without_the_setting_there_is_no_topic_and_the_events_still_go_to_the_default_bus(defaults):
    assert defaults.of_type("AWS::SNS::Topic") == {} and defaults.of_type("AWS::KMS::Key") == {}
    defaults.template.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Action": "events:PutEvents", "Resource": {"Fn::Join": ["", Match.array_with([
            ":event-bus/default"])]}})])}})
