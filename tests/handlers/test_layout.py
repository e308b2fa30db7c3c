"""The layout the import contracts rely on: ``handlers/`` holds entry points only, each in the catalog and in
the layering contract (an entry point missing from the contract would escape it)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import handlers
from handlers.domain.catalog import EVENT_HANDLERS, TASKS

ROOT = Path(handlers.__file__).parent


def _contracts() -> list[dict]:
    config = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def test_the_top_level_of_handlers_holds_exactly_the_catalogs_entry_points():
    top_level = {path.stem for path in ROOT.glob("*.py") if path.stem != "__init__"}
    entry_points = {path.split(".")[1] for path in {*TASKS.values(), *EVENT_HANDLERS.values()}}
    assert top_level == entry_points
    assert {path.name for path in ROOT.iterdir() if path.is_dir() and path.name != "__pycache__"} == {"aws", "domain"}


def test_every_entry_point_is_in_the_layering_contract_and_forbidden_to_the_cli_and_cdk():
    entry_points = {path.split(".")[1] for path in {*TASKS.values(), *EVENT_HANDLERS.values()}}
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    assert {name.strip() for name in layers[0].split("|")} == entry_points
    forbidden = next(c for c in _contracts() if c.get("source_modules") == ["deployer", "infra"])["forbidden_modules"]
    assert set(forbidden) == {f"handlers.{name}" for name in entry_points}
