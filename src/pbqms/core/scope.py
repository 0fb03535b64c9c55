"""Organisation scope: the one mechanism that decides what a user sees and may change.

A user's role assignments (role + unit + "and its subtree") become *grants* per permission.
``ScopedQuerySet.visible_to(user, perm)`` turns them into one indexed filter on the unit's
materialised path; ``has_perm(user, perm, org)`` answers for one unit. Views, API, exports
and search all use these, never a hand-written filter. Outside the scope is "not found".
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from pbqms.core.roles import permissions_of


@dataclass(frozen=True)
class Grant:
    role: str
    org_id: int
    path: str
    subtree: bool

    def covers(self, org) -> bool:
        if self.subtree:
            return org.path.startswith(self.path)
        return org.pk == self.org_id


def _assignments(user) -> list[Grant]:
    cached = getattr(user, "_pbqms_grants", None)
    if cached is not None:
        return cached
    grants: list[Grant] = []
    if user is not None and user.is_authenticated and user.is_active:
        from pbqms.orgs.models import RoleAssignment

        today = timezone.localdate()
        rows = (
            RoleAssignment.objects.filter(user_id=user.pk)
            .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
            .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
            .values_list("role", "org_id", "org__path", "include_subtree")
        )
        grants = [Grant(role, org_id, path, subtree) for role, org_id, path, subtree in rows]
    if user is not None:
        user._pbqms_grants = grants
    return grants


def clear_cache(user) -> None:
    for attr in ("_pbqms_grants", "_pbqms_own_person"):
        if hasattr(user, attr):
            delattr(user, attr)


def grants_for(user, perm: str) -> list[Grant]:
    return [g for g in _assignments(user) if perm in permissions_of(g.role)]


def roles_of(user) -> set[str]:
    return {g.role for g in _assignments(user)}


def has_perm(user, perm: str, org=None) -> bool:
    """May ``user`` do ``perm`` on ``org`` (or anywhere, when ``org`` is None)?"""
    grants = grants_for(user, perm)
    if org is None:
        return bool(grants)
    return any(g.covers(org) for g in grants)


# treebeard's default step length: a top-level unit's path has 4 characters. A grant on a
# whole top-level tree covers most rows, and the plain path filter serves it best.
_ROOT_PATH_LENGTH = 4


def scope_q(user, perm: str, field: str) -> Q:
    """A Q selecting rows whose unit (reached through ``field``; "self" for units) is in
    scope. Matches nothing when the user has no grant."""
    grants = grants_for(user, perm)
    if not grants:
        return Q(pk__in=[])
    prefix = "" if field == "self" else f"{field}__"
    id_lookup = "pk__in" if field == "self" else f"{field}_id__in"
    q = Q()
    single_ids = [g.org_id for g in grants if not g.subtree]
    subtree_paths = sorted({g.path for g in grants if g.subtree})
    # a subtree inside another adds nothing
    roots: list[str] = []
    for path in subtree_paths:
        if not any(path.startswith(r) for r in roots):
            roots.append(path)
    if field != "self" and roots and not any(len(r) <= _ROOT_PATH_LENGTH for r in roots):
        # Rows of a few subtrees (a branch secretary's): select the units first, then the
        # rows by their indexed unit id. Joining to the unit and filtering its path would
        # make the database walk every row of the table.
        from pbqms.orgs.models import Organization

        units = Q()
        for path in roots:
            units |= Q(path__startswith=path)
        if single_ids:
            units |= Q(pk__in=single_ids)
        return Q(**{id_lookup: Organization.objects.filter(units).values("pk")})
    for path in roots:
        q |= Q(**{f"{prefix}path__startswith": path})
    if single_ids:
        q |= Q(**{id_lookup: single_ids})
    return q


class ScopedQuerySet(models.QuerySet):
    """Base queryset of every unit-owned model. The model names where its unit is with
    ``org_scope_field`` ("org" by default, "self" for the unit model itself)."""

    def visible_to(self, user, perm: str | None = None):
        model = self.model
        perm = perm or f"{model._meta.app_label}.view_{model._meta.model_name}"
        field = getattr(model, "org_scope_field", "org")
        q = scope_q(user, perm, field)
        extra = getattr(model, "scope_extra_q", None)
        extra_q = extra(user, perm) if extra is not None else None
        if extra_q is not None:
            # only added when it widens the scope: an OR across the unit join defeats the
            # path index, so the common case keeps the plain filter
            q |= extra_q
        return self.filter(q)


def get_visible_or_404(queryset, user, perm: str | None = None, **lookup):
    """The object matching ``lookup`` inside ``user``'s scope, else 404 (not 403): an
    object outside the scope does not exist for that user."""
    try:
        return queryset.visible_to(user, perm).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc
