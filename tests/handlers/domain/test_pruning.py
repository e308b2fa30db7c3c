"""The pruning rules without AWS: what is in use stays, the newest N stay, the rest goes oldest first."""

from __future__ import annotations

import pytest

from handlers.domain import pruning
from handlers.domain.errors import InvalidDeploymentRequest
from handlers.domain.pruning import Uses, Version

FN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
ALIASES = [{"Name": "live", "FunctionVersion": "7", "RoutingConfig": {"AdditionalVersionWeights": {"8": 0.25}}},
           {"Name": "blue", "FunctionVersion": "2"}]


def versions(count: int, **sizes) -> list[Version]:
    return [Version("$LATEST")] + [Version(str(n), sizes.get(f"v{n}", 10), "Zip") for n in range(1, count + 1)]


def test_aliases_keep_their_primary_and_routed_versions():
    assert Uses().aliases(ALIASES).reasons == {"7": ["alias live"], "8": ["alias live routes 25% to it"],
                                               "2": ["alias blue"]}


def test_a_configuration_on_an_alias_keeps_that_alias_versions_and_one_on_another_function_nothing():
    uses = Uses().provisioned(FN, [{"FunctionArn": f"{FN}:blue"}, {"FunctionArn": f"{FN}:4"},
                                   {"FunctionArn": f"{FN}-other:5"}], ALIASES)
    assert uses.reasons == {"2": ["provisioned concurrency (on alias blue)"], "4": ["provisioned concurrency"]}


def test_a_mapping_on_the_unqualified_function_runs_latest_and_keeps_no_version():
    uses = Uses().mappings(FN, [{"FunctionArn": FN, "UUID": "u1"}, {"FunctionArn": f"{FN}:3", "UUID": "u2"}], [])
    assert uses.reasons == {"3": ["event source mapping u2"]}


def test_recent_production_moves_are_kept_but_a_previews_record_keeps_nothing():
    records = [{"execution": "x:one", "fromVersion": "4", "toVersion": "5"},
               {"execution": "x:two", "kind": "preview", "fromVersion": "1", "toVersion": "9"}]
    assert set(Uses().recent(records).reasons) == {"4", "5"}


def test_the_plan_keeps_the_newest_and_the_used_and_deletes_the_rest_oldest_first():
    plan = pruning.plan(versions(10), 2, Uses().aliases(ALIASES))
    assert plan.delete == ("1", "3", "4", "5", "6") and plan.total == 10 and plan.more == 0
    assert plan.kept["10"] == ["one of the newest 2"] and plan.kept["8"] == ["alias live routes 25% to it"]
    assert plan.zip_bytes == {v: 10 for v in plan.delete}


def test_image_versions_free_no_lambda_code_storage():
    plan = pruning.plan([Version("1", 999, "Image"), Version("2", 5, "Zip"), Version("3", 1, "Zip")], 1, Uses())
    assert plan.delete == ("1", "2") and plan.zip_bytes == {"2": 5}


def test_deleting_only_a_previews_versions_ignores_the_newest_rule():
    plan = pruning.plan(versions(5), None, Uses().aliases(ALIASES), only=frozenset({"5", "2"}))
    assert plan.delete == ("5",) and plan.kept == {"2": ["alias blue"]}


@pytest.mark.parametrize("keep", [0, -1, 1001, "3", True, 2.5])
def test_keep_must_be_a_whole_number_of_versions(keep):
    with pytest.raises(InvalidDeploymentRequest, match="'keep'"):
        pruning.parse_keep(keep)


def test_only_kept_image_versions_keep_a_tag():
    mixed = [Version("1", 0, "Image"), Version("2", 10, "Zip"), Version("3", 0, "Image"), Version("4", 0, "Image")]
    plan = pruning.plan(mixed, 2, Uses().aliases([{"Name": "live", "FunctionVersion": "1"}]))
    assert plan.delete == ("2",) and plan.kept_images == ["1", "3", "4"]


A, B, C = ("sha256:" + c * 64 for c in "abc")
TAG = {v: f"orders.v{v}.previous" for v in ("3", "4", "5", "6")}


def test_a_deleted_versions_tag_goes_when_its_image_keeps_another_tag():
    remove, left = pruning.untagging({"3": TAG["3"]}, {TAG["3"]: A}, {A: [TAG["3"], "orders.v9.previous"]})
    assert remove == {"3": TAG["3"]} and left == {}


def test_the_last_tag_of_an_image_stays_so_the_image_is_never_deleted():
    remove, left = pruning.untagging({"3": TAG["3"]}, {TAG["3"]: A}, {A: [TAG["3"]]})
    assert remove == {} and left == {"3": pruning.LAST_TAG}


def test_of_several_deleted_versions_sharing_an_untagged_image_the_newest_keeps_its_tag():
    wanted = {v: TAG[v] for v in ("4", "3", "5", "6")}
    found = {TAG["3"]: A, TAG["4"]: A, TAG["5"]: B, TAG["6"]: B}
    remove, left = pruning.untagging(wanted, found, {A: [TAG["3"], TAG["4"]], B: [TAG["5"], TAG["6"], "release-7"]})
    assert remove == {"3": TAG["3"], "5": TAG["5"], "6": TAG["6"]} and left == {"4": pruning.LAST_TAG}


def test_a_tag_that_is_not_there_or_whose_image_went_is_nothing_to_do():
    remove, left = pruning.untagging({"3": TAG["3"], "4": TAG["4"]}, {TAG["4"]: C}, {})
    assert remove == {} and left == {}
