"""Step Functions as AWS documents it, where moto 5.2.5's interpreter differs (MOTO_GAPS.md, "Step Functions")."""

from __future__ import annotations

import contextvars
import json
import threading
import uuid
from datetime import datetime

import botocore.session
from moto.core.exceptions import AWSError
from moto.core.responses import EmptyResult
from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType, TaskTimedOutEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
    state_task_service_sfn,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackEndpoint,
    CallbackOutcomeFailure,
    CallbackOutcomeSuccess,
    HeartbeatTimeoutError,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from deployer.local import quotas
from deployer.local.fidelity import emit_in, session
from deployer.local.patching import Patch, original
from handlers.domain import events

EXECUTION_PARAMETERS = ("self", "name", "sm_type", "role_arn", "exec_arn", "account_id", "region_name",
                        "state_machine", "start_date", "cloud_watch_logging_session", "activity_store", "input_data",
                        "trace_header")
CLIENT_MODULES = (lambda_eval_utils, state_task_service_sfn, state_task_service_aws_sdk)
"""The interpreter's modules whose ``boto_client_for`` makes the clients of the tasks the deployer's ASL runs
(Lambda invokes, ``startExecution.sync``) and of any aws-sdk integration."""

class TaskTimedOut(AWSError):
    TYPE, STATUS = "TaskTimedOut", 400

    def __init__(self) -> None:
        super().__init__("Task Timed Out: the task token has either expired or the task associated with the token "
                         "has already been closed")


class InvalidTaskToken(AWSError):
    TYPE, STATUS = "InvalidToken", 400

    def __init__(self) -> None:
        super().__init__("Invalid Token: 'Invalid token'")


_starting = threading.Lock()  # StartExecution's check of the name and its start, as one step
_stop_reason: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar(
    "stop_reason", default=(None, None))


def own_client(region: str, service: str, state_credentials=None):
    """A client of Step Functions itself (its Lambda invokes, its ``.sync`` polling): marked, so that the
    account's request quotas let it pass (``deployer.local.quotas``)."""
    client = boto_client_for(region=region, service=service, state_credentials=state_credentials)
    quotas.mark_internal(client)
    return client


