"""Settings from CDK context: cdk.json gives JSON, ``-c key=value`` gives strings; bad values fail the synth."""

from __future__ import annotations

import pytest
from aws_cdk import App
from aws_cdk import aws_logs as logs

from infra import ConfigurationError, DeployerSettings, GithubOidc, cdk_json_context
from infra.settings import retention_by_days


def from_context(**context) -> DeployerSettings:
    return DeployerSettings.from_context(App(context=context).node)


def with_repositories(**context) -> DeployerSettings:
    return from_context(**{"repositories": ["orders", "payments"], **context})


def test_with_only_the_repositories_given_the_defaults_apply():
    settings = from_context(repositories="orders")

    assert settings == DeployerSettings(repositories=("orders",))
    assert settings.state_machine_name == "lambda-deployer"
    assert settings.auto_deploy == {}
    assert settings.log_retention is logs.RetentionDays.ONE_MONTH
    assert settings.history_retention_days == 365
    assert settings.github is None


@pytest.mark.parametrize("context", [{}, {"repositories": ""}, {"repositories": []}])
def test_the_repositories_are_required_so_that_every_repository_is_never_a_default(context):
    with pytest.raises(ConfigurationError, match=r"repositories is required.*'\*' allows every repository"):
        from_context(**context)
    with pytest.raises(ConfigurationError, match="repositories is required"):
        DeployerSettings()


def test_every_repository_of_the_account_is_allowed_when_asked_for_explicitly():
    assert from_context(repositories="*").repositories == ("*",)


def test_context_from_the_command_line_arrives_as_strings():
    settings = from_context(
        stateMachineName="deployer", functionNamePrefix="team-", repositories="orders, payments",
        autoDeploy='{"orders": ["main", "release-*"]}', logRetentionDays="14", historyRetentionDays="90",
        logLevel="DEBUG",
        powertoolsLayerVersion="40", githubRepository="acme/orders", createGithubOidcProvider="true",
    )

    assert settings == DeployerSettings(
        state_machine_name="deployer", function_name_prefix="team-", repositories=("orders", "payments"),
        auto_deploy={"orders": ("main", "release-*")}, log_retention=logs.RetentionDays.TWO_WEEKS,
        history_retention_days=90, log_level="DEBUG", powertools_layer_version=40,
        github=GithubOidc(repository="acme/orders", create_provider=True),
    )


def test_context_from_cdk_json_arrives_as_json():
    settings = from_context(repositories=["orders"], autoDeploy={"orders": ["main"]}, logRetentionDays=365,
                            githubRepository="acme/orders", githubOidcProviderArn="arn:aws:iam::1:oidc-provider/x")

    assert settings.repositories == ("orders",)
    assert settings.auto_deploy == {"orders": ("main",)}
    assert settings.log_retention is logs.RetentionDays.ONE_YEAR
    assert settings.github.provider_arn == "arn:aws:iam::1:oidc-provider/x"


@pytest.mark.parametrize("context, problem", [
    ({"historyRetentionDays": -1}, "historyRetentionDays"),
    ({"historyRetentionDays": "a year"}, "historyRetentionDays: expected a whole number"),
    ({"stateMachineName": "two words"}, "stateMachineName"),
    ({"stateMachineName": 7}, "stateMachineName: expected a string"),
    ({"functionNamePrefix": "team/"}, "functionNamePrefix"),
    ({"repositories": ["Orders"]}, "repositories"),
    ({"repositories": {"orders": 1}}, "expected a list of names"),
    ({"autoDeploy": "{not json"}, "autoDeploy: not valid JSON"),
    ({"autoDeploy": {"orders": ["main"]}, "repositories": ["payments"]}, "not among the repositories"),
    ({"logRetentionDays": 31}, "logRetentionDays: CloudWatch Logs keeps logs for one of 1, 3, 5"),
    ({"logRetentionDays": "a month"}, "logRetentionDays: expected a whole number"),
    ({"logLevel": "LOUD"}, "logLevel"),
    ({"powertoolsLayerVersion": 0}, "powertoolsLayerVersion"),
    ({"githubSubject": "repo:acme/orders:*"}, "githubSubject need githubRepository"),
    ({"githubRepository": "acme/orders", "createGithubOidcProvider": "yes"}, "createGithubOidcProvider"),
])
def test_a_bad_setting_fails_the_synth_naming_it(context, problem):
    with pytest.raises(ConfigurationError, match=problem):
        with_repositories(**context)


def test_retention_days_are_cdk_retention_choices():
    assert retention_by_days()[30] is logs.RetentionDays.ONE_MONTH
    assert retention_by_days()[3653] is logs.RetentionDays.TEN_YEARS
    assert logs.RetentionDays.INFINITE not in retention_by_days().values()


def test_the_project_cdk_json_holds_feature_flags_and_an_app_without_cdk_json_has_no_context(tmp_path):
    assert cdk_json_context()["@aws-cdk/aws-iam:minimizePolicies"] is True
    assert cdk_json_context(tmp_path / "cdk.json") == {}


def test_a_topic_comes_with_addresses_or_by_itself_and_addresses_must_be_addresses():
    assert with_repositories().wants_topic is False
    assert with_repositories(notificationsTopic="true").wants_topic is True
    settings = with_repositories(notificationEmails="oncall@example.com, team@example.com")
    assert settings.notification_emails == ("oncall@example.com", "team@example.com") and settings.wants_topic
    assert with_repositories(notificationEmails=["oncall@example.com"]).notification_emails == ("oncall@example.com",)
    with pytest.raises(ConfigurationError, match="'oncall' is not an email address"):
        with_repositories(notificationEmails="oncall")


def test_the_lock_alarm_waits_at_least_two_reconciler_runs():
    assert with_repositories().lock_alarm_minutes == 720
    assert with_repositories(lockAlarmMinutes="90").lock_alarm_minutes == 90
    with pytest.raises(ConfigurationError, match="lockAlarmMinutes 5: a whole number of minutes, at least 10"):
        with_repositories(lockAlarmMinutes=5)
