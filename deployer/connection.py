"""How the CLI reaches AWS and the deployer: one boto3 session, its clients, the state machine and its table."""

from __future__ import annotations

import functools
import re

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from deployer.errors import NotStarted, UsageError
from handlers.aws.deployments import table_name_for

DEFAULT_STATE_MACHINE = "lambda-deployer"
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):states:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
                  r"stateMachine:(?P<name>[A-Za-z0-9_-]{1,80})$")
# Standard retries with room: many CI jobs following deployments share the account's API rate.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, user_agent_extra="lambda-deployer-cli")
_CONSOLE_HOSTS = {"aws": "console.aws.amazon.com", "aws-cn": "console.amazonaws.cn",
                  "aws-us-gov": "console.amazonaws-us-gov.com"}


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


class Connection:
    """``state_machine`` is a name or an ARN; a name is completed with the caller's account and the region."""

    def __init__(self, *, state_machine: str = DEFAULT_STATE_MACHINE, region: str | None = None,
                 profile: str | None = None, endpoint_url: str | None = None) -> None:
        arn = _ARN.match(state_machine)
        if not arn and not _NAME.match(state_machine):
            raise UsageError(f"--state-machine {state_machine!r} is neither a state machine name "
                             "(letters, digits, '-', '_') nor a state machine ARN")
        self._given_arn = state_machine if arn else None
        self.state_machine_name = arn["name"] if arn else state_machine
        try:
            self.session = boto3.Session(profile_name=profile, region_name=region or (arn and arn["region"]))
        except ProfileNotFound:
            raise UsageError(f"--profile {profile!r}: no such profile in the AWS config files") from None
        if endpoint_url and self.session.get_credentials() is None:  # a local endpoint takes any key
            self.session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                         region_name=self.session.region_name)
        if not self.session.region_name:
            raise UsageError("no region: give --region, or set AWS_REGION (or a region in the --profile)")
        self.region: str = self.session.region_name
        if arn and arn["region"] != self.region:
            raise UsageError(f"--state-machine {state_machine} is in {arn['region']}, not in --region {self.region}")
        self.endpoint_url = endpoint_url
        self.table = table_name_for(self.state_machine_name)
        self._clients: dict[str, object] = {}

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url, config=_CONFIG)
        return self._clients[service]

    @functools.cached_property
    def state_machine_arn(self) -> str:
        if self._given_arn:
            return self._given_arn
        try:
            account = self.client("sts").get_caller_identity()["Account"]
        except (BotoCoreError, ClientError) as exc:
            raise NotStarted(f"cannot tell the AWS account (sts:GetCallerIdentity): {exc}; check the credentials, "
                             "or give --state-machine as an ARN") from None
        return (f"arn:{partition_of(self.region)}:states:{self.region}:{account}:stateMachine:"
                f"{self.state_machine_name}")

    def execution_arn(self, name: str) -> str:
        return f"{self.state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"

    def console_url(self, execution_arn: str) -> str | None:
        """The execution in the Step Functions console (None on a local endpoint: it has no console)."""
        if self.endpoint_url:
            return None
        host = _CONSOLE_HOSTS.get(partition_of(self.region), _CONSOLE_HOSTS["aws"])
        return (f"https://{self.region}.{host}/states/home?region={self.region}"
                f"#/v2/executions/details/{execution_arn}")

    def where(self, execution_arn: str) -> str:
        """Where a person looks at an execution: the console link, or the endpoint and ARN."""
        return self.console_url(execution_arn) or f"{execution_arn} on {self.endpoint_url}"
