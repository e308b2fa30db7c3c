"""``lambda-deployer``: deploy, inspect and roll back Lambda functions through the deployer's state machine.

Exit codes: 0 success; 1 the deployment failed or rolled back; 2 usage error; 3 the execution could not
be started (or AWS could not be reached). docs/cli.md has the details and the JSON shapes.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from botocore.exceptions import BotoCoreError, ClientError

from deployer.connection import DEFAULT_STATE_MACHINE
from deployer.console import Console
from deployer.errors import EXIT_FAILED, EXIT_NOT_STARTED, EXIT_OK, EXIT_USAGE, CommandError, UsageError

__all__ = ["EXIT_FAILED", "EXIT_NOT_STARTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

GLOBAL_OPTIONS = ("--state-machine", "--region", "--profile", "--endpoint-url", "--output")
COMMANDS = ("deploy", "plan", "status", "history", "rollback", "approve", "reject", "promote", "previews",
            "preview-delete", "prune")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        misplaced = [option for option in GLOBAL_OPTIONS if option in message and "unrecognized" in message]
        if misplaced:
            message += f" ({', '.join(misplaced)} go before the command: lambda-deployer {misplaced[0]} … COMMAND)"
        super().error(message)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds in (0, 300]")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lambda-deployer", description="Deploy, inspect and roll back Lambda functions through "
                     "the deployer's state machine.", epilog="Exit codes: 0 success; 1 failed or rolled back; "
                     "2 usage error; 3 not started (or AWS unreachable). More: docs/cli.md")
    parser.add_argument("--state-machine", metavar="NAME_OR_ARN",
                        default=os.environ.get("LAMBDA_DEPLOYER_STATE_MACHINE", DEFAULT_STATE_MACHINE),
                        help="the deployer's state machine: name or ARN (default: $LAMBDA_DEPLOYER_STATE_MACHINE "
                             f"or {DEFAULT_STATE_MACHINE})")
    parser.add_argument("--region", help="AWS region (default: the profile's, or AWS_REGION)")
    parser.add_argument("--profile", help="AWS profile from the AWS config files")
    parser.add_argument("--endpoint-url", metavar="URL",
                        help="an AWS endpoint instead of AWS, e.g. lambda-deployer local serve")
    parser.add_argument("--output", choices=("text", "json"), default="text",
                        help="json: one JSON document on stdout (progress goes to stderr)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    request = argparse.ArgumentParser(add_help=False)  # what deploy and plan share
    request.add_argument("--function", required=True, help="function name or ARN")
    code = request.add_mutually_exclusive_group(required=True)
    code.add_argument("--image", help="an image function's image: ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO@sha256:… "
                                      "(or …/REPO:TAG)")
    code.add_argument("--code", help="a zip function's package: s3://BUCKET/KEY.zip (optionally ?versionId=…), "
                                     "docs/zip-functions.md")
    request.add_argument("--strategy", help="AllAtOnce (default), Canary10Percent5Minutes, "
                                            "Linear10PercentEvery1Minute, … or '{\"steps\": [...]}'")
    request.add_argument("--alarm", dest="alarms", action="append", default=[], metavar="NAME",
                         help="a CloudWatch alarm that rolls the deployment back (repeat for more)")
    request.add_argument("--alias", help="the alias clients invoke (default: live)")
    request.add_argument("--check-interval", type=int, metavar="SECONDS",
                         help="how often health is checked during a bake (default: 60)")
    request.add_argument("--allow-firing-alarms", action="store_true",
                         help="a hotfix: alarms already in ALARM at the start are ignored")
    analysis = request.add_mutually_exclusive_group()
    analysis.add_argument("--analysis", metavar="JSON",
                          help="tune the canary analysis, e.g. '{\"minInvocations\": 20}' (docs/canary-analysis.md)")
    analysis.add_argument("--no-analysis", action="store_true",
                          help="judge by alarms alone: no per-version metrics analysis")
    request.add_argument("--pre-traffic", metavar="JSON",
                         help="synthetic invocations of the new version before traffic moves, e.g. "
                              "'{\"invocations\": 3, \"expect\": {\"statusCode\": 200}}' (docs/checks.md)")
    request.add_argument("--hooks", metavar="JSON",
                         help="your functions to run before traffic, after each shift, after promotion, e.g. "
                              "'{\"afterShift\": \"orders-smoke\"}' (docs/checks.md)")
    follow = argparse.ArgumentParser(add_help=False)  # what deploy and rollback share
    follow.add_argument("--no-wait", action="store_true", help="start it and exit 0, without following it")
    follow.add_argument("--poll-interval", type=_positive_seconds, default=2.0, metavar="SECONDS",
                        help="how often to look at the execution while following it (default: 2)")

    deploy = commands.add_parser("deploy", parents=[request, follow], help="deploy an image, follow it, exit 0 on "
                                 "success", description="Start a deployment and follow it live. Exit 0 on success, 1 "
                                 "on rollback or failure, 2 on bad arguments, 3 if it could not be started.")
    deploy.add_argument("--preview", metavar="BRANCH",
                        help="a preview of BRANCH: publish behind the alias preview-<branch>, production untouched")
    commands.add_parser("plan", parents=[request], help="dry run of deploy: what would change, the schedule",
                        description="Validate a deploy request with the state machine's own code, reads only, and "
                                    "print what would change. Exit 0 if it would deploy, 1 if it would be refused.")
    status = commands.add_parser("status", help="what the alias serves now, and the deployment running")
    status.add_argument("function", metavar="FUNCTION")
    status.add_argument("--alias", help="default: live")
    history = commands.add_parser("history", help="recent deployments of a function")
    history.add_argument("function", metavar="FUNCTION")
    history.add_argument("--limit", type=int, default=10, help="how many (default: 10, at most 100)")
    rollback = commands.add_parser("rollback", parents=[follow], help="all traffic back on the previous version",
                                   description="Put all traffic back on the previous stable version (or "
                                               "--to-version), through the state machine.")
    rollback.add_argument("function", metavar="FUNCTION")
    rollback.add_argument("--to-version", metavar="N", help="this published version instead of the previous one")
    rollback.add_argument("--alias", help="default: live")

    previews = commands.add_parser("previews", help="the preview aliases of a function: branch, version, image")
    previews.add_argument("function", metavar="FUNCTION")
    preview_delete = commands.add_parser(
        "preview-delete", parents=[follow], help="delete a branch's preview alias (and its version, if unused)",
        description="Delete the preview alias of BRANCH, and its version when nothing else uses it, through the "
                    "state machine.")
    preview_delete.add_argument("function", metavar="FUNCTION")
    preview_delete.add_argument("branch", metavar="BRANCH")
    preview_delete.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    prune = commands.add_parser(
        "prune", parents=[follow], help="delete the versions nothing uses but the newest N (shows them unless --apply)",
        description="Through the state machine: keep the newest N versions and every version in use (aliases, "
                    "routing, provisioned concurrency, event source mappings, the running deployment, recent rollback "
                    "targets); show the rest, and delete them with --apply. docs/pruning.md")
    prune.add_argument("function", metavar="FUNCTION")
    prune.add_argument("--keep", type=int, metavar="N", help="how many of the newest versions stay (default: 10)")
    dry = prune.add_mutually_exclusive_group()
    dry.add_argument("--apply", action="store_true", help="delete them (without it: a dry run)")
    dry.add_argument("--dry-run", action="store_true", help="a dry run (the default, for scripts that say so)")
    approve = commands.add_parser("approve", help="let a deployment waiting for approval go on",
                                  description="Answer the approval gate a deployment of FUNCTION waits at: it goes on. "
                                              "Needs the approver policy (stack output ApproverPolicyArn).")
    approve.add_argument("function", metavar="FUNCTION")
    reject = commands.add_parser("reject", help="roll back a deployment waiting for approval",
                                 description="Answer the approval gate a deployment of FUNCTION waits at: it rolls "
                                             "back. Needs the approver policy.")
    reject.add_argument("function", metavar="FUNCTION")
    reject.add_argument("--reason", required=True, help="why (recorded, and in the rollback's cause)")
    promote = commands.add_parser("promote", help="move a running deployment to its next step now, or --full",
                                  description="Ask the running deployment of FUNCTION to leave its current bake for "
                                              "the next step at its next check that passes, or with --full to promote "
                                              "at once, skipping the remaining steps. Needs the approver policy.")
    promote.add_argument("function", metavar="FUNCTION")
    promote.add_argument("--full", action="store_true", help="skip every remaining step, check and gate")

    local = commands.add_parser("local", help="the local emulator: no AWS account needed")
    local_commands = local.add_subparsers(dest="local_command", required=True, metavar="COMMAND")
    local_commands.add_parser("demo", help="deploy a sample function twice: a canary, then a rollback")
    serve = local_commands.add_parser("serve", help="an AWS-compatible endpoint with the state machine created")
    serve.add_argument("--port", type=int, default=4599, help="port on 127.0.0.1 (0: any free port)")
    serve.add_argument("--region", dest="serve_region", help="default: the global --region, else us-east-1")
    serve.add_argument("--verbose", action="store_true", help="print the task handlers' logs")
    serve.add_argument("--no-quotas", dest="quotas", action="store_false",
                       help="answer every request (default: throttle beyond AWS's request quotas, as AWS does)")
    serve.add_argument("--time-scale", type=_positive, default=1.0, metavar="FACTOR",
                       help="shorten Wait states, retry intervals and the reconciler's schedule (0.1: ten times "
                       "faster; default 1: as long as in AWS)")
    serve.add_argument("--auto-deploy", action="append", default=[], metavar="REPOSITORY=TAG[,TAG…]",
                       type=_auto_deploy, help="deploy the functions that track a tag when it is pushed to the "
                       "repository, as the stack's EventBridge rules do (repeatable; tags may use *)")
    serve.add_argument("--metric-delay", type=float, default=0.0, metavar="SECONDS",
                       help="how late Lambda's metrics reach CloudWatch (AWS: about 60; default 0)")
    serve.add_argument("--seed", type=int, help="repeatable alias routing and image behaviours")
    parser.set_defaults(subparsers=commands.choices)
    return parser


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a positive number, e.g. 0.1")
    return number


def _auto_deploy(value: str) -> tuple[str, list[str]]:
    repository, _, tags = value.partition("=")
    if not repository or not tags:
        raise argparse.ArgumentTypeError(f"{value!r}: expected REPOSITORY=TAG[,TAG…], e.g. orders=main,release-*")
    return repository, [tag for tag in tags.split(",") if tag]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage and the error (2), or the help (0)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command == "local":
        return _local(args)
    console = Console(json_output=args.output == "json")
    command = importlib.import_module(f"deployer.commands.{args.command.replace('-', '_')}")
    try:
        return command.run(args, console)
    except UsageError as exc:
        console.clear_status()
        args.subparsers[args.command].print_usage(sys.stderr)
        print(f"lambda-deployer {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        console.error(f"lambda-deployer {args.command}: {exc}")
        return exc.exit_code
    except (BotoCoreError, ClientError) as exc:
        console.error(f"lambda-deployer {args.command}: AWS call failed: {exc}")
        return EXIT_NOT_STARTED


def _local(args) -> int:
    if args.local_command == "demo":
        from deployer.local import demo

        return demo.run()
    from deployer.local import server

    return server.serve(port=args.port, region=args.serve_region or args.region or "us-east-1", verbose=args.verbose,
                        auto_deploy=dict(args.auto_deploy), quotas=args.quotas, time_scale=args.time_scale,
                        metric_delay_seconds=args.metric_delay, seed=args.seed)


if __name__ == "__main__":
    sys.exit(main())
