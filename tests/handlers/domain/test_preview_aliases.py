"""Preview alias names: valid for Lambda, stable for a branch, never shared by two branches."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.domain import previews
from handlers.domain.errors import InvalidDeploymentRequest

# CreateAlias Name: 1-128 characters, pattern (?!^[0-9]+$)([a-zA-Z0-9-_]+) (Lambda API reference)
LAMBDA_ALIAS = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}$")
BRANCHES = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1,
                   max_size=previews.MAX_BRANCH).filter(lambda b: b.strip() and not any(
                       0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 or 0x7F <= ord(c) <= 0x9F
                       for c in b))


def test_a_branch_that_is_already_a_valid_name_keeps_it():
    assert previews.alias_for("feature-login") == "preview-feature-login"


def test_slashes_and_dots_are_replaced_and_a_hash_keeps_the_result_apart_from_the_plain_name():
    slashed = previews.alias_for("feature/login.v2")
    assert re.fullmatch(r"preview-feature-login-v2-[0-9a-f]{8}", slashed)
    assert slashed != previews.alias_for("feature-login-v2") != previews.alias_for("feature.login/v2")


def test_a_long_branch_is_cut_to_lambdas_128_characters_and_stays_unique():
    long = "a" * 200
    assert len(previews.alias_for(long)) == 128 and previews.alias_for(long) != previews.alias_for(long + "b")


@given(BRANCHES)
def test_every_branch_gives_a_valid_stable_alias(branch):
    alias = previews.alias_for(branch)
    assert LAMBDA_ALIAS.match(alias) and alias == previews.alias_for(branch)


@given(BRANCHES, BRANCHES)
def test_two_branches_never_share_an_alias(one, other):
    if one != other:
        assert previews.alias_for(one) != previews.alias_for(other)


@pytest.mark.parametrize("branch", ["", "   ", "x" * (previews.MAX_BRANCH + 1), "feat\x1b[31m", 7])
def test_what_is_no_branch_name_is_refused(branch):
    with pytest.raises(InvalidDeploymentRequest, match="'preview'"):
        previews.alias_for(branch)


def test_the_branch_is_read_back_from_the_description_the_deployer_writes():
    assert previews.branch_of({"Description": previews.description("feature/x")}) == "feature/x"
    assert previews.branch_of({"Description": "made by hand"}) is None
