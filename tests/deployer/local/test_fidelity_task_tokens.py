"""Task tokens in the emulator behave as Step Functions documents them (deployer/local/fidelity/stepfunctions.py).

One small state machine: a Lambda task with ``.waitForTaskToken`` and HeartbeatSeconds, its token read from the
execution's history as a worker would receive it. What AWS documents, and moto 5.2.5 does not do:

- SendTaskSuccess/SendTaskFailure/SendTaskHeartbeat on a closed task: TaskTimedOut ("The task token has either
  expired or the task associated with the token has already been closed", their API references); moto accepted
  them (or raised a TypeError instead of its own error);
- SendTaskFailure's cause reaches the task's failure; moto dropped it;
- StopExecution ends the execution at once; moto's token wait noticed only when its heartbeat ran out;
- an answer given before the wait began is seen at once; moto saw it only when the heartbeat ran out;
- a missed heartbeat is States.HeartbeatTimeout, matched by a Catch on it and also by one on States.Timeout.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from botocore.exceptions import ClientError
from support import wait_for

from deployer.local import sample

ROLE = "arn:aws:iam::123456789012:role/tokens"


def machine(function_arn: str, *, heartbeat: int = 60, catch: list[str] | None = None) -> str:
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": function_arn, "Payload": {"token.$": "$$.Task.Token"}},
            "TimeoutSeconds": 600, "HeartbeatSeconds": heartbeat, "End": True}
    states = {"Wait": task}
    if catch:
        task["Catch"] = [{"ErrorEquals": [name], "ResultPath": "$.caught", "Next": f"Caught{i}"}
                         for i, name in enumerate(catch)]
        states.update({f"Caught{i}": {"Type": "Pass", "Result": {"by": name}, "End": True}
                       for i, name in enumerate(catch)})
    return json.dumps({"StartAt": "Wait", "States": states})


@pytest.fixture
def tokens(emulator):
    """(start, token_of): start an execution of a fresh machine, and read the token its task handed out."""
    sfn = emulator.client("stepfunctions")
    worker = sample.create_python_function(emulator, "token-worker", "def handler(event, context):\n    return {}\n")
    arns = []

    def start(**options) -> str:
        name = f"tokens-{len(arns)}"
        created = sfn.create_state_machine(name=name, definition=machine(worker, **options), roleArn=ROLE,
                                           type="STANDARD")["stateMachineArn"]
        arns.append(sfn.start_execution(stateMachineArn=created)["executionArn"])
        return arns[-1]

    def token_of(arn: str) -> str:
        def scheduled():
            for event in sfn.get_execution_history(executionArn=arn)["events"]:
                if event["type"] == "TaskScheduled":
                    return json.loads(event["taskScheduledEventDetails"]["parameters"])["Payload"]["token"]
            return None
        return wait_for(scheduled, what="the task's token")

    yield sfn, start, token_of
    for arn in arns:
        if sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            sfn.stop_execution(executionArn=arn)


def code(call, **kwargs) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"]


def status(sfn, arn: str, wanted: str, timeout: float = 10) -> dict:
    return wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] == wanted and d,
                    timeout=timeout, what=f"{arn} {wanted}")


def test_an_answered_token_is_closed_for_every_later_answer_and_heartbeat(tokens):
    sfn, start, token_of = tokens
    arn = start()
    token = token_of(arn)
    sfn.send_task_heartbeat(taskToken=token)  # open: accepted
    sfn.send_task_success(taskToken=token, output='{"ok": true}')
    status(sfn, arn, "SUCCEEDED")

    assert code(sfn.send_task_success, taskToken=token, output="{}") == "TaskTimedOut"
    assert code(sfn.send_task_failure, taskToken=token, error="Late") == "TaskTimedOut"
    assert code(sfn.send_task_heartbeat, taskToken=token) == "TaskTimedOut"
    assert code(sfn.send_task_heartbeat, taskToken="not-a-token") == "InvalidToken"


def test_a_failure_keeps_its_error_and_cause(tokens):
    sfn, start, token_of = tokens
    arn = start()
    sfn.send_task_failure(taskToken=token_of(arn), error="ApprovalRejected", cause="rejected by bob: not today")

    ended = status(sfn, arn, "FAILED")
    assert (ended["error"], ended["cause"]) == ("ApprovalRejected", "rejected by bob: not today")


def test_an_answer_at_once_is_seen_at_once(tokens):
    sfn, start, token_of = tokens
    arn = start(heartbeat=60)
    began = time.monotonic()
    sfn.send_task_success(taskToken=token_of(arn), output="{}")

    status(sfn, arn, "SUCCEEDED")
    assert time.monotonic() - began < 10  # not when the 60 s heartbeat runs out


def test_stopping_an_execution_that_waits_for_a_token_ends_it_at_once(tokens):
    sfn, start, token_of = tokens
    arn = start(heartbeat=60)
    token = token_of(arn)
    began = time.monotonic()
    sfn.stop_execution(executionArn=arn, error="Stopped", cause="by the test")

    ended = status(sfn, arn, "ABORTED")
    assert time.monotonic() - began < 10 and ended["status"] == "ABORTED"
    assert code(sfn.send_task_success, taskToken=token, output="{}") == "TaskTimedOut"


def test_a_missed_heartbeat_is_a_heartbeat_timeout_which_a_catch_on_timeout_matches_too(tokens):
    sfn, start, token_of = tokens
    first = start(heartbeat=1, catch=["States.HeartbeatTimeout", "States.Timeout"])
    second = start(heartbeat=1, catch=["States.Timeout"])
    token_of(first), token_of(second)

    assert json.loads(status(sfn, first, "SUCCEEDED", timeout=15)["output"]) == {"by": "States.HeartbeatTimeout"}
    assert json.loads(status(sfn, second, "SUCCEEDED", timeout=15)["output"]) == {"by": "States.Timeout"}


def test_heartbeats_keep_a_wait_alive_past_its_heartbeat_seconds(tokens):
    sfn, start, token_of = tokens
    arn = start(heartbeat=2)
    token = token_of(arn)
    deadline = time.monotonic() + 4  # twice HeartbeatSeconds
    while time.monotonic() < deadline:
        sfn.send_task_heartbeat(taskToken=token)
        assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
        threading.Event().wait(0.5)  # a worker's heartbeat rhythm, not a wait for a result
    sfn.send_task_success(taskToken=token, output="{}")
    status(sfn, arn, "SUCCEEDED")
