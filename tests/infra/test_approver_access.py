"""The approver policy: answering gates and promoting, apart from deploying (issue 11.1)."""

from __future__ import annotations

from synthesized import configured_deployer  # noqa: F401 (fixture)


def policies(configured) -> dict[str, dict]:
    found = configured.of_type("AWS::IAM::ManagedPolicy").values()
    return {p["Properties"]["Description"].split(":")[0]: p for p in found}


def test_the_approver_policy_answers_task_tokens_and_writes_only_the_deployments_table(configured):
    approver = policies(configured)["lambda-deployer approvers"]
    grants = configured.grants(approver["Properties"]["PolicyDocument"]["Statement"])

    table = {r for a, r, _ in grants if a.startswith("dynamodb:")}
    assert len(table) == 1 and next(iter(table)).startswith("<DeployerDeployments")  # the table itself, no index
    (table,) = table
    assert {(action, resource) for action, resource, _ in grants} == {
        ("states:SendTaskSuccess", "*"), ("states:SendTaskFailure", "*"),
        ("dynamodb:GetItem", table), ("dynamodb:UpdateItem", table),
    }


def test_deploying_and_approving_are_separate_policies_sharing_no_action(configured):
    found = policies(configured)
    ci = {a for a, _, _ in configured.grants(found["lambda-deployer CI"]["Properties"]["PolicyDocument"]["Statement"])}
    approver = {a for a, _, _ in configured.grants(
        found["lambda-deployer approvers"]["Properties"]["PolicyDocument"]["Statement"])}

    assert not {"states:SendTaskSuccess", "states:SendTaskFailure", "dynamodb:UpdateItem"} & ci
    assert not {"states:StartExecution", "states:StopExecution"} & approver
    configured.template.has_output("ApproverPolicyArn", {})
