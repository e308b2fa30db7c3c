"""Speed-only patches: moto's behaviour, cheaper. Each may be skipped (``deployer.local.patching``): without it
the emulator does the same, more slowly (tests/deployer/local/test_patching.py runs a deployment so)."""

from __future__ import annotations

import pickle
import threading

from moto.core import responses
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from deployer.local import patching
from deployer.local.fidelity import stepfunctions
from deployer.local.patching import Kind, Patch


def patches() -> list[Patch]:
    """Fresh caches for one emulator (clients made before it started miss its hooks); the parses of a
    definition are the process's (the same text parses to the same program)."""
    return [_parse_each_definition_once(), _validate_each_definition_once(), _list_each_response_class_once(),
            *_one_client_per_service()]


_PARSED: dict[str, bytes] = {}  # definition text → its parsed program, pickled, for every emulator of this process
_VALID: set[str] = set()  # definitions CreateStateMachine/UpdateStateMachine found valid


def _parse_each_definition_once() -> Patch:
    """moto parses the ASL (ANTLR, ~0.3 s for the deployer's) at every execution start; unpickling one parse is
    ~100x cheaper (3 ms; a deep copy took 22 ms) and just as fresh (a new object graph, as ``copy.deepcopy`` makes:
    no component defines its own copying), so executions cost what their states cost."""
    original = patching.original(ExecutionWorker, "_get_evaluation_entrypoint")

    def entrypoint(self):
        definition = self._evaluation_details.state_machine_details.definition
        if definition not in _PARSED:
            _PARSED[definition] = pickle.dumps(original(self), protocol=pickle.HIGHEST_PROTOCOL)
        return pickle.loads(_PARSED[definition])  # this process' own parse, never outside data

    return Patch(ExecutionWorker, "_get_evaluation_entrypoint", entrypoint, ("self",), Kind.SPEED,
                 why="one parse per definition")


def _validate_each_definition_once() -> Patch:
    """CreateStateMachine parses the definition to validate it (another ~0.3 s at every emulator start); a
    definition found valid once is valid again. An invalid one is parsed, and refused, every time."""
    original = patching.original(StepFunctionsParserBackend, "_validate_definition")

    def validate(definition: str):
        if definition not in _VALID:
            original(definition)
            _VALID.add(definition)

    return Patch(StepFunctionsParserBackend, "_validate_definition", staticmethod(validate), ("definition",),
                 Kind.SPEED, why="one validation per definition")


def _list_each_response_class_once() -> Patch:
    """moto lists a response class' methods (``inspect.getmembers``) at every request, a fifth of an in-process
    call; the list of a class' method names does not change while the emulator runs."""
    listed: dict[type, list[str]] = {}
    original = patching.original(responses, "method_names_from_class")

    def method_names(clazz) -> list[str]:
        if clazz not in listed:
            listed[clazz] = original(clazz)
        return listed[clazz]

    return Patch(responses, "method_names_from_class", method_names, ("clazz",), Kind.SPEED,
                 why="one listing per response class")


def _one_client_per_service() -> list[Patch]:
    """moto's interpreter builds a new boto3 client for every task it runs (a quarter of an execution's CPU);
    the emulator keeps one per region and service, as a real Step Functions keeps its connections. Each is
    Step Functions' own client (``stepfunctions.own_client``), as the fidelity patch of the same attribute
    makes them when this one is skipped."""
    made: dict[tuple[str, str], object] = {}
    lock = threading.Lock()

    def cached(region: str, service: str, state_credentials=None):
        with lock:
            if (region, service) not in made:
                made[region, service] = stepfunctions.own_client(region, service, state_credentials)
            return made[region, service]

    return [Patch(module, "boto_client_for", cached, ("region", "service", "state_credentials"), Kind.SPEED,
                  why="one client per region and service") for module in stepfunctions.CLIENT_MODULES]
