"""Lambda's versions as AWS documents them, where moto 5.2.5 differs (MOTO_GAPS.md, "Lambda").

- DeleteFunction with a ``Qualifier``: "You can't delete a version that an alias references" (DeleteFunction
  API reference; ResourceConflictException, 409), primary version or routing alike; the qualifier names a
  version, never ``$LATEST`` or an alias ("You can only specify a function version, not an alias name"). moto
  deletes whatever it is given, an alias' version included.
- ListVersionsByFunction "returns a maximum of 50 items in each response, even if you set the number higher"
  (API reference, ``MaxItems``), with ``NextMarker``; moto answers every version in one page, so a caller that
  ignores pagination would pass here and miss versions on AWS.
- Provisioned concurrency (Put/Get/List/DeleteProvisionedConcurrencyConfig) is not in moto at all: moto answers
  it here from the emulator's model (``deployer.local.readiness``: allocation time, re-allocation on a weighted
  alias, FAILED), so in process and through ``local serve`` alike. A configuration is on a version or an alias,
  never ``$LATEST`` (InvalidParameterValueException "Provisioned Concurrency Configs cannot be applied to
  unpublished function versions."); Put answers 202, Delete 204 (PutProvisionedConcurrencyConfig and
  DeleteProvisionedConcurrencyConfig API references); a missing one is ProvisionedConcurrencyConfigNotFoundException,
  404, "No Provisioned Concurrency Config found for this function" (serverless/serverless#10897 quotes Lambda's
  answer; Delete answers the same, though its documented errors omit it: a guess); ListProvisionedConcurrencyConfigs'
  ``FunctionArn`` is "The Amazon Resource Name (ARN) of the alias or version" (ProvisionedConcurrencyConfigListItem),
  at most 50 a page (``MaxItems`` 1-50). A function's configurations go with it: "Otherwise, all versions and
  aliases are deleted" (DeleteFunction without ``Qualifier``).
- GetAccountSettings is not in moto either. ``AccountUsage.TotalCodeSize`` is what .zip packages take, every
  version counted ("Each function version and layer version consumes storage"); container images are stored in
  ECR and take none (Lambda quotas page). The limit is the quotas page's 75 GB default.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from moto.awslambda import exceptions as lambda_errors
from moto.awslambda import urls as lambda_urls
from moto.awslambda.models import LambdaBackend
from moto.awslambda.responses import LambdaResponse
from moto.awslambda.utils import make_function_arn

from deployer.local.patching import Patch, original
from deployer.local.readiness import Readiness

PAGE = 50
CODE_STORAGE_LIMIT = 75 * 1024**3


class ResourceConflictException(lambda_errors.LambdaClientError):
    code = 409  # the DeleteFunction API reference: "HTTP Status Code: 409"

    def __init__(self, message: str):
        super().__init__("ResourceConflictException", message)


class ProvisionedConcurrencyConfigNotFoundException(lambda_errors.LambdaClientError):
    code = 404

    def __init__(self):
        super().__init__("ProvisionedConcurrencyConfigNotFoundException",
                         "No Provisioned Concurrency Config found for this function")


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


def _page(response: LambdaResponse, key: str, items: list) -> dict:
    """At most 50 items a page (both lists' ``MaxItems`` stop at 50), the next page's start as ``NextMarker``."""
    start = int(response.querystring.get("Marker", ["0"])[0] or 0)
    size = min(int(response.querystring.get("MaxItems", [PAGE])[0] or PAGE), PAGE)
    page = {key: items[start:start + size]}
    if start + size < len(items):
        page["NextMarker"] = str(start + size)
    return page


def patches(*, readiness: Readiness | None = None) -> list[Patch]:
    """``readiness``: the emulator's model of provisioned concurrency (and of versions not ready yet)."""
    readiness = readiness or Readiness()
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
            readiness.remove(make_function_arn(function.region, function.account_id, name), qualifier)
            return moto["delete_function"](self)
        function = self.backend.get_function(name)
        answer = moto["delete_function"](self)
        # "Otherwise, all versions and aliases are deleted" (DeleteFunction): their configurations with them
        readiness.remove(make_function_arn(function.region, function.account_id, function.function_name))
        return answer

    def list_versions_by_function(self):
        status_and_body = moto["list_versions"](self)
        body = json.loads(status_and_body if isinstance(status_and_body, str) else status_and_body[2])
        return json.dumps(_page(self, "Versions", body["Versions"]))

    # Provisioned concurrency, answered from the emulator's model (deployer.local.readiness). Every request is
    # validated before the model changes: the function must exist (ResourceNotFoundException, 404), Put names a
    # published version or an alias that exists, never $LATEST.
    def _function(self):
        """The named function's $LATEST and its unqualified ARN (the key of its configurations)."""
        fn = self.backend.get_function(_function_name(self.path, "provisioned-concurrency"))
        return fn, make_function_arn(fn.region, fn.account_id, fn.function_name)

    def _qualifier(self) -> str | None:
        return self.querystring.get("Qualifier", [None])[0]

    def put_provisioned_concurrency_config(self):
        fn, arn = _function(self)
        qualifier = _qualifier(self)
        if qualifier in (None, "", "$LATEST"):
            # AWS's own message (hashicorp/terraform-provider-aws#12120 quotes it): only a version or an alias
            raise lambda_errors.InvalidParameterValueException(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        self.backend.get_function(fn.function_name, qualifier)  # ResourceNotFoundException: no such version/alias
        requested = int(json.loads(self.body or "{}")["ProvisionedConcurrentExecutions"])
        return 202, {"status": 202}, json.dumps(readiness.configure(arn, qualifier, requested))

    def get_provisioned_concurrency_config(self):
        _, arn = _function(self)
        described = readiness.described(arn, _qualifier(self))
        if described is None:
            raise ProvisionedConcurrencyConfigNotFoundException()
        return json.dumps(described)

    def delete_provisioned_concurrency_config(self):
        _, arn = _function(self)
        if not readiness.remove(arn, _qualifier(self)):
            raise ProvisionedConcurrencyConfigNotFoundException()
        return 204, {"status": 204}, ""

    def list_provisioned_concurrency_configs(self):
        _, arn = _function(self)
        return json.dumps(_page(self, "ProvisionedConcurrencyConfigs", readiness.listed(arn)))

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
              why="DeleteFunction refuses a version an alias references (409) and a qualifier that is no version; "
                  "the provisioned concurrency of what it deletes goes with it"),
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
