"""``lambda-deployer``: deploy, inspect and roll back Lambda functions through the deployer's state machine.

Exit codes: 0 success; 1 the deployment failed or rolled back; 2 usage error; 3 the execution could not
be started.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_STARTED = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lambda-deployer", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    local = commands.add_parser("local", help="the local emulator: no AWS account needed")
    local_commands = local.add_subparsers(dest="local_command", required=True, metavar="COMMAND")
    local_commands.add_parser("demo", help="deploy a sample function twice: a canary, then a rollback")
    serve = local_commands.add_parser("serve", help="an AWS-compatible endpoint with the state machine created")
    serve.add_argument("--port", type=int, default=4599, help="port on 127.0.0.1 (0: any free port)")
    serve.add_argument("--region", default="us-east-1")
    serve.add_argument("--verbose", action="store_true", help="print the task handlers' logs")
    serve.add_argument("--auto-deploy", action="append", default=[], metavar="REPOSITORY=TAG[,TAG…]",
                       type=_auto_deploy, help="deploy the functions that track a tag when it is pushed to the "
                       "repository, as the stack's EventBridge rules do (repeatable; tags may use *)")
    return parser


def _auto_deploy(value: str) -> tuple[str, list[str]]:
    repository, _, tags = value.partition("=")
    if not repository or not tags:
        raise argparse.ArgumentTypeError(f"{value!r}: expected REPOSITORY=TAG[,TAG…], e.g. orders=main,release-*")
    return repository, [tag for tag in tags.split(",") if tag]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "local":
        if args.local_command == "demo":
            from deployer.local import demo

            return demo.run()
        from deployer.local import server

        return server.serve(port=args.port, region=args.region, verbose=args.verbose,
                            auto_deploy=dict(args.auto_deploy))
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
