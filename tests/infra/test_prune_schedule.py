"""The optional prune schedule: nothing unless configured; then one daily rule per function, staggered, each
starting a prune of its function on this state machine with a role that can do nothing else."""

from __future__ import annotations

import json

import pytest
from synthesized import default_deployer, synthesized  # noqa: F401 (fixture)

from infra.errors import ConfigurationError
from infra.prune_schedule import PruneSchedule

RULE = "AWS::Events::Rule"


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory):
    return synthesized("pruned", {"repositories": "orders", "pruneSchedule": json.dumps(
        {"functions": ["orders-api", "billing"], "keep": 5, "hour": 23})}, tmp_path_factory)


def prune_rules(synth) -> list[dict]:
    return [r["Properties"] for r in synth.of_type(RULE).values()
            if json.loads(r["Properties"].get("Targets", [{}])[0].get("Input") or "{}").get("action") == "prune"]


def test_no_prune_rule_unless_configured(defaults):
    assert prune_rules(defaults) == []


def test_each_function_gets_a_daily_rule_five_minutes_after_the_one_before(scheduled):
    rules = sorted(prune_rules(scheduled), key=lambda r: r["Name"])
    assert [r["ScheduleExpression"] for r in rules] == ["cron(0 23 * * ? *)", "cron(5 23 * * ? *)"]
    inputs = [json.loads(r["Targets"][0]["Input"]) for r in rules]
    assert inputs == [{"action": "prune", "function": f, "keep": 5, "requestedBy": "schedule"}
                      for f in ("orders-api", "billing")]


def test_each_rules_role_starts_this_state_machine_only_and_trusts_that_rule_only(scheduled):
    for rule in prune_rules(scheduled):
        role = rule["Targets"][0]["RoleArn"]["Fn::GetAtt"][0]
        grants = scheduled.grants(scheduled.statements(role))
        assert {action for action, _, _ in grants} == {"states:StartExecution"}
        trust = scheduled.resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
        assert json.dumps(trust["Condition"]["ArnEquals"]["aws:SourceArn"]).count(rule["Name"]) == 1


@pytest.mark.parametrize(("value", "message"), [
    ({"functions": []}, "functions"), ({"functions": ["a"], "keep": 0}, "keep"),
    ({"functions": ["a"], "hour": 24}, "hour"), ({"functions": ["a"], "every": 1}, "pruneSchedule"),
])
def test_a_bad_schedule_fails_the_synth_with_what_to_fix(value, message):
    with pytest.raises(ConfigurationError, match=message):
        PruneSchedule.from_json(value)
