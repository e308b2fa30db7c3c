"""``lambda-deployer local demo``: under real traffic, v2 is promoted and v3 rolls back on the alarm its own
failing calls raise; nothing sets an alarm's state by hand."""

import ast
import io
import json
import re
from pathlib import Path

import pytest
from support import wait_for

from deployer.local import demo, sample, traffic

NUMBERS = re.compile(r"v(?P<version>\d+) [\d.]+% errors \((?P<errors>[\d,]+) of (?P<calls>[\d,]+)\)")


@pytest.mark.slow
def test_the_demo_deploys_v2_then_rolls_v3_back_on_the_alarm_its_failing_calls_raise():
    out = io.StringIO()
    with demo.emulator() as emu:
        code = demo.run(out, emu)
        prefix = emu.state_machine_arn.replace(":stateMachine:", ":execution:")
        v2, v3 = (emu.describe(f"{prefix}:demo-{label}") for label in ("v2", "v3"))
        cloudwatch = emu.client("cloudwatch")
        # A canary analysis may roll v3 back before the alarm's next evaluation; v3's errors raise it anyway
        # (they reach CloudWatch by themselves, a minute late, and every period is evaluated).
        to_alarm = wait_for(lambda: [item for item in cloudwatch.describe_alarm_history(
            AlarmName="orders-api-errors", HistoryItemType="StateUpdate", ScanBy="TimestampAscending",
        )["AlarmHistoryItems"] if json.loads(item["HistoryData"])["newState"]["stateValue"] == "ALARM"],
            timeout=30, every=0.5, what="the alarm to go to ALARM")
        requests = {request.operation for request in emu.quotas.requests()}
        started, stopped = (emu.client("stepfunctions").describe_execution(executionArn=v3.arn)[key]
                            for key in ("startDate", "stopDate"))

    assert code == 0
    assert v2.status == "SUCCEEDED"
    by_event = v3.status == "ABORTED"  # the alarm's own event asked for the rollback before a check saw it
    assert by_event or (v3.status, v3.error) == ("FAILED", "DeploymentRolledBack")
    # The alarm went to ALARM by CloudWatch's evaluation of its datapoints, from v3's failing calls.
    reason = json.loads(to_alarm[0]["HistoryData"])["newState"]["stateReason"]
    assert reason.startswith("Threshold Crossed: 1 out of the last 1 datapoints")
    assert started < to_alarm[0]["Timestamp"]
    assert "SetAlarmState" not in requests  # nobody asked (the quotas see every caller's requests)
    # The rollback names its cause: the alarm, which then went off while v3 ran; or (with canary analysis in
    # CheckHealth) the verdict on the same failing calls, naming v3's numbers.
    text = out.getvalue()
    before, after = text.split("deploy v3", 1)
    if by_event:
        assert "requested by alarm orders-api-errors" in after and "=> rollback SUCCEEDED" in after
    elif "alarm orders-api-errors in ALARM" in v3.cause:
        assert to_alarm[0]["Timestamp"] < stopped
        assert "alarm orders-api-errors OK → ALARM at +" in after  # when, and CloudWatch's reason
    else:
        assert "new version 3" in v3.cause and "errors" in v3.cause, v3.cause
    assert "20% → version 2, 80% → version 1" in before and "=> SUCCEEDED" in before
    assert "now alias live: version 2 100%" in before
    assert ("=> ABORTED" if by_event else "=> FAILED DeploymentRolledBack") in after and "why: " in after
    assert "alarm orders-api-errors stayed OK" in before
    restored = ("RestoreVersion     " if by_event else "Rollback           ") + "alias live → version 2 (all traffic)"
    assert restored in after
    after_v2, after_v3 = (next(line for line in part.splitlines() if line.strip().startswith("now "))
                          for part in (before, after))
    assert after_v3 == after_v2  # back exactly where v2 left it: alias, tag and $LATEST
    # Each check's line carries both versions' numbers: v2 never fails, v3's errors show before the rollback.
    checks = [(part, line) for part, section in (("v2", before), ("v3", after)) for line in section.splitlines()
              if "CheckHealth" in line]
    served = {(part, m["version"]): (int(m["errors"].replace(",", "")), int(m["calls"].replace(",", "")))
              for part, line in checks for m in NUMBERS.finditer(line)}
    assert served[("v2", "2")][0] == 0 and served[("v2", "2")][1] > 0 and served[("v2", "1")][0] == 0
    if ("v3", "3") in served:  # none when v3 was stopped by its first check or by the alarm's event
        assert served[("v3", "3")][0] > 0 and served[("v3", "2")][0] == 0
    assert "demo finished in" in text


def test_the_demo_sets_no_alarm_state_by_hand():
    for module in (demo, traffic, sample):  # the demo's code, its clients and the sample world it builds
        tree = ast.parse(Path(module.__file__).read_text())
        names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        names |= {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
        assert not {"set_alarm_state", "SetAlarmState"} & names, module.__name__
