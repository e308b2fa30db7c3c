"""Reading what uses a function's versions: every list call paginated (boto3 paginators).

ListVersionsByFunction answers at most 50 versions a page and ListEventSourceMappings at most 100 (Lambda API
reference, ``MaxItems``); a function with thousands of versions takes many pages, and each page is one request
of the account's shared control-plane rate, which the clients' adaptive retries respect. Functions are named by
name (moto reads an ARN in these paths as a name; Lambda takes either).
"""

from __future__ import annotations

from handlers.domain.pruning import Version


def _all(lam, operation: str, key: str, **params) -> list[dict]:
    return [item for page in lam.get_paginator(operation).paginate(**params) for item in page.get(key, [])]


def versions(lam, function: str) -> list[Version]:
    """Every published version with its ``CodeSize`` and ``PackageType`` (``$LATEST`` left out)."""
    return [Version.from_configuration(config)
            for config in _all(lam, "list_versions_by_function", "Versions", FunctionName=function)
            if config["Version"] != "$LATEST"]


def aliases(lam, function: str) -> list[dict]:
    return _all(lam, "list_aliases", "Aliases", FunctionName=function)


def provisioned(lam, function: str) -> list[dict]:
    """Provisioned concurrency configurations; ``FunctionArn`` names the version or alias each is on."""
    return _all(lam, "list_provisioned_concurrency_configs", "ProvisionedConcurrencyConfigs",
                FunctionName=function)


def mappings(lam, function_arn: str) -> list[dict]:
    """Event source mappings that invoke this function, on any qualifier. A mapping's ``FunctionArn`` is the
    ARN it was created with (unqualified, a version's or an alias'); the API reference does not say whether
    filtering by the unqualified function returns mappings on its versions and aliases, so every mapping of the
    Region is read and matched here (ListEventSourceMappings has no resource-level permission either)."""
    return [mapping for mapping in _all(lam, "list_event_source_mappings", "EventSourceMappings")
            if (arn := mapping.get("FunctionArn") or "") == function_arn or arn.startswith(function_arn + ":")]


def code_storage(lam) -> dict:
    """The Region's code storage against its quota (GetAccountSettings): ``AccountUsage.TotalCodeSize`` is what
    .zip packages and layers take; container images live in ECR and do not count towards it."""
    settings = lam.get_account_settings()
    used = settings.get("AccountUsage", {}).get("TotalCodeSize")
    limit = settings.get("AccountLimit", {}).get("TotalCodeSize")
    return {"usedBytes": used, "quotaBytes": limit,
            "usedPercent": round(100 * used / limit, 2) if used is not None and limit else None}
