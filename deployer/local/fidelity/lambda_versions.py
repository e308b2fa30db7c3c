"""Lambda's versions as AWS documents them, where moto 5.2.5 differs (MOTO_GAPS.md, "Lambda").

- DeleteFunction with a ``Qualifier``: "You can't delete a version that an alias references" (DeleteFunction
  API reference; ResourceConflictException, 409), primary version or routing alike; the qualifier names a
  version, never ``$LATEST`` or an alias ("You can only specify a function version, not an alias name"). moto
  deletes whatever it is given, an alias' version included.
- ListVersionsByFunction "returns a maximum of 50 items in each response, even if you set the number higher"
  (API reference, ``MaxItems``), with ``NextMarker``; moto answers every version in one page, so a caller that
  ignores pagination would pass here and miss versions on AWS.
- Provisioned concurrency (Put/Get/List/DeleteProvisionedConcurrencyConfig) and GetAccountSettings are not in
  moto at all. Configurations are kept per function and qualifier (a version or an alias, never ``$LATEST``:
  "Provisioned Concurrency Configs cannot be applied to unpublished function versions"); ``allocation_seconds``
  is how long one stays ``IN_PROGRESS`` before ``READY`` (AWS: minutes). GetAccountSettings'
  ``AccountUsage.TotalCodeSize`` is what .zip packages take, every version counted ("Each function version and
  layer version consumes storage"); container images are stored in ECR and take none (Lambda quotas page).
  The limit is the quotas page's 75 GB default.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from urllib.parse import unquote

from moto.awslambda import exceptions as lambda_errors
from moto.awslambda import urls as lambda_urls
from moto.awslambda.models import LambdaBackend
from moto.awslambda.responses import LambdaResponse

from deployer.local.patching import Patch, original

PAGE = 50
CODE_STORAGE_LIMIT = 75 * 1024**3
_LOCK = threading.Lock()


class ResourceConflictException(lambda_errors.LambdaClientError):
    def __init__(self, message: str):
        super().__init__("ResourceConflictException", message)


def _configs(backend: LambdaBackend) -> dict[tuple[str, str], dict]:
    """(function name, qualifier) -> configuration, kept on moto's backend (one per account and Region)."""
    with _LOCK:
        if not hasattr(backend, "_emulator_provisioned"):
            backend._emulator_provisioned = {}
        return backend._emulator_provisioned


def _function_name(path: str, before: str) -> str:
    parts = path.split("?")[0].rstrip("/").split("/")
    return unquote(parts[parts.index(before) - 1] if before in parts else parts[-1]).split(":function:")[-1]


def _referencing_aliases(backend: LambdaBackend, function: str, version: str) -> list[str]:
    found = []
    for alias in backend.list_aliases(function):
        weights = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
        if str(alias.function_version) == version or version in weights:
            found.append(alias.name)
    return found


