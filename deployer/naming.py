"""Execution names and who asked: pure functions of the request and the environment (no AWS calls).

A name says what an execution is (``orders-api-1ff76d21ea63-3f2a9c1b``: function, image, request key) and
is the same every time the same CI run asks for the same thing, so a retried CI job finds the execution
its first attempt started instead of deploying twice.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

MAX_NAME = 80  # Step Functions' limit on execution names
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class CiRun:
    """The CI run the CLI runs in: ``identity`` is the same for every attempt (retry) of the run."""

    system: str
    identity: str
    requested_by: str


def _github(env: Mapping[str, str]) -> CiRun | None:
    if not (run := env.get("GITHUB_RUN_ID")):
        return None
    repository = env.get("GITHUB_REPOSITORY", "")
    return CiRun("GitHub Actions", f"github:{repository}:{run}",
                 f"{env.get('GITHUB_ACTOR') or 'someone'} via GitHub Actions run {run} ({repository})")


def _gitlab(env: Mapping[str, str]) -> CiRun | None:
    if not (pipeline := env.get("CI_PIPELINE_ID")):
        return None
    project = env.get("CI_PROJECT_PATH") or env.get("CI_PROJECT_ID", "")
    return CiRun("GitLab CI", f"gitlab:{project}:{pipeline}",
                 f"{env.get('GITLAB_USER_LOGIN') or 'someone'} via GitLab pipeline {pipeline} ({project})")


def _codebuild(env: Mapping[str, str]) -> CiRun | None:
    if not (build := env.get("CODEBUILD_BUILD_ID")):
        return None
    return CiRun("CodeBuild", f"codebuild:{build}",
                 f"{env.get('CODEBUILD_INITIATOR') or 'someone'} via CodeBuild build {build}")


def _build(env: Mapping[str, str]) -> CiRun | None:
    """Jenkins (``BUILD_TAG``) and other systems that set ``BUILD_ID`` (Google Cloud Build, …)."""
    if not (build := env.get("BUILD_TAG") or env.get("BUILD_ID")):
        return None
    system = "Jenkins" if env.get("JENKINS_URL") else "CI"
    return CiRun(system, f"build:{env.get('JOB_NAME', '')}:{build}", f"{system} build {build}")


_DETECTORS = (_github, _gitlab, _codebuild, _build)
# Every variable a detector reads for a run's identity (tests clear them to behave the same inside CI).
CI_VARIABLES = ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "CODEBUILD_BUILD_ID", "BUILD_TAG", "BUILD_ID")


def ci_run(env: Mapping[str, str]) -> CiRun | None:
    """The CI run from its environment variables (the attempt number is deliberately not part of it)."""
    return next((run for detect in _DETECTORS if (run := detect(env))), None)


def requested_by(env: Mapping[str, str]) -> str:
    """Who asked, as the deployment history shows it: the CI run, else ``user@host``."""
    if run := ci_run(env):
        return run.requested_by[:256]
    user = env.get("USER") or env.get("USERNAME") or _login()
    return f"{user}@{socket.gethostname()}"[:256]


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "someone"


def request_key(request: dict, run: CiRun | None) -> str:
    """8 hex of a hash over the request and the CI run: same request in the same run, same key."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{canonical}\n{run.identity if run else ''}".encode()).hexdigest()[:8]


def execution_name(function: str, what: str, key: str, suffix: str | None = None) -> str:
    """``{function}-{what}-{key}[-{suffix}]``, only ``[A-Za-z0-9_-]``, at most 80 characters: the function
    name is shortened if need be, never the parts that make the name unique."""
    tail = "-".join(_UNSAFE.sub("-", part).strip("-") for part in (what, key, suffix) if part)
    room = MAX_NAME - len(tail) - 1
    return f"{_UNSAFE.sub('-', function)[:room].rstrip('-')}-{tail}"


def image_part(image: str) -> str:
    """What names an image in an execution name: 12 hex of its digest, else its tag."""
    if "@sha256:" in image:
        return image.rsplit("@sha256:", 1)[1][:12]
    return image.rsplit(":", 1)[-1][:24]


def code_part(code: str) -> str:
    """What names a zip package in an execution name: its file name without ``.zip`` (the request key, a hash
    of the whole request, tells object versions apart)."""
    return code.split("?", 1)[0].rsplit("/", 1)[-1].removesuffix(".zip")[:24]


def redeploy_suffix(now: datetime) -> str:
    """Appended to a name already used by a finished execution, for a later deployment of the same thing."""
    return now.strftime("%Y%m%dT%H%M%S")
