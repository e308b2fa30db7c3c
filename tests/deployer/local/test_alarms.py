"""CloudWatch alarms evaluate in the emulator as in AWS (deployer/local/alarms.py): from their datapoints,
on a schedule scaled by ``time_scale``, with every state change sent to EventBridge."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from support import wait_for

from deployer.local.emulator import Emulator
from deployer.local.iam import ACCOUNT

FUNCTION = [{"Name": "FunctionName", "Value": "orders-api"}]


def errors_alarm(cloudwatch, name: str = "orders-api-errors", **settings) -> str:
    cloudwatch.put_metric_alarm(**{
        "AlarmName": name, "Namespace": "AWS/Lambda", "MetricName": "Errors", "Dimensions": FUNCTION,
        "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 5,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching", **settings})
    return cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]


def described(cloudwatch, name: str = "orders-api-errors") -> dict:
    return cloudwatch.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm", "CompositeAlarm"])


def state_of(cloudwatch, name: str = "orders-api-errors") -> str:
    found = described(cloudwatch, name)
    return [*found["MetricAlarms"], *found["CompositeAlarms"]][0]["StateValue"]


class Inbox:
    """An SQS queue behind an EventBridge rule on every CloudWatch alarm state change."""

    def __init__(self, emulator: Emulator) -> None:
        self.sqs, bridge = emulator.client("sqs"), emulator.client("events")
        self.url = self.sqs.create_queue(QueueName="alarm-changes")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bridge.put_rule(Name="alarm-changes", EventPattern=json.dumps(
            {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}))
        bridge.put_targets(Rule="alarm-changes", Targets=[{"Id": "inbox", "Arn": arn}])
        self.events: list[dict] = []

    def event(self, alarm: str, state: str, previous: str | None = None, timeout: float = 15.0) -> dict:
        def arrived():
            for message in self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
                self.events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
            return next((e for e in self.events if e["detail"]["alarmName"] == alarm
                         and e["detail"]["state"]["value"] == state
                         and previous in (None, e["detail"]["previousState"]["value"])), None)

        return wait_for(arrived, timeout, what=f"{alarm} → {state} on EventBridge")


def test_errors_rising_drive_an_alarm_to_alarm_and_its_event_reaches_eventbridge(fast_emulator):
    cloudwatch, inbox = fast_emulator.client("cloudwatch"), Inbox(fast_emulator)
    arn = errors_alarm(cloudwatch)
    wait_for(lambda: state_of(cloudwatch) == "OK", what="the first evaluation")  # no errors: not breaching

    cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Errors", "Dimensions": FUNCTION, "Value": value} for value in (1, 2, 4)])
    cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[  # another function's errors do not count
        {"MetricName": "Errors", "Dimensions": [{"Name": "FunctionName", "Value": "other"}], "Value": 50}])
    event = inbox.event("orders-api-errors", "ALARM")

    assert (event["source"], event["detail-type"], event["resources"]) == \
        ("aws.cloudwatch", "CloudWatch Alarm State Change", [arn])
    detail = event["detail"]
    assert detail["previousState"]["value"] == "OK"
    assert detail["state"]["reason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [7.0 (")
    assert detail["state"]["reason"].endswith("was greater than or equal to the threshold (5.0) (minimum 1 datapoint "
                                              "for OK -> ALARM transition).")
    assert json.loads(detail["state"]["reasonData"])["recentDatapoints"] == [7.0]
    assert detail["configuration"]["metrics"][0]["metricStat"] == {
        "metric": {"dimensions": {"FunctionName": "orders-api"}, "name": "Errors", "namespace": "AWS/Lambda"},
        "period": 60, "stat": "Sum"}
    alarm = described(cloudwatch)["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", detail["state"]["reason"])
    assert alarm["StateTransitionedTimestamp"] == alarm["StateUpdatedTimestamp"]
    summaries = [item["HistorySummary"] for item in
                 cloudwatch.describe_alarm_history(AlarmName="orders-api-errors")["AlarmHistoryItems"]]
    assert summaries == ["Alarm updated from OK to ALARM", "Alarm updated from INSUFFICIENT_DATA to OK"]


def test_a_period_covers_time_scale_times_its_length_in_real_seconds(fast_emulator):
    """At time_scale 0.05 a 60 s period is 3 real seconds, aligned on multiples of 3 s since the epoch."""
    cloudwatch = fast_emulator.client("cloudwatch")
    errors_alarm(cloudwatch, Threshold=1)
    sent = datetime.now(UTC).timestamp()
    cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Errors", "Dimensions": FUNCTION, "Value": 1}])
    answered = datetime.now(UTC).timestamp()  # the datapoint is stamped between the two
    wait_for(lambda: state_of(cloudwatch) == "ALARM", what="the alarm")

    data = json.loads(described(cloudwatch)["MetricAlarms"][0]["StateReasonData"])
    start = datetime.strptime(data["startDate"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    assert start % 3 == 0 and start - 0.01 <= answered and sent < start + 3  # its 3 s period holds the datapoint
    assert data["period"] == 60  # the configured period, as the alarm states it


def test_percentile_alarms_judge_the_observed_percentile(fast_emulator):
    cloudwatch = fast_emulator.client("cloudwatch")
    for name, threshold in (("p99-above-98", 98.5), ("p99-above-99", 99)):
        cloudwatch.put_metric_alarm(AlarmName=name, Namespace="AWS/Lambda", MetricName="Duration",
                                    Dimensions=FUNCTION, ExtendedStatistic="p99", Period=60, EvaluationPeriods=1,
                                    Threshold=threshold, ComparisonOperator="GreaterThanThreshold",
                                    TreatMissingData="notBreaching")
    wait_for(lambda: state_of(cloudwatch, "p99-above-99") == "OK", what="the first evaluation")
    cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Duration", "Dimensions": FUNCTION, "Values": [float(v) for v in range(1, 101)],
         "Unit": "Milliseconds"}])

    alarm = wait_for(lambda: (a := described(cloudwatch, "p99-above-98")["MetricAlarms"][0])["StateValue"] == "ALARM"
                     and a, what="the p99 alarm")
    assert "[99.0 (" in alarm["StateReason"]
    assert json.loads(alarm["StateReasonData"])["evaluatedDatapoints"][0]["sampleCount"] == 100.0
    assert state_of(cloudwatch, "p99-above-99") == "OK"  # evaluated in the same period: 99 is not above 99


def test_a_hand_set_state_emits_its_event_and_lasts_until_the_next_evaluation(fast_emulator):
    cloudwatch, inbox = fast_emulator.client("cloudwatch"), Inbox(fast_emulator)
    arn = errors_alarm(cloudwatch)
    wait_for(lambda: state_of(cloudwatch) == "OK", what="the first evaluation")

    cloudwatch.set_alarm_state(AlarmName="orders-api-errors", StateValue="ALARM", StateReason="set by the test")
    fired = inbox.event("orders-api-errors", "ALARM")
    assert fired["resources"] == [arn]
    assert fired["detail"]["state"]["reason"] == "set by the test" and "reasonData" not in fired["detail"]["state"]
    assert fired["detail"]["previousState"]["value"] == "OK"

    # no errors at all: the next evaluation undoes the hand-set state
    back = inbox.event("orders-api-errors", "OK", previous="ALARM")
    assert back["detail"]["previousState"]["reason"] == "set by the test"
    lasted = datetime.fromisoformat(back["detail"]["state"]["timestamp"]) - \
        datetime.fromisoformat(fired["detail"]["state"]["timestamp"])
    assert lasted.total_seconds() >= 3  # at least one evaluation interval: 60 s x 0.05


@pytest.mark.slow
def test_a_new_alarm_starts_without_data_and_an_update_keeps_its_state():
    with Emulator(evaluate_alarms=False) as emulator:
        cloudwatch = emulator.client("cloudwatch")
        errors_alarm(cloudwatch)
        alarm = described(cloudwatch)["MetricAlarms"][0]
        assert (alarm["StateValue"], alarm["StateReason"]) == ("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation")
        cloudwatch.set_alarm_state(AlarmName="orders-api-errors", StateValue="ALARM", StateReason="by hand")
        errors_alarm(cloudwatch, Threshold=10)
        alarm = described(cloudwatch)["MetricAlarms"][0]
        assert (alarm["StateValue"], alarm["StateReason"], alarm["Threshold"]) == ("ALARM", "by hand", 10.0)


def test_a_composite_alarm_follows_its_rule_and_sends_its_own_event(emulator):
    cloudwatch, inbox = emulator.client("cloudwatch"), Inbox(emulator)
    errors = errors_alarm(cloudwatch)
    errors_alarm(cloudwatch, "deployment-in-progress")
    wait_for(lambda: state_of(cloudwatch) == state_of(cloudwatch, "deployment-in-progress") == "OK",
             what="the first evaluations")
    cloudwatch.put_composite_alarm(AlarmName="orders-api-health",
                                   AlarmRule='ALARM("orders-api-errors") AND NOT ALARM(deployment-in-progress)')
    assert state_of(cloudwatch, "orders-api-health") == "OK"
    assert cloudwatch.describe_alarms()["CompositeAlarms"] == []  # AlarmTypes omitted: metric alarms only

    cloudwatch.set_alarm_state(AlarmName="orders-api-errors", StateValue="ALARM", StateReason="errors")
    event = inbox.event("orders-api-health", "ALARM")
    assert event["detail"]["configuration"]["alarmRule"] == \
        'ALARM("orders-api-errors") AND NOT ALARM(deployment-in-progress)'
    assert event["detail"]["state"]["reason"].startswith(f"{errors} transitioned to ALARM at ")
    triggering = json.loads(event["detail"]["state"]["reasonData"])["triggeringAlarms"]
    assert [alarm["arn"] for alarm in triggering] == [errors]

    cloudwatch.set_alarm_state(AlarmName="deployment-in-progress", StateValue="ALARM", StateReason="deploying")
    assert state_of(cloudwatch, "orders-api-health") == "OK"
    with pytest.raises(cloudwatch.exceptions.ClientError) as refused:
        cloudwatch.put_composite_alarm(AlarmName="broken", AlarmRule="ALARM(a) AND")
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert refused.value.response["Error"]["Message"] == "AlarmRule 'ALARM(a) AND' is not a valid expression"


def rate_metrics(expression: str) -> list[dict]:
    def metric(name: str) -> dict:
        return {"Id": name.lower(), "ReturnData": False, "MetricStat": {"Period": 60, "Stat": "Sum", "Metric": {
            "Namespace": "AWS/Lambda", "MetricName": name, "Dimensions": FUNCTION}}}

    return [{"Id": "rate", "Expression": expression, "Label": "error rate", "ReturnData": True},
            metric("Errors"), metric("Invocations")]


def test_an_error_rate_alarm_fires_on_its_math_expression(fast_emulator):
    cloudwatch, inbox = fast_emulator.client("cloudwatch"), Inbox(fast_emulator)
    cloudwatch.put_metric_alarm(AlarmName="error-rate", EvaluationPeriods=1, Threshold=5,
                                ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
                                Metrics=rate_metrics("100 * errors / invocations"))
    wait_for(lambda: state_of(cloudwatch, "error-rate") == "OK", what="the first evaluation")
    cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Invocations", "Dimensions": FUNCTION, "Value": 20},
        {"MetricName": "Errors", "Dimensions": FUNCTION, "Value": 3}])

    event = inbox.event("error-rate", "ALARM")
    assert "[15.0 (" in event["detail"]["state"]["reason"]
    metrics = event["detail"]["configuration"]["metrics"]
    assert metrics[0] == {"id": "rate", "expression": "100 * errors / invocations", "label": "error rate",
                          "returnData": True}
    assert metrics[1]["metricStat"]["metric"]["name"] == "Errors" and metrics[1]["returnData"] is False


def test_an_alarm_the_emulator_cannot_evaluate_keeps_its_state_and_says_why(fast_emulator):
    cloudwatch = fast_emulator.client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName="spiky", EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanThreshold",
                                Metrics=rate_metrics("IF(errors > 1, 100, 0)"))
    reason = wait_for(lambda: fast_emulator.alarms.unsupported.get("spiky"), what="the refusal")
    assert "function IF" in reason
    assert state_of(cloudwatch, "spiky") == "INSUFFICIENT_DATA"
    cloudwatch.set_alarm_state(AlarmName="spiky", StateValue="ALARM", StateReason="by hand")
    assert state_of(cloudwatch, "spiky") == "ALARM"


@pytest.mark.slow
def test_a_late_evaluation_still_judges_every_period_it_missed():
    """CloudWatch evaluates on its schedule whatever happens to the emulator's thread: an evaluation that runs
    two instants late judges the instant it missed first (here the only one whose newest period breached)."""
    with Emulator(evaluate_alarms=False) as emu:
        cloudwatch, start = emu.client("cloudwatch"), (int(datetime.now(UTC).timestamp()) // 60 - 10) * 60
        emu.alarms.clock = lambda: start
        errors_alarm(cloudwatch, Threshold=1)
        emu.alarms.evaluate_now()
        assert state_of(cloudwatch) == "OK"
        cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[  # one per period: an error, then none
            {"MetricName": "Errors", "Dimensions": FUNCTION, "Value": value,
             "Timestamp": datetime.fromtimestamp(start + offset, UTC)} for value, offset in ((1, 30), (0, 90))])

        emu.alarms.clock = lambda: start + 125  # the evaluation due at +60 did not run
        emu.alarms.evaluate_now()

        history = cloudwatch.describe_alarm_history(AlarmName="orders-api-errors", ScanBy="TimestampAscending")
        assert [item["HistorySummary"] for item in history["AlarmHistoryItems"]] == [
            "Alarm updated from INSUFFICIENT_DATA to OK", "Alarm updated from OK to ALARM",
            "Alarm updated from ALARM to OK"]


@pytest.mark.slow
def test_late_lambda_metrics_reach_the_alarm_when_they_arrive_whoever_reads_them():
    """Lambda's metrics arrive late, by themselves: an alarm sees them although nobody queries CloudWatch."""
    with Emulator(time_scale=0.05, metric_delay_seconds=60) as emu:
        cloudwatch = emu.client("cloudwatch")
        errors_alarm(cloudwatch, Threshold=1)
        wait_for(lambda: state_of(cloudwatch) == "OK", what="the first evaluation")
        emu.metrics.record(ACCOUNT, emu.region, "orders-api", error=True)
        assert emu.metrics.pending()

        wait_for(lambda: state_of(cloudwatch) == "ALARM", timeout=15, every=0.2, what="the alarm")
