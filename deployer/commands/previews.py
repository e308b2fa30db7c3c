"""``previews``: a function's preview aliases, the branch each was made for, its version and image."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from deployer.commands import connect, function_argument
from deployer.console import Console
from deployer.errors import EXIT_OK, NotStarted
from handlers.aws import versions
from handlers.domain import previews
from handlers.domain.images import digest_of, pinned_image, short


def run(args, console: Console) -> int:
    function = function_argument(args.function)
    lam = connect(args).client("lambda")
    try:
        found = [alias for alias in versions.aliases(lam, function) if previews.is_preview(alias["Name"])]
        rows = [{"alias": alias["Name"], "branch": previews.branch_of(alias), "version": alias["FunctionVersion"],
                 "digest": digest_of(pinned_image(lam.get_function(FunctionName=function,
                                                                   Qualifier=alias["FunctionVersion"])["Code"]))}
                for alias in found]
    except (BotoCoreError, ClientError) as exc:
        raise NotStarted(f"cannot read the aliases of {function}: {exc}") from None
    if not rows:
        console.show(f"{function} has no preview aliases")
    for row in rows:
        console.show(f"  {row['alias']:<40} version {row['version']:<6} {short(row['digest']) or '-':<14} "
                     f"branch {row['branch'] or '(not made by lambda-deployer)'}")
    console.emit({"function": function, "previews": rows})
    return EXIT_OK
