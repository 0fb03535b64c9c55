"""The left menu, grouped as the PDCA loop (UI.md "Frame"). Items a user may not use are
not shown; areas that later releases fill are listed as "coming soon" so users see the
whole shape of the system."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from pbqms.core import roles, scope


@dataclass(frozen=True)
class MenuItem:
    label: str
    url_name: str | None = None  # None: not built yet ("coming soon")
    perm: str | None = None  # shown only to users holding this permission somewhere
    icon: str = "point"


@dataclass(frozen=True)
class MenuGroup:
    label: str
    icon: str
    items: tuple[MenuItem, ...] = field(default_factory=tuple)


MENU: tuple[MenuGroup, ...] = (
    MenuGroup(
        _("System building"),
        "building-community",
        (
            MenuItem(_("System overview"), "core:overview", None, "layout-dashboard"),
            MenuItem(
                _("Policy and objectives"), "objectives:index", roles.OBJECTIVE_VIEW, "target-arrow"
            ),
            MenuItem(_("Processes"), "processes:map", roles.PROCESS_VIEW, "route"),
            MenuItem(
                _("Requirements"), "system:requirement_list", roles.REQUIREMENT_VIEW, "list-check"
            ),
            MenuItem(
                _("Requirement coverage"), "system:coverage", roles.REQUIREMENT_VIEW, "grid-dots"
            ),
            MenuItem(_("Obligations"), "system:obligation_list", roles.OBLIGATION_VIEW, "repeat"),
        ),
    ),
    MenuGroup(
        _("System documents"),
        "files",
        (
            MenuItem(_("Document tree"), "documents:tree", roles.DOC_VIEW, "binary-tree"),
            MenuItem(_("Controlled document list"), "documents:list", roles.DOC_VIEW, "files"),
            MenuItem(_("My document tasks"), "documents:tasks", roles.DOC_VIEW, "checklist"),
            MenuItem(
                _("Periodic review"), "documents:reviews", roles.DOC_MANAGE, "calendar-repeat"
            ),
        ),
    ),
    MenuGroup(
        _("Plans and records"),
        "calendar-check",
        (
            MenuItem(_("Work plans"), "plans:plan_list", roles.PLAN_VIEW, "calendar-check"),
            MenuItem(_("Tasks"), "plans:task_list", roles.TASK_VIEW, "checkbox"),
            MenuItem(_("Records"), "records:list", roles.RECORD_VIEW, "notebook"),
            MenuItem(
                _("Record templates"), "records:templates", roles.RECORD_TEMPLATE_MANAGE, "template"
            ),
            MenuItem(_("Calendar"), "plans:calendar", roles.TASK_VIEW, "calendar-month"),
            MenuItem(_("PDCA cycle"), "plans:pdca", roles.PLAN_VIEW, "refresh"),
            MenuItem(_("Conformity board"), "system:board", roles.CONFORMITY_VIEW, "layout-grid"),
        ),
    ),
    MenuGroup(
        _("Check and improve"),
        "checklist",
        (
            MenuItem(
                _("Internal audits"), "audits:programme_list", roles.AUDIT_VIEW, "clipboard-check"
            ),
            MenuItem(
                _("Internal auditors"), "audits:auditor_list", roles.AUDITOR_VIEW, "id-badge-2"
            ),
            MenuItem(_("Nonconformities"), "improvement:nc_list", roles.NC_VIEW, "alert-triangle"),
            MenuItem(_("Corrective actions"), "improvement:action_list", roles.NC_VIEW, "tool"),
            MenuItem(_("Management review"), "reviews:list", roles.REVIEW_VIEW, "presentation"),
        ),
    ),
    MenuGroup(
        _("Organisation and people"),
        "sitemap",
        (
            MenuItem(_("Organisation tree"), "orgs:tree", roles.ORG_VIEW, "sitemap"),
            MenuItem(_("People"), "orgs:person_list", roles.PERSON_VIEW, "users"),
            MenuItem(_("Import"), "orgs:import", roles.ORGS_IMPORT, "file-import"),
            MenuItem(_("Role assignments"), "orgs:role_list", roles.ROLE_VIEW, "user-shield"),
        ),
    ),
    MenuGroup(
        _("System"),
        "settings",
        (
            MenuItem(_("Change log"), "core:changelog", roles.CHANGELOG_VIEW, "history"),
            MenuItem(_("Security settings"), "accounts:security", roles.SECURITY_MANAGE, "lock"),
            MenuItem(_("User accounts"), "accounts:user_list", roles.USER_MANAGE, "user-cog"),
        ),
    ),
)


def menu_for(user, current_path: str = "") -> list[dict]:
    groups = []
    for group in MENU:
        items = []
        for item in group.items:
            if item.perm is not None and not scope.has_perm(user, item.perm):
                continue
            url = None
            if item.url_name:
                try:
                    url = reverse(item.url_name)
                except NoReverseMatch:
                    url = None
            if item.url_name and url is None:
                continue  # declared but its app is not installed
            items.append(
                {
                    "label": item.label,
                    "url": url,
                    "icon": item.icon,
                    "active": bool(url) and current_path.startswith(url),
                    "coming": url is None,
                }
            )
        if items:
            groups.append(
                {
                    "label": group.label,
                    "icon": group.icon,
                    "items": items,
                    "active": any(i["active"] for i in items),
                    "all_coming": all(i["coming"] for i in items),
                }
            )
    # only the most specific match is active (/orgs/people/ also starts with /orgs/)
    active = [i for g in groups for i in g["items"] if i["active"]]
    if len(active) > 1:
        best = max(active, key=lambda i: len(i["url"]))
        for g in groups:
            for i in g["items"]:
                i["active"] = i is best
            g["active"] = any(i["active"] for i in g["items"])
    return groups
