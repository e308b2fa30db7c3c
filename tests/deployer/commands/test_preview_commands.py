"""``deploy --preview``, ``previews``, ``preview-delete`` and ``prune`` on the emulator."""

from __future__ import annotations

from support import deploy_args

from deployer.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from handlers.domain import previews


def test_deploy_preview_publishes_the_branch_and_says_production_is_untouched(fast_world, cli):
    done = cli("--output", "json", "deploy", "--function", "orders-api", "--image", fast_world.fn.image(fast_world.v2),
               "--preview", "feature/login")

    assert done.code == EXIT_OK, done.err
    document = done.json()
    assert (document["kind"], document["outcome"], document["preview"]) == ("preview", "previewed", "feature/login")
    assert (document["alias"], document["version"], document["liveVersion"]) == (
        previews.alias_for("feature/login"), "2", "1")
    assert "production is untouched" in done.err
    assert f"PointPreview       alias {previews.alias_for('feature/login')} → version 2" in done.err
    assert "ReleaseLatest      $LATEST →" in done.err
    assert fast_world.settled_on() == "1"


def test_a_preview_with_a_strategy_is_a_usage_error_naming_the_option(fast_world, cli):
    done = cli(*deploy_args(fast_world, fast_world.v2, "--preview", "x", "--strategy", "Canary10Percent5Minutes"))
    assert done.code == EXIT_USAGE and "--strategy" in done.err and "--alarm" in done.err


def test_previews_lists_each_branch_with_its_version_and_image(fast_world, cli):
    for branch, digest in (("feature/a", fast_world.v2), ("fix-b", fast_world.v3)):
        assert fast_world.emulator.run(fast_world.request(digest, preview=branch)).status == "SUCCEEDED"

    done = cli("--output", "json", "previews", "orders-api")

    assert done.code == EXIT_OK
    assert {(p["branch"], p["version"], p["digest"]) for p in done.json()["previews"]} == {
        ("feature/a", "2", fast_world.v2), ("fix-b", "3", fast_world.v3)}
    assert "feature/a" in cli("previews", "orders-api").out


def test_preview_delete_removes_the_alias_and_its_unused_version(fast_world, cli):
    fast_world.emulator.run(fast_world.request(fast_world.v2, preview="feature/a"))

    done = cli("preview-delete", "orders-api", "feature/a")

    assert done.code == EXIT_OK, done.err
    assert "deleted alias(es): " + previews.alias_for("feature/a") in done.out
    assert fast_world.versions() == ["1"]
    assert cli("preview-delete", "orders-api", "feature/a").code == EXIT_FAILED  # nothing left to delete


def test_prune_shows_what_would_go_and_deletes_only_with_apply(fast_world, cli):
    lam = fast_world.emulator.client("lambda")
    for digest in (fast_world.v2, fast_world.v3):
        lam.update_function_code(FunctionName="orders-api", ImageUri=fast_world.fn.image(digest))
        lam.publish_version(FunctionName="orders-api")

    shown = cli("--output", "json", "prune", "orders-api", "--keep", "1")
    assert shown.code == EXIT_OK, shown.err
    assert shown.json()["outcome"] == "dryRun" and shown.json()["report"]["toDelete"] == ["2"]
    assert "would delete 1 of 3 versions: 2" in shown.err and "kept      1: alias live" in shown.err
    assert "image tags: would tag 2 kept version(s)' images in " in shown.err and ": 1, 3\n" in shown.err
    assert sorted(fast_world.versions()) == ["1", "2", "3"]

    applied = cli("--output", "json", "prune", "orders-api", "--keep", "1", "--apply")
    assert applied.code == EXIT_OK, applied.err
    assert applied.json()["report"]["deleted"] == ["2"] and sorted(fast_world.versions()) == ["1", "3"]
    assert "Prune              deleted 1, 0 to go, 2 kept, 2 image(s) tagged" in applied.err
    assert "image tags: tagged 2 (1, 3), removed 0 (none)" in applied.err
    assert applied.json()["report"]["imageTags"]["left"] == {}  # version 2 never had a tag to remove
    assert cli("prune", "orders-api", "--apply", "--dry-run").code == EXIT_USAGE
    assert cli("prune", "orders-api", "--keep", "0").code == EXIT_USAGE
