"""The task states of the deployment state machine and the handler behind each.

The ASL refers to each task's function as ``${<State>FunctionArn}``; the CDK construct and the local
emulator both create one function per entry and substitute its ARN.
"""

TASKS: dict[str, str] = {
    "Resolve": "handlers.resolve.handler",
    "RetagImage": "handlers.retag_image.handler",
    "UpdateCode": "handlers.update_code.handler",
    "WaitForCodeUpdate": "handlers.wait_for_code_update.handler",
    "PublishVersion": "handlers.publish_version.handler",
    "ShiftTraffic": "handlers.shift_traffic.handler",
    "CheckHealth": "handlers.check_health.handler",
    "Promote": "handlers.promote.handler",
    "Finalize": "handlers.finalize.handler",
    "Rollback": "handlers.rollback.handler",
}


def placeholder(state: str) -> str:
    return f"{state}FunctionArn"
