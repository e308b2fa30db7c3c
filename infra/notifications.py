"""An SNS topic for people: the deployer's events as one-line messages, and its own alarms (optional).

An EventBridge rule on source ``lambda-deployer`` (the default bus) publishes each event's ``summary``
through an input transformer ("<detail-type>: <summary>"), so email, chat (AWS Chatbot, Slack or Teams
webhooks behind SNS) and pagers work without code; the events themselves are docs/events.md.

The topic is encrypted with its own customer managed key: EventBridge and CloudWatch cannot publish to a
topic under the AWS managed key (aws/sns), whose policy they cannot be added to ("Enable compatibility
between event sources from AWS services and encrypted topics", Amazon SNS developer guide). Who may publish
is decided by the topic policy, with the confused-deputy conditions each service documents: EventBridge
only for this rule (``aws:SourceArn``), CloudWatch only for this deployer's alarms; publishing takes TLS.
"""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from handlers.domain.notifications import SOURCE

MESSAGE = events.RuleTargetInput.from_text(
    f"{events.EventField.from_path('$.detail-type')}: {events.EventField.from_path('$.detail.summary')}")
PUBLISHERS = ("events.amazonaws.com", "cloudwatch.amazonaws.com")


@jsii.implements(events.IRuleTarget)
class _Topic:
    """The topic as the rule's target, without the unconditioned publish grant CDK's SnsTopic target adds."""

    def __init__(self, topic: sns.ITopic) -> None:
        self.topic = topic

    def bind(self, rule: events.IRule, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self.topic.topic_arn, input=MESSAGE)


class Notifications(Construct):
    """The topic, its key, the rule that feeds it, and an email subscription per address."""

    def __init__(self, scope: Construct, id: str, *, alarm_name_prefix: str, emails: Sequence[str] = ()) -> None:
        """``alarm_name_prefix``: the deployer's alarms (``<prefix>*``) may publish here too."""
        super().__init__(scope, id)
        self.key = kms.Key(self, "Key", enable_key_rotation=True,
                           description="lambda-deployer notifications topic (EventBridge and CloudWatch publish)")
        # The services encrypt what they publish with the topic's key; which topic they may publish to, and for
        # whom, the topic policy decides (below).
        self.key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal(service) for service in PUBLISHERS],
            actions=["kms:GenerateDataKey*", "kms:Decrypt"], resources=["*"],  # "*" in a key policy: this key
        ))
        self.topic = sns.Topic(self, "Topic", display_name="lambda-deployer", master_key=self.key, enforce_ssl=True)
        self.rule = events.Rule(
            self, "Rule", description="lambda-deployer's lifecycle events, as short messages, to its topic",
            event_pattern=events.EventPattern(source=[SOURCE]), targets=[_Topic(self.topic)],
        )
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            sid="EventBridgeForTheDeployersRule", principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["sns:Publish"], resources=[self.topic.topic_arn],
            conditions={"ArnEquals": {"aws:SourceArn": self.rule.rule_arn}},
        ))
        alarms = Stack.of(self).format_arn(service="cloudwatch", resource="alarm",
                                           resource_name=f"{alarm_name_prefix}*",
                                           arn_format=ArnFormat.COLON_RESOURCE_NAME)
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchForTheDeployersAlarms", principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"], resources=[self.topic.topic_arn],
            conditions={"ArnLike": {"aws:SourceArn": alarms}, "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        ))
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
