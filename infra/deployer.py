"""``LambdaDeployer``: the whole of lambda-deployer as one construct, for this project's stack or any CDK app."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from handlers.aws import deployments
from handlers.domain.catalog import FUNCTION_NAME_PREFIX, STATE_MACHINE_ARN, TASKS
from infra.alarm_rollback import AlarmRollback
from infra.approver_access import ApproverAccess
from infra.auto_deploy import AutoDeploy
from infra.ci_access import CiAccess
from infra.grants import Targets
from infra.monitoring import Monitoring
from infra.notifications import Notifications
from infra.prune_schedule import ScheduledPrunes
from infra.safety_net import SafetyNet
from infra.settings import DeployerSettings
from infra.state_machine import DeploymentStateMachine
from infra.task_functions import TaskFunctions


class LambdaDeployer(Construct):
    """Task functions, the deployment state machine, its safety net (rescue, reconciler, dead-letter queue),
    rollback on an alarm's own event, auto-deploy on ECR push, CI and approver access, deployment history, a
    dashboard and alarms on the deployer itself, and optionally a topic that turns its lifecycle events into
    messages."""

    def __init__(self, scope: Construct, id: str, *, settings: DeployerSettings) -> None:
        super().__init__(scope, id)
        self.settings = settings

        # Deployment history and the per-function lock (items keyed by pk/sk), for every task to use; records
        # expire by TTL, and the sparse index holds only the locks (handlers.aws.deployments says how).
        # The emulator creates the same table (deployer.local.emulator).
        self.table = dynamodb.Table(
            self, "Deployments",
            table_name=deployments.table_name_for(settings.state_machine_name),  # the CLI derives it
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            time_to_live_attribute=deployments.EXPIRES_AT,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # One index partition for every lock: a lock is written twice per deployment, far below a partition's
        # write throughput, and one Query then returns every held lock.
        self.table.add_global_secondary_index(
            index_name=deployments.LOCKS_INDEX,
            partition_key=dynamodb.Attribute(name=deployments.HELD, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.targets = Targets(scope=self, state_machine_name=settings.state_machine_name,
                               function_name_prefix=settings.function_name_prefix,
                               repositories=settings.repositories, table_arn=self.table.table_arn,
                               artifact_buckets=settings.artifact_buckets)

        self.tasks = TaskFunctions(
            self, "Tasks", targets=self.targets, environment={
                "DEPLOYMENTS_TABLE": self.table.table_name,
                deployments.RETENTION_ENV: str(settings.history_retention_days),
                FUNCTION_NAME_PREFIX: settings.function_name_prefix,  # the reconciler looks only at these
                STATE_MACHINE_ARN: self.targets.state_machine_arn,  # built from the name: no cycle
            },
            log_level=settings.log_level, log_retention=settings.log_retention,
            powertools_layer_version=settings.powertools_layer_version,
        )
        self.workflow = DeploymentStateMachine(self, "Workflow", name=settings.state_machine_name,
                                               task_functions={t: self.tasks.functions[t] for t in TASKS},
                                               targets=self.targets, log_retention=settings.log_retention)
        self.state_machine: sfn.StateMachine = self.workflow.state_machine
        self.safety_net = SafetyNet(self, "SafetyNet", state_machine=self.state_machine,
                                    rescue=self.tasks.functions["Rescue"], reconcile=self.tasks.functions["Reconcile"])
        self.alarm_rollback = AlarmRollback(self, "AlarmRollback", function=self.tasks.functions["AlarmFired"],
                                            safety_net=self.safety_net)
        self.auto_deploy = AutoDeploy(self, "AutoDeploy", triggers=settings.auto_deploy,
                                      state_machine=self.state_machine) if settings.auto_deploy else None
        self.ci = CiAccess(self, "Ci", targets=self.targets, github=settings.github)
        self.approvers = ApproverAccess(self, "Approvers", targets=self.targets)
        self.notifications = Notifications(
            self, "Notifications", alarm_name_prefix=f"{settings.state_machine_name}-",
            emails=settings.notification_emails) if settings.wants_topic else None
        self.monitoring = Monitoring(
            self, "Monitoring", name=settings.state_machine_name, state_machine=self.state_machine,
            functions=self.tasks.functions, log_groups={state: t.log_group for state, t in self.tasks.tasks.items()},
            dead_letters=self.safety_net.dead_letters, lock_alarm_after=Duration.minutes(settings.lock_alarm_minutes),
            topic=self.notifications.topic if self.notifications else None,
        )
        self.prunes = ScheduledPrunes(self, "ScheduledPrunes", schedule=settings.prune_schedule,
                                      state_machine=self.state_machine) if settings.prune_schedule else None