def patches() -> list[Patch]:
    moto = {
        "start_execution": original(StepFunctionsParserBackend, "start_execution"),
        "terminated": original(BaseExecutionWorkerCommunication, "terminated"),
        "normalise": original(StateTaskService, "_normalise_parameters"),
        "normalise_response": original(StateTaskService, "_normalise_response"),
        "r_stop_execution": original(StepFunctionResponse, "stop_execution"),
        "stop": original(Execution, "stop"),
        "init": original(Execution, "__init__"),
        "integration_pattern": original(StateTaskServiceCallback, "_eval_integration_pattern"),
        "task_attempt": original(StateTaskService, "_eval_execution"),
        "setup_heartbeat": original(CallbackEndpoint, "setup_heartbeat_endpoint"),
        "from_error": original(StateTaskServiceCallback, "_from_error"),
        "error_equals": original(ErrorEqualsDecl, "_eval_body"),
        "set_error": original(Environment, "set_error"),
    }

    # AWS: an execution StartExecution has accepted is RUNNING. moto adds it to the state machine's list with
    # no status and sets RUNNING once its worker exists: a ListExecutions in between fails (AttributeError).
    def init(self, *args, **kwargs):
        moto["init"](self, *args, **kwargs)
        self.exec_status = ExecutionStatus.RUNNING
        self.emulator_session = session()

    # AWS: SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat answer TaskTimedOut when "the task token has
    # either expired or the task associated with the token has already been closed", InvalidToken when it is
    # not a token at all (their API references, Errors). moto keeps a closed task's callback endpoint and
    # accepts every later answer and heartbeat (so a heartbeat never tells that a wait is over), and its own
    # TaskTimedOut/TaskDoesNotExist are raised without the message they need (a TypeError reaches the caller).
    # A task is closed once answered or once its wait ended (moto then sets the endpoint's notify event), or
    # when its execution is no longer running.
    def callback(self, token: str):
        for execution in self._get_executions():
            env = getattr(execution.exec_worker, "env", None)
            endpoint = env.callback_pool_manager.get(token) if env is not None else None
            if endpoint is None:
                continue
            if endpoint._notify_event.is_set() or execution.exec_status != ExecutionStatus.RUNNING:
                raise TaskTimedOut()
            return env.callback_pool_manager
        raise InvalidTaskToken()

    def send_task_success(self, task_token, outcome):
        callback(self, task_token).notify(task_token, CallbackOutcomeSuccess(callback_id=task_token, output=outcome))

    def send_task_failure(self, task_token, error=None, cause=None):
        callback(self, task_token).notify(task_token, CallbackOutcomeFailure(callback_id=task_token, error=error,
                                                                             cause=cause))

    def send_task_heartbeat(self, task_token):
        callback(self, task_token).heartbeat(task_token)

    # AWS: StartExecution without a name gets a unique one (moto names it None, so a second run collides).
    # "StartExecution is idempotent for STANDARD workflows": the name and input of a running execution
    # return that execution; a different input, or a closed execution of that name, is ExecutionAlreadyExists
    # (StartExecution API reference). moto checks the name, deep-copies the state machine, then adds the
    # execution: two concurrent calls both pass the check and start the same name twice; one at a time.
    def start_execution(self, state_machine_arn, name=None, execution_input=None, trace_header=None):
        with _starting:
            return moto["start_execution"](self, state_machine_arn, name or str(uuid.uuid4()),
                                               execution_input, trace_header)

    # AWS: Step Functions reports every execution's end to EventBridge (best effort). An execution that outlived
    # its emulator (a test left it running) reports to nobody.
    def terminated(self):
        moto["terminated"](self)
        execution = self.execution
        emit_in(getattr(execution, "emulator_session", None), execution.account_id, execution.region_name,
                events.SFN_SOURCE, events.SFN_DETAIL_TYPE, {
            "executionArn": execution.exec_arn, "stateMachineArn": execution.state_machine_arn,
            "name": execution.name, "status": execution.exec_status.value,
            "startDate": _millis(execution.start_date), "stopDate": _millis(execution.stop_date),
            "input": execution.execution_input,
            "output": json.dumps(execution.output) if execution.output is not None else None,
            "error": execution.error, "cause": execution.cause,
        }, resources=[execution.exec_arn])

    # AWS: StopExecution's ``error`` and ``cause`` are the aborted execution's: its ExecutionAborted history
    # event carries them (ExecutionAbortedEventDetails). moto stops every execution with empty ones. (moto's
    # worker thread ends the execution a moment after StopExecution answers; AWS's has ended by then.)
    def r_stop_execution(self):
        token = _stop_reason.set((self._get_param("error"), self._get_param("cause")))
        try:
            return moto["r_stop_execution"](self)
        finally:
            _stop_reason.reset(token)

    # AWS: StopExecution ends the execution at once, whatever its states wait for. moto's task waiting for a
    # task token (with HeartbeatSeconds) only looks again when its heartbeat wait runs out: a stopped execution
    # stayed RUNNING that long. Waking every callback wait of the execution lets it see the stop.
    def stop(self, stop_date, error, cause):
        given_error, given_cause = _stop_reason.get()
        stopped = moto["stop"](self, stop_date, given_error or error, given_cause or cause)
        env = getattr(self.exec_worker, "env", None)
        for endpoint in list(env.callback_pool_manager._pool.values()) if env is not None else ():
            endpoint.interrupt_all()
        return stopped

    # AWS: a stopped execution has ended ABORTED once StopExecution answers (its history ends ExecutionAborted),
    # whatever its running task does next: a Lambda function invoked before the stop may still fail, but that is
    # no longer the execution's outcome. moto's set_error replaces the stopped state (set_ended and set_stop look
    # first): a task failing after the stop ended the stopped execution FAILED, without ExecutionAborted.
    def set_error(self, error):
        with self._state_mutex:  # an RLock: the original takes it again
            if isinstance(self._program_state, ProgramStopped):
                return
            moto["set_error"](self, error)

    # (Woken so, moto's wait reports a timeout, which would be handled as the task's error after the stop and end
    # the stopped execution FAILED: a task of an execution no longer running ends without an outcome instead.)
    def integration_pattern(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        try:
            return moto["integration_pattern"](self, env, resource_runtime_part, normalised_parameters,
                                               state_credentials)
        except Exception:
            if env.is_running():
                raise
            env.stack.append({})

    # moto also keeps one callback endpoint for every attempt of a retried task: closed by the first attempt's
    # failure, it would refuse the answer to the retry's wait. Each attempt (before its service call, so an answer
    # that comes before the wait begins is kept) waits afresh here.
    def task_attempt(self, env):
        token = (env.states.context_object.context_object_data.get("Task") or {}).get("Token")
        endpoint = env.callback_pool_manager.get(token) if token else None
        if endpoint is not None:
            endpoint._notify_event.clear()
            endpoint._outcome = None
        return moto["task_attempt"](self, env)

    # AWS: a task token can be answered as soon as the task has started (the Lambda function that received it may
    # answer before it returns). moto arms the heartbeat wait only after the function returned, and a task with
    # HeartbeatSeconds looks at its answer only after a heartbeat: an answer given before that was noticed only
    # when the heartbeat ran out. An answer already given counts as the first heartbeat here.
    def setup_heartbeat(self, heartbeat_seconds):
        heartbeat = moto["setup_heartbeat"](self, heartbeat_seconds)
        if self._notify_event.is_set():
            heartbeat.notify()
        return heartbeat

    # AWS: a task that "failed to send a heartbeat for a period longer than the HeartbeatSeconds value" fails with
    # States.HeartbeatTimeout, which a Retry or Catch on States.Timeout matches too ("Error names", Step Functions
    # developer guide; aws-cdk#16084: States.Timeout "includes both Task timeout and Task Heartbeat timeout").
    # moto names it States.Timeout, so a Catch on States.HeartbeatTimeout never matched.
    def from_error(self, env, ex):
        if not isinstance(ex, HeartbeatTimeoutError):
            return moto["from_error"](self, env, ex)
        name = StatesErrorNameType.StatesHeartbeatTimeout
        return FailureEvent(env=env, error_name=StatesErrorName(typ=name), event_type=HistoryEventType.TaskTimedOut,
                            event_details=EventDetails(taskTimedOutEventDetails=TaskTimedOutEventDetails(
                                resourceType=self._get_sfn_resource_type(), resource=self._get_sfn_resource(),
                                error=name.to_name())))

    def error_equals(self, env):
        error = env.stack[-1]
        if (isinstance(error, StatesErrorName) and error.typ == StatesErrorNameType.StatesHeartbeatTimeout
                and any(isinstance(name, StatesErrorName) and name.typ == StatesErrorNameType.StatesTimeout
                        for name in self.error_names)):
            env.stack.pop()
            env.stack.append(True)
            return None
        return moto["error_equals"](self, env)

    # AWS: SendTaskFailure's ``cause`` becomes the failed task's cause (what a Catch's ResultPath receives).
    # moto's response handler drops it.
    def r_send_task_failure(self):
        self.stepfunction_backend.send_task_failure(self._get_param("taskToken"), error=self._get_param("error"),
                                                    cause=self._get_param("cause"))
        return EmptyResult()

    # AWS: service integrations take the API's parameters in PascalCase ("StateMachineArn") and map them
    # onto the API's own member names ("stateMachineArn"), and answer in PascalCase ("ExecutionArn");
    # moto passes both through unchanged.
    def normalise(self, parameters, boto_service_name=None, service_action_name=None):
        moto["normalise"](self, parameters, boto_service_name, service_action_name)
        shape = _operation(self, boto_service_name, service_action_name).input_shape
        if shape is not None:
            self._to_boto_request(parameters, shape)

    def normalise_response(self, response, boto_service_name=None, service_action_name=None):
        moto["normalise_response"](self, response, boto_service_name, service_action_name)
        shape = _operation(self, boto_service_name, service_action_name).output_shape
        if shape is not None:
            self._from_boto_response(response, shape)
        _timestamps_to_millis(response)

    task_helpers = ("_get_boto_service_name", "_get_boto_service_action", "_to_boto_request", "_from_boto_response")
    return [
        Patch(StepFunctionsParserBackend, "start_execution", start_execution,
              ("self", "state_machine_arn", "name", "execution_input", "trace_header"),
              why="a unique name when none is given; concurrent starts of one name start one execution"),
        Patch(BaseExecutionWorkerCommunication, "terminated", terminated, ("self",),
              why="an Execution Status Change event when an execution ends"),
        Patch(StepFunctionResponse, "stop_execution", r_stop_execution, ("self",),
              why="StopExecution's error and cause reach the aborted execution"),
        Patch(Execution, "__init__", init, EXECUTION_PARAMETERS,
              why="an execution is RUNNING from the moment it is listed"),
        Patch(Execution, "stop", stop, ("self", "stop_date", "error", "cause"),
              why="StopExecution's error and cause kept; the execution is ABORTED once StopExecution answers"),
        Patch(StepFunctionsParserBackend, "send_task_success", send_task_success, ("self", "task_token", "outcome"),
              uses=("_get_executions",), why="an answer to a closed task token is TaskTimedOut"),
        Patch(StepFunctionsParserBackend, "send_task_failure", send_task_failure,
              ("self", "task_token", "error", "cause"), uses=("_get_executions",),
              why="an answer to a closed task token is TaskTimedOut"),
        Patch(StateTaskServiceCallback, "_eval_integration_pattern", integration_pattern,
              ("self", "env", "resource_runtime_part", "normalised_parameters", "state_credentials"),
              why="a task waiting for a token ends quietly when its execution is stopped"),
        Patch(Environment, "set_error", set_error, ("self", "error"),
              why="a stopped execution stays ABORTED when its running task fails afterwards"),
        Patch(StateTaskServiceCallback, "_from_error", from_error, ("self", "env", "ex"),
              uses=("_get_sfn_resource_type", "_get_sfn_resource"),
              why="a missed heartbeat is States.HeartbeatTimeout"),
        Patch(ErrorEqualsDecl, "_eval_body", error_equals, ("self", "env"),
              why="a Retry or Catch on States.Timeout matches States.HeartbeatTimeout"),
        Patch(CallbackEndpoint, "setup_heartbeat_endpoint", setup_heartbeat, ("self", "heartbeat_seconds"),
              why="an answer given before the wait began is seen at once"),
        Patch(StateTaskService, "_eval_execution", task_attempt, ("self", "env"),
              why="each attempt of a retried task waits for its token afresh"),
        Patch(StepFunctionResponse, "send_task_failure", r_send_task_failure, ("self",),
              why="SendTaskFailure's cause reaches the failed task"),
        Patch(StepFunctionsParserBackend, "send_task_heartbeat", send_task_heartbeat, ("self", "task_token"),
              uses=("_get_executions",), why="a heartbeat of a closed task token is TaskTimedOut"),
        Patch(StateTaskService, "_normalise_parameters", normalise,
              ("self", "parameters", "boto_service_name", "service_action_name"), uses=task_helpers,
              why="integration parameters mapped from PascalCase onto the API's member names"),
        Patch(StateTaskService, "_normalise_response", normalise_response,
              ("self", "response", "boto_service_name", "service_action_name"), uses=task_helpers,
              why="integration results in PascalCase, timestamps in epoch milliseconds"),
        *[Patch(module, "boto_client_for", own_client, ("region", "service", "state_credentials"),
                why="Step Functions' own requests pass the account's quotas") for module in CLIENT_MODULES],
    ]


_service_models: dict[str, object] = {}


def _operation(task: StateTaskService, service: str | None, action: str | None):
    service = task._get_boto_service_name(service)
    action = task._get_boto_service_action(action)
    if service not in _service_models:
        _service_models[service] = botocore.session.get_session().get_service_model(service)
    return _service_models[service].operation_model("".join(part.capitalize() for part in action.split("_")))


def _millis(moment) -> int | None:
    return int(moment.timestamp() * 1000) if moment else None


def _timestamps_to_millis(value) -> None:
    """Integration results carry timestamps as epoch milliseconds (JSON has no datetime)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in list(items):
        if isinstance(item, datetime):
            value[key] = _millis(item)
        else:
            _timestamps_to_millis(item)