def patches(*, allocation_seconds: float = 0.0) -> list[Patch]:
    moto = {
        "delete_function": original(LambdaResponse, "delete_function"),
        "list_versions": original(LambdaResponse, "list_versions_by_function"),
    }

    def delete_function(self):
        qualifier = self._get_param("Qualifier", None)
        name = unquote(self.path.rsplit("/", 1)[-1]).split(":function:")[-1].split(":")[0]
        if qualifier is not None:
            if not qualifier.isdigit():
                raise lambda_errors.InvalidParameterValueException(
                    f"Qualifier {qualifier} is not a version: only a published version can be deleted with "
                    "Qualifier (not $LATEST, not an alias)")
            function = self.backend.get_function(name, qualifier)  # ResourceNotFoundException when absent
            if aliases := _referencing_aliases(self.backend, name, qualifier):
                raise ResourceConflictException(
                    f"Unable to delete version {qualifier} of {function.function_name} because it is referenced "
                    f"by alias(es) {', '.join(aliases)}")
            _configs(self.backend).pop((name, qualifier), None)
        return moto["delete_function"](self)

    def list_versions_by_function(self):
        status_and_body = moto["list_versions"](self)
        body = json.loads(status_and_body if isinstance(status_and_body, str) else status_and_body[2])
        versions = body["Versions"]
        start = int(self.querystring.get("Marker", ["0"])[0] or 0)
        size = min(int(self.querystring.get("MaxItems", [PAGE])[0] or PAGE), PAGE)
        page = {"Versions": versions[start:start + size]}
        if start + size < len(versions):
            page["NextMarker"] = str(start + size)
        return json.dumps(page)

    def _qualified(self) -> tuple[str, str, object]:
        name = _function_name(self.path, "provisioned-concurrency")
        qualifier = self.querystring.get("Qualifier", [None])[0]
        if not qualifier or qualifier == "$LATEST":
            raise lambda_errors.InvalidParameterValueException(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        function = self.backend.get_function(name, qualifier)  # an alias resolves to its version
        return name, qualifier, function

    def _status(config: dict) -> dict:
        ready = time.monotonic() >= config["_readyAt"]
        requested = config["RequestedProvisionedConcurrentExecutions"]
        return {key: value for key, value in {
            **config, "Status": "READY" if ready else "IN_PROGRESS",
            "AvailableProvisionedConcurrentExecutions": requested if ready else 0,
            "AllocatedProvisionedConcurrentExecutions": requested if ready else 0,
        }.items() if not key.startswith("_")}

    def put_provisioned_concurrency_config(self):
        name, qualifier, function = _qualified(self)
        requested = int(json.loads(self.body or "{}")["ProvisionedConcurrentExecutions"])
        arn = f"{function.function_arn.split(':function:')[0]}:function:{name}:{qualifier}"
        config = {"FunctionArn": arn, "RequestedProvisionedConcurrentExecutions": requested,
                  "LastModified": datetime.now(UTC).isoformat(timespec="seconds"),
                  "_readyAt": time.monotonic() + allocation_seconds}
        _configs(self.backend)[(name, qualifier)] = config
        answer = {k: v for k, v in _status(config).items() if k != "FunctionArn"}
        return 202, {"status": 202}, json.dumps(answer)

    def get_provisioned_concurrency_config(self):
        name, qualifier, _ = _qualified(self)
        config = _configs(self.backend).get((name, qualifier))
        if config is None:
            raise lambda_errors.LambdaClientError(
                "ProvisionedConcurrencyConfigNotFoundException",
                f"No Provisioned Concurrency Config found for this function: {name}:{qualifier}")
        return json.dumps({k: v for k, v in _status(config).items() if k != "FunctionArn"})

    def delete_provisioned_concurrency_config(self):
        name, qualifier, _ = _qualified(self)
        _configs(self.backend).pop((name, qualifier), None)
        return 204, {"status": 204}, ""

    def list_provisioned_concurrency_configs(self):
        name = _function_name(self.path, "provisioned-concurrency")
        self.backend.get_function(name)  # ResourceNotFoundException for an unknown function
        found = [_status(config) for (function, _), config in sorted(_configs(self.backend).items())
                 if function == name]
        return json.dumps({"ProvisionedConcurrencyConfigs": found})

    def get_account_settings(self):
        used = sum(fn.code_size or 0 for fn in self.backend._lambdas.all() if fn.package_type == "Zip")
        count = len(list(self.backend._lambdas.latest()))
        return json.dumps({
            "AccountLimit": {"TotalCodeSize": CODE_STORAGE_LIMIT, "CodeSizeUnzipped": 262144000,
                             "CodeSizeZipped": 52428800, "ConcurrentExecutions": 1000,
                             "UnreservedConcurrentExecutions": 1000},
            "AccountUsage": {"TotalCodeSize": used, "FunctionCount": count},
        })

    routes = dict(lambda_urls.url_paths)
    routes[r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/provisioned-concurrency/?$"] = (
        LambdaResponse.dispatch)
    routes[r"{0}/(?P<api_version>[^/]+)/account-settings/?$"] = LambdaResponse.dispatch

    return [
        Patch(LambdaResponse, "delete_function", delete_function, ("self",), uses=("backend", "_get_param"),
              why="DeleteFunction refuses a version an alias references (409) and a qualifier that is no version"),
        Patch(LambdaResponse, "list_versions_by_function", list_versions_by_function, ("self",),
              why="ListVersionsByFunction answers 50 versions a page, with NextMarker"),
        Patch(lambda_urls, "url_paths", routes, None, why="the provisioned concurrency and account settings paths"),
        Patch(LambdaResponse, "put_provisioned_concurrency_config", put_provisioned_concurrency_config, None,
              adds=True, uses=("backend",), why="PutProvisionedConcurrencyConfig"),
        Patch(LambdaResponse, "get_provisioned_concurrency_config", get_provisioned_concurrency_config, None,
              adds=True, uses=("backend",), why="GetProvisionedConcurrencyConfig"),
        Patch(LambdaResponse, "delete_provisioned_concurrency_config", delete_provisioned_concurrency_config, None,
              adds=True, uses=("backend",), why="DeleteProvisionedConcurrencyConfig"),
        Patch(LambdaResponse, "list_provisioned_concurrency_configs", list_provisioned_concurrency_configs, None,
              adds=True, uses=("backend",), why="ListProvisionedConcurrencyConfigs"),
        Patch(LambdaResponse, "get_account_settings", get_account_settings, None, adds=True, uses=("backend",),
              why="GetAccountSettings: code storage used (zip versions) against the 75 GB quota"),
    ]
