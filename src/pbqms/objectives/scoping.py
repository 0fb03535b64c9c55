"""Scope of the system-building areas (policy, objectives, processes): a unit sees its own
subtree (the usual org scope) and also what the committees *above* it have set — a branch
reads the policy and the process map of its 党委. The ancestors of a unit are the prefixes
of its materialised path, so this is one indexed ``path IN (...)`` filter."""

from __future__ import annotations

from django.db.models import Q

from pbqms.core import scope

STEP = 4  # treebeard's step length


def ancestor_paths(path: str) -> list[str]:
    return [path[:i] for i in range(STEP, len(path), STEP)]


def ancestors_q(user, perm: str, field: str = "org") -> Q | None:
    paths: set[str] = set()
    for grant in scope.grants_for(user, perm):
        paths.update(ancestor_paths(grant.path))
    if not paths:
        return None
    return Q(**{f"{field}__path__in": sorted(paths)})
