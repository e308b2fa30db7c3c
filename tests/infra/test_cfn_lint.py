"""cfn-lint finds no error in the synthesized templates."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint
from synthesized import configured_deployer, default_deployer  # noqa: F401 (fixtures)


@pytest.mark.parametrize("name", ["configured", "defaults"])
def test_cfn_lint_reports_no_error(request, name):
    template = request.getfixturevalue(name).template.to_json()

    matches = lint(json.dumps(template), regions=["us-east-1", "eu-west-1"])

    errors = [f"{m.rule.id}: {m.message} ({'/'.join(map(str, m.path))})" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
