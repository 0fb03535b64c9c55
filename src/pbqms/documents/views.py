"""Pages of the controlled-document area. Reads go through the querysets' ``visible_to``
(outside the scope: 404); every write calls ``pbqms.documents.services``."""

from __future__ import annotations

import datetime
import io
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from pbqms.core import roles, scope, workflow
from pbqms.core.changelog import log_security_event
from pbqms.core.listing import (
    PER_PAGE_CHOICES,
    apply_sort,
    is_htmx,
    paginate,
    pick_template,
    querystring_without,
    vary_on_htmx,
)
from pbqms.core.models import ChangeLogEntry
from pbqms.core.views_workflow import confirm_step
from pbqms.documents import export, files, forms, modes, rendering, services, starter
from pbqms.documents.models import (
    Acknowledgement,
    Document,
    DocumentLink,
    DocumentSystemSetting,
    DocumentVersion,
    VersionAssignment,
)
from pbqms.orgs.forms import add_service_errors
from pbqms.orgs.models import Organization

S = DocumentVersion.Status
T = Document.Type
TREE_LIMIT = 1000  # manual and procedures (the top two levels of the tree)
CHILDREN_LIMIT = 2000
TREE_PAGE = 100  # rows shown under one node; "show more" loads the next ones
ACK_UNITS_SHOWN = 50
TASK_LIMIT = 50
SORTS = {
    "number": "number",
    "title": "title",
    "effective_on": "effective_version__effective_on",
    "next_review": "next_review_on",
    "unit": "org__path",
}


def _can_read_documents(user) -> bool:
    return scope.has_perm(user, roles.DOC_VIEW) or scope.has_perm(user, roles.DOC_MANAGE)


def _require_reader(user) -> None:
    if not _can_read_documents(user):
        raise PermissionDenied


def _documents(user):
    return Document.objects.visible_to(user)


def _get_document(request, pk) -> Document:
    try:
        return _documents(request.user).select_related("org", "parent").get(pk=pk)
    except (Document.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def _get_version(request, pk) -> DocumentVersion:
    try:
        return (
            DocumentVersion.objects.visible_to(request.user)
            .select_related("document", "document__org", "author")
            .get(pk=pk)
        )
    except (DocumentVersion.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def _filter_units(user):
    """Owner-unit choices of the list filter: the committees and general branches in scope
    (a unit filter includes everything below it) and the units granted to the user, so the
    select stays short in a tree of thousands of branches."""
    own = [g.org_id for g in scope.grants_for(user, roles.ORG_VIEW)]
    return Organization.objects.visible_to(user, roles.ORG_VIEW).filter(
        Q(kind__in=[Organization.Kind.COMMITTEE, Organization.Kind.GENERAL_BRANCH]) | Q(pk__in=own)
    )


def _units_for(user, perm):
    return Organization.objects.visible_to(user, perm).filter(dissolved_on__isnull=True)


def review_state(document: Document, today: datetime.date | None = None) -> str | None:
    if document.status != Document.Status.EFFECTIVE or not document.next_review_on:
        return None
    today = today or timezone.localdate()
    if document.next_review_on < today:
        return "overdue"
    if document.next_review_on <= today + datetime.timedelta(days=services.REVIEW_DUE_SOON_DAYS):
        return "due"
    return None


# ---------------------------------------------------------------- master list


# list rows need no version text: sorting thousands of rows that carry it spills to disk
LIST_DEFER = ("effective_version__content", "latest_version__content")
# what a row of the tree shows (the top of a large tree has hundreds of rows)
TREE_FIELDS = (
    "number",
    "title",
    "doc_type",
    "status",
    "parent_id",
    "org__path",
    "effective_version__label",
    "latest_version__label",
    "latest_version__status",
)


def _filtered(user, form):
    qs = (
        _documents(user)
        .select_related("org", "effective_version", "latest_version")
        .defer(*LIST_DEFER)
    )
    status = "effective"
    if form.is_valid():
        data = form.cleaned_data
        status = data.get("status") or "effective"
        if data.get("doc_type") == modes.COMBINED:
            qs = qs.filter(doc_type__in=modes.COMBINED_TYPES)
        elif data.get("doc_type"):
            qs = qs.filter(doc_type=data["doc_type"])
        if data.get("org"):
            qs = qs.filter(org__path__startswith=data["org"].path)
        q = (data.get("q") or "").strip()
        if q:
            qs = qs.search(q)
    elif form.is_bound:
        return qs.none(), status
    if status == "effective":
        qs = qs.in_master_list()
    elif status == "obsolete":
        qs = qs.filter(status=Document.Status.OBSOLETE)
    elif status == "draft":
        qs = qs.filter(status=Document.Status.DRAFT)
    elif status == "revising":
        qs = qs.filter(
            status=Document.Status.EFFECTIVE,
            latest_version__status__in=DocumentVersion.OPEN_STATUSES,
        )
    return qs, status


@login_required
def document_list(request):
    user = request.user
    _require_reader(user)
    resolver = modes.Resolver()
    form = forms.DocumentFilterForm(
        request.GET or None, units=_filter_units(user), combined=resolver.any_simplified
    )
    qs, status = _filtered(user, form)
    qs, sort = apply_sort(request, qs, SORTS, "number")
    # the page's ids first (a narrow sort), then its rows: sorting thousands of full rows
    # with their versions and units was most of the list's time on PostgreSQL
    page = paginate(request, qs.values_list("pk", flat=True))
    ids = list(page.object_list)
    rows = Document.objects.select_related("org", "effective_version", "latest_version").defer(
        *LIST_DEFER
    )
    by_id = rows.in_bulk(ids)
    page.object_list = [by_id[pk] for pk in ids if pk in by_id]
    today = timezone.localdate()
    modes.label_documents(page.object_list, resolver)
    for doc in page.object_list:
        doc.review_state = review_state(doc, today)
    base_qs = querystring_without(request, "page", "sort")
    columns = []
    for name, label in (
        ("number", _("Number")),
        ("title", _("Title")),
        ("effective_on", _("Effective date")),
        ("unit", _("Owner unit")),
        ("next_review", _("Next review")),
    ):
        current = sort.lstrip("-") == name
        descending = current and sort.startswith("-")
        next_sort = name if (not current or descending) else f"-{name}"
        columns.append(
            {
                "name": name,
                "label": label,
                "sorted": current,
                "descending": descending,
                "qs": (base_qs + "&" if base_qs else "") + f"sort={next_sort}",
            }
        )
    context = {
        "form": form,
        "page": page,
        "documents": page.object_list,
        "columns": columns,
        "status": status,
        "qs": querystring_without(request, "page"),
        "filtered": any(request.GET.get(k) for k in ("q", "doc_type", "org", "status")),
        "per_page_choices": PER_PAGE_CHOICES,
        "per_page": page.paginator.per_page,
        "can_add": scope.has_perm(user, roles.DOC_DRAFT),
        "is_htmx": is_htmx(request),
        "export_qs": querystring_without(request, "page", "per_page"),
    }
    template = pick_template(request, "documents/list.html", "documents/_list_table.html")
    return vary_on_htmx(render(request, template, context))


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@login_required
def document_list_export(request):
    """The master list as .xlsx, with the list page's filters and scope; audited."""
    user = request.user
    _require_reader(user)
    form = forms.DocumentFilterForm(
        request.GET or None, units=_filter_units(user), combined=modes.Resolver().any_simplified
    )
    qs, _status = _filtered(user, form)
    qs, _sort = apply_sort(request, qs, SORTS, "number")
    out = io.BytesIO()
    count = export.master_list_xlsx(qs.iterator(chunk_size=2000), out)
    used = {k: v for k, v in request.GET.items() if k not in {"page", "per_page"} and v}
    log_security_event(
        ChangeLogEntry.Action.EXPORT,
        user=user,
        details={"what": "documents", "filter": used, "rows": count},
    )
    name = f"受控文件清单_{timezone.localdate():%Y%m%d}.xlsx"
    response = HttpResponse(out.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = "attachment; filename*=UTF-8''" + quote(name)
    response["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- tree


def build_tree(documents: list[Document], resolver=None) -> list[Document]:
    """Nest documents under their parents (manual → procedures → the rest); documents whose
    parent is not in the list are roots. Children sorted by type then number (in a
    simplified system the merged types sort as one)."""
    resolver = resolver or modes.Resolver()
    modes.label_documents(documents, resolver)
    by_id = {d.pk: d for d in documents}
    for d in documents:
        d.tree_children = []
    roots = []
    for d in documents:
        parent = by_id.get(d.parent_id)
        (parent.tree_children if parent else roots).append(d)

    def key(d):
        return (resolver.type_order(d, d.org.path), d.number)

    for d in documents:
        d.tree_children.sort(key=key)
    roots.sort(key=key)
    return roots


def _tree_urls() -> dict:
    """URL prefixes for the tree rows (one reverse per page, not two per row)."""
    return {
        "detail_base": reverse("documents:detail", args=[0])[:-2],
        "children_base": reverse("documents:tree_children", args=[0])[: -len("0/children/")],
        "open_label": _("Open"),
    }


def _with_child_counts(user, nodes: list[Document], show_obsolete: bool) -> list[Document]:
    """How many visible children each node has (one aggregate query)."""
    if not nodes:
        return nodes
    qs = _documents(user).filter(parent_id__in=[n.pk for n in nodes])
    if not show_obsolete:
        qs = qs.exclude(status=Document.Status.OBSOLETE)
    counts = dict(
        qs.order_by().values("parent_id").annotate(n=Count("id")).values_list("parent_id", "n")
    )
    for node in nodes:
        node.child_count = counts.get(node.pk, 0)
    return nodes


@login_required
def document_tree(request):
    """The manual and the procedures under it (and documents without a place in the tree);
    the instructions, rules and forms of a procedure load when it is opened."""
    user = request.user
    _require_reader(user)
    show_obsolete = request.GET.get("obsolete") == "1"
    qs = (
        _documents(user)
        .select_related("effective_version", "latest_version", "org")
        .only(*TREE_FIELDS)
    )
    if not show_obsolete:
        qs = qs.exclude(status=Document.Status.OBSOLETE)
    top = qs.filter(Q(parent__isnull=True) | Q(parent__parent__isnull=True))
    documents = list(top.order_by("number")[: TREE_LIMIT + 1])
    more = len(documents) > TREE_LIMIT
    documents = documents[:TREE_LIMIT]
    roots = build_tree(documents)
    # the second level, a page per root; its children load on demand
    for root in roots:
        root.child_count = len(root.tree_children)
        root.more_children = max(0, root.child_count - TREE_PAGE)
        root.tree_children = root.tree_children[:TREE_PAGE]
    second = [child for root in roots for child in root.tree_children]
    _with_child_counts(user, second, show_obsolete)
    context = {
        "roots": roots,
        "count": len(documents),
        "more": more,
        "show_obsolete": show_obsolete,
        "can_add": scope.has_perm(user, roles.DOC_DRAFT),
        "can_starter": scope.has_perm(user, roles.DOC_MANAGE),
        "tree_page": TREE_PAGE,
        **_tree_urls(),
    }
    return render(request, "documents/tree.html", context)


@login_required
def tree_children(request, pk):
    """The rows under one document of the tree (loaded when it is opened)."""
    user = request.user
    parent = _get_document(request, pk)
    show_obsolete = request.GET.get("obsolete") == "1"
    qs = (
        _documents(user)
        .filter(parent=parent)
        .select_related("effective_version", "latest_version", "org")
        .only(*TREE_FIELDS)
    )
    if not show_obsolete:
        qs = qs.exclude(status=Document.Status.OBSOLETE)
    try:
        offset = max(0, int(request.GET.get("offset") or 0))
    except ValueError:
        offset = 0
    resolver = modes.Resolver()
    nodes = list(qs.order_by("number")[:CHILDREN_LIMIT])
    modes.label_documents(nodes, resolver)
    nodes.sort(key=lambda d: (resolver.type_order(d, d.org.path), d.number))
    more = max(0, len(nodes) - offset - TREE_PAGE)
    nodes = nodes[offset : offset + TREE_PAGE]
    _with_child_counts(user, nodes, show_obsolete)
    for node in nodes:
        node.tree_children = []
    context = {
        "nodes": nodes,
        "show_obsolete": show_obsolete,
        "parent": parent,
        "more": more,
        "next_offset": offset + TREE_PAGE,
        **_tree_urls(),
    }
    return vary_on_htmx(render(request, "documents/_tree_children.html", context))


# ---------------------------------------------------------------- document page


def _content_html(version: DocumentVersion) -> str:
    if (version.content or "").strip():
        return rendering.render_markdown(version.content)
    if version.file and version.file_name.endswith(".docx"):
        key = f"pbqms:docx-html:{version.file_sha256}"
        html = cache.get(key)
        if html is None:
            try:
                with version.file.open("rb") as fh:
                    html = rendering.docx_to_html(fh)
            except Exception:  # a damaged file must not break the page
                html = ""
            cache.set(key, html, 3600)
        return html
    return ""


def _history(document: Document, versions: list[DocumentVersion], limit: int = 80):
    q = Q(object_type="documents.document", object_id=str(document.pk))
    if versions:
        q |= Q(
            object_type="documents.documentversion",
            object_id__in=[str(v.pk) for v in versions],
        )
    return list(ChangeLogEntry.objects.filter(q).order_by("-id")[:limit])


@login_required
def document_detail(request, pk):
    user = request.user
    document = _get_document(request, pk)
    versions = list(
        DocumentVersion.objects.visible_to(user)
        .filter(document=document)
        .select_related("author")
        .order_by("-edition", "-revision")
    )
    if not versions:
        raise Http404
    by_pk = {v.pk: v for v in versions}
    shown = None
    try:
        shown = by_pk.get(int(request.GET.get("v") or 0))
    except ValueError:
        shown = None
    if shown is None:
        shown = by_pk.get(document.effective_version_id) or versions[0]
    shown.document = document
    admin = services.is_admin(user, document)
    actions = workflow.allowed(shown, user)
    can = {
        "edit": shown.status == S.DRAFT and (shown.author_id == user.pk or admin),
        "revise": (
            document.status == Document.Status.EFFECTIVE
            and services.may_draft(user, document)
            and not any(v.is_open for v in versions)
        ),
        "obsolete": admin and document.status != Document.Status.OBSOLETE,
        "periodic_review": admin and document.status == Document.Status.EFFECTIVE,
        "links": services.may_draft(user, document) and document.status != "obsolete",
        "remind": admin,
    }
    sig_rows = services.signature_rows(shown)
    assignments = list(shown.assignments.select_related("user").order_by("role", "position"))
    links_out = list(
        DocumentLink.objects.filter(from_document=document)
        .filter(to_document__in=_documents(user))
        .select_related("to_document")
    )
    links_in = list(
        DocumentLink.objects.filter(to_document=document)
        .filter(from_document__in=_documents(user))
        .select_related("from_document")
    )
    children = list(
        _documents(user)
        .filter(parent=document)
        .exclude(status=Document.Status.OBSOLETE)
        .select_related("effective_version", "org")
        .order_by("number")[:200]
    )
    resolver = modes.Resolver()
    modes.label_documents([document, *children], resolver)
    parent_visible = (
        document.parent
        if document.parent_id and _documents(user).filter(pk=document.parent_id).exists()
        else None
    )
    concerning = _actions_concerning(user, document)
    ack_version = by_pk.get(document.effective_version_id)
    ack = {"stats": None, "pending": [], "mine": None}
    if ack_version is not None:
        ack["stats"] = services.ack_stats(ack_version, user)
        units = ack["stats"]["units"]
        # the units furthest behind first; a group-wide document reaches thousands of units
        units.sort(key=lambda r: (r["percent"], r["org__path"]))
        ack["more_units"] = max(0, len(units) - ACK_UNITS_SHOWN)
        ack["stats"]["units"] = units[:ACK_UNITS_SHOWN]
        ack["pending"] = services.pending_acknowledgements(ack_version, user, limit=100)
        ack["mine"] = (
            Acknowledgement.objects.filter(document_version=ack_version, person__user_id=user.pk)
            .only("pk", "done_at", "due")
            .first()
        )
    context = {
        "document": document,
        "version": shown,
        "versions": versions,
        "content_html": _content_html(shown),
        "actions": actions,
        "can": can,
        "signatures": sig_rows,
        "assignments": assignments,
        "links_out": links_out,
        "links_in": links_in,
        "children": children,
        "concerning_actions": concerning,
        "parent_doc": parent_visible,
        "ack": ack,
        "ack_version": ack_version,
        "history": _history(document, versions),
        "review_state": review_state(document),
        "link_form": forms.LinkForm(),
        "today": timezone.localdate(),
        "tab": request.GET.get("tab") or "content",
    }
    return render(request, "documents/detail.html", context)


ACTIONS_SHOWN = 50


def _actions_concerning(user, document) -> list:
    """Corrective actions (improvement) that concern this document and that the user may see:
    the document's side of the link an action keeps to the revision it asks for."""
    from django.apps import apps

    if not apps.is_installed("pbqms.improvement") or not scope.has_perm(user, roles.NC_VIEW):
        return []
    from pbqms.improvement.models import CorrectiveAction

    return list(
        CorrectiveAction.objects.visible_to(user, roles.NC_VIEW)
        .for_document(document)
        .select_related("nonconformity")
        .order_by("-id")[:ACTIONS_SHOWN]
    )


# ---------------------------------------------------------------- create / edit


def _parent_choices(user):
    return (
        _documents(user)
        .filter(doc_type__in=[T.MANUAL, T.PROCEDURE])
        .exclude(status=Document.Status.OBSOLETE)
        .order_by("number")
    )


@login_required
def document_create(request):
    user = request.user
    if not scope.has_perm(user, roles.DOC_DRAFT):
        raise PermissionDenied
    units = _units_for(user, roles.DOC_DRAFT)
    all_units = _units_for(user, roles.ORG_VIEW)
    # simplified mode (三合为一): the units' systems decide which types are offered
    resolver = modes.Resolver()
    unit_modes = {resolver.simplified(p) for p in units.values_list("path", flat=True)}
    simplified = True in unit_modes
    kwargs = {
        "units": units,
        "parents": _parent_choices(user),
        "all_units": all_units,
        "type_choices": modes.type_choices(simplified, full=False in unit_modes or not unit_modes),
    }
    if request.method == "POST":
        form = forms.DocumentCreateForm(request.POST, request.FILES, **kwargs)
        if form.is_valid():
            data = form.cleaned_data
            try:
                document = services.create_document(
                    actor=user,
                    org=data["org"],
                    doc_type=data["doc_type"],
                    title=data["title"],
                    parent=data.get("parent"),
                    applies_to=data.get("applies_to"),
                    applies_to_roles=data.get("applies_to_roles"),
                    review_interval_months=data.get("review_interval_months"),
                    content=data.get("content") or "",
                    change_reason=data.get("change_reason") or "",
                    file=data.get("file"),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _(
                        "Document %(number)s created as draft A/0. Choose its reviewers and "
                        "approvers."
                    )
                    % {"number": document.number},
                )
                return redirect("documents:version_edit", document.latest_version_id)
    else:
        initial = {}
        if request.GET.get("parent"):
            initial["parent"] = request.GET.get("parent")
        if request.GET.get("type") in T.values:
            initial["doc_type"] = request.GET["type"]
            if simplified and initial["doc_type"] in modes.COMBINED_TYPES:
                initial["doc_type"] = modes.COMBINED
        first = units.order_by("depth", "path").first()
        if first is not None:
            initial["org"] = first.pk
        form = forms.DocumentCreateForm(initial=initial, **kwargs)
    return render(request, "documents/create.html", {"form": form})


@login_required
def version_edit(request, pk):
    user = request.user
    version = _get_version(request, pk)
    document = version.document
    if not (version.author_id == user.pk or services.is_admin(user, document)):
        raise PermissionDenied
    if version.status != S.DRAFT:
        messages.error(
            request,
            _("Only a draft can be edited; this version is “%(state)s”.")
            % {"state": version.get_status_display()},
        )
        return redirect(_version_url(version))
    kwargs = {
        "signers": services.eligible_signers(document),
        "approvers": services.eligible_approvers(document),
        "units": _units_for(user, roles.ORG_VIEW),
    }
    if request.method == "POST":
        form = forms.DraftForm(request.POST, request.FILES, **kwargs)
        if form.is_valid():
            try:
                services.update_draft(
                    version,
                    actor=user,
                    data=form.service_data(),
                    expected_version=form.cleaned_data.get("version"),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The draft was saved."))
                if request.POST.get("then") == "submit":
                    return redirect("documents:version_action", version.pk, "submit")
                return redirect(_version_url(version))
    else:
        form = forms.DraftForm(initial=forms.DraftForm.initial_for(version), **kwargs)
    context = {
        "form": form,
        "version": version,
        "document": document,
        "committee": (
            services.approval_committee(document)
            if document.doc_type in Document.COMMITTEE_APPROVAL
            else None
        ),
        "preview_html": rendering.render_markdown(form["content"].value() or ""),
    }
    return render(request, "documents/edit.html", context)


@login_required
@require_POST
def preview(request):
    """The editor's live preview: sanitised HTML of the posted Markdown."""
    if not scope.has_perm(request.user, roles.DOC_DRAFT):
        raise PermissionDenied
    html = rendering.render_markdown(request.POST.get("content", ""))
    response = HttpResponse(html or f'<p class="text-secondary">{_("Nothing to preview yet.")}</p>')
    response["Cache-Control"] = "no-store"
    return response


def _version_url(version: DocumentVersion, tab: str = "") -> str:
    url = reverse("documents:detail", args=[version.document_id]) + f"?v={version.pk}"
    return url + (f"&tab={tab}" if tab else "")


# ---------------------------------------------------------------- lifecycle actions


ACTIONS = {"submit", "review", "approve", "send_back", "make_effective", "withdraw"}


def _run_action(name: str, version, user, data):
    if name == "submit":
        return services.submit(version, actor=user, password=data.get("password"))
    if name == "review":
        return services.review(
            version, actor=user, password=data.get("password"), comment=data.get("comment", "")
        )
    if name == "approve":
        return services.approve(
            version,
            actor=user,
            password=data.get("password"),
            effective_on=data.get("effective_on"),
            comment=data.get("comment", ""),
        )
    if name == "send_back":
        return services.send_back(version, actor=user, comment=data.get("reason", ""))
    if name == "make_effective":
        return services.make_effective(version, actor=user)
    return services.withdraw(version, actor=user, reason=data.get("reason", ""))


@login_required
def version_action(request, pk, name):
    """The confirm step of a lifecycle action; e-signatures ask for the password here."""
    if name not in ACTIONS:
        raise Http404
    user = request.user
    version = _get_version(request, pk)
    reason_label = {
        "send_back": _("Comments for the author"),
        "withdraw": _("Reason for withdrawing"),
    }.get(name)
    return confirm_step(
        request,
        version,
        name,
        form_class=forms.TransitionForm,
        form_kwargs=lambda step: {
            "signature": bool(step.signature),
            "reason": step.reason_required,
            "effective": name == "approve",
            "reason_label": reason_label,
        },
        run=lambda data: _run_action(name, version, user, data),
        back_url=_version_url(version),
        template="documents/action.html",
        done_message=lambda step: (
            _("Done: %(step)s. The version is now “%(state)s”.")
            % {"step": step.label, "state": version.get_status_display()}
        ),
        context={"version": version, "document": version.document},
        step_key="action",
    )


@login_required
def start_revision(request, pk):
    user = request.user
    document = _get_document(request, pk)
    if not services.may_draft(user, document):
        raise PermissionDenied
    if request.method == "POST":
        form = forms.RevisionForm(request.POST)
        if form.is_valid():
            try:
                version = services.start_revision(
                    document,
                    actor=user,
                    reason=form.cleaned_data["reason"],
                    major=form.cleaned_data["major"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request, _("Revision %(label)s started.") % {"label": version.label}
                )
                return redirect("documents:version_edit", version.pk)
    else:
        form = forms.RevisionForm()
    return render(
        request,
        "documents/simple_form.html",
        {
            "form": form,
            "document": document,
            "title": _("Start a revision"),
            "intro": _(
                "The effective version stays in force until the revision is approved and "
                "takes effect; then it is superseded automatically."
            ),
            "submit_label": _("Start revision"),
        },
    )


@login_required
def obsolete(request, pk):
    user = request.user
    document = _get_document(request, pk)
    if not services.is_admin(user, document):
        raise PermissionDenied
    if request.method == "POST":
        form = forms.ReasonForm(request.POST)
        if form.is_valid():
            try:
                services.obsolete_document(document, actor=user, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The document is obsolete."))
                return redirect("documents:detail", document.pk)
    else:
        form = forms.ReasonForm()
    return render(
        request,
        "documents/simple_form.html",
        {
            "form": form,
            "document": document,
            "title": _("Obsolete the document"),
            "intro": _(
                "The document leaves the controlled document list and stays searchable as "
                "obsolete. A version in preparation is withdrawn with it."
            ),
            "submit_label": _("Obsolete"),
            "danger": True,
        },
    )


@login_required
def periodic_review(request, pk):
    user = request.user
    document = _get_document(request, pk)
    if not services.is_admin(user, document):
        raise PermissionDenied
    if request.method == "POST":
        form = forms.PeriodicReviewForm(request.POST)
        if form.is_valid():
            try:
                services.record_review(
                    document,
                    actor=user,
                    conclusion=form.cleaned_data["conclusion"],
                    notes=form.cleaned_data.get("notes", ""),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The periodic review was recorded."))
                return redirect("documents:detail", document.pk)
    else:
        form = forms.PeriodicReviewForm()
    return render(
        request,
        "documents/simple_form.html",
        {
            "form": form,
            "document": document,
            "title": _("Record the periodic review"),
            "intro": _(
                "“Remains valid” sets the next review date; “needs revision” starts a "
                "revision; “obsolete” obsoletes the document."
            ),
            "submit_label": _("Record"),
        },
    )


@login_required
@require_POST
def acknowledge(request, pk):
    user = request.user
    try:
        ack = Acknowledgement.objects.select_related("document_version").get(
            pk=pk, person__user_id=user.pk
        )
    except (Acknowledgement.DoesNotExist, ValueError) as exc:
        raise Http404 from exc
    try:
        services.acknowledge(ack, actor=user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, _("Thank you: your acknowledgement is recorded."))
    nxt = request.POST.get("next") or ""
    if nxt == "tasks":
        return redirect("documents:tasks")
    return redirect("documents:detail", ack.document_version.document_id)


@login_required
@require_POST
def remind(request, pk):
    version = _get_version(request, pk)
    try:
        n = services.remind_laggards(version, actor=request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect(_version_url(version, "acknowledgements"))
    if n:
        messages.success(request, _("%(n)d people were reminded.") % {"n": n})
    else:
        messages.info(
            request, _("Everybody who has not acknowledged has already been reminded today.")
        )
    return redirect(_version_url(version, "acknowledgements"))


@login_required
@require_POST
def link_add(request, pk):
    user = request.user
    document = _get_document(request, pk)
    form = forms.LinkForm(request.POST)
    if form.is_valid():
        target = _documents(user).filter(number=form.cleaned_data["to_document"].strip()).first()
        try:
            if target is None:
                raise ValidationError({"to_document": _("No document with this number.")})
            services.add_link(
                document, actor=user, to_document=target, note=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            for errs in getattr(exc, "message_dict", {"": exc.messages}).values():
                for e in errs:
                    messages.error(request, e)
        else:
            messages.success(request, _("The reference was added."))
    else:
        messages.error(request, _("Enter the number of the referenced document."))
    return redirect(reverse("documents:detail", args=[document.pk]) + "?tab=links")


@login_required
@require_POST
def link_remove(request, pk, link_pk):
    document = _get_document(request, pk)
    try:
        link = DocumentLink.objects.get(pk=link_pk, from_document=document)
    except DocumentLink.DoesNotExist as exc:
        raise Http404 from exc
    services.remove_link(link, actor=request.user)
    messages.success(request, _("The reference was removed."))
    return redirect(reverse("documents:detail", args=[document.pk]) + "?tab=links")


@login_required
def version_file(request, pk):
    """The controlled file, after the visibility check, always as an attachment."""
    version = _get_version(request, pk)
    if not version.file:
        raise Http404
    response = FileResponse(
        version.file.open("rb"),
        as_attachment=True,
        filename=f"{version.document.number}_{version.label.replace('/', '-')}_{version.file_name}",
        content_type=files.content_type_for(version.file_name),
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
def diff(request, pk):
    user = request.user
    document = _get_document(request, pk)
    versions = list(
        DocumentVersion.objects.visible_to(user)
        .filter(document=document)
        .order_by("-edition", "-revision")
    )
    by_pk = {v.pk: v for v in versions}

    def pick(key, default):
        try:
            return by_pk.get(int(request.GET.get(key) or 0)) or default
        except ValueError:
            return default

    if len(versions) < 2:
        messages.info(request, _("This document has only one version so far."))
        return redirect("documents:detail", document.pk)
    b = pick("b", versions[0])
    a = pick("a", versions[1] if versions[0] == b else versions[0])
    mode = "side" if request.GET.get("mode") == "side" else "inline"
    context = {
        "document": document,
        "versions": versions,
        "a": a,
        "b": b,
        "mode": mode,
        "result": services.diff(a, b),
    }
    return render(request, "documents/diff.html", context)


# ---------------------------------------------------------------- my tasks, reviews


@login_required
def tasks(request):
    user = request.user
    base = VersionAssignment.objects.filter(user_id=user.pk, signed_at__isnull=True).select_related(
        "document_version", "document_version__document", "document_version__author"
    )
    to_review = list(
        base.filter(role="reviewer", document_version__status=S.IN_REVIEW).order_by(
            "document_version__updated_at"
        )[:TASK_LIMIT]
    )
    to_approve = list(
        base.filter(role="approver", document_version__status=S.AWAITING_APPROVAL).order_by(
            "document_version__updated_at"
        )[:TASK_LIMIT]
    )
    my_drafts = list(
        DocumentVersion.objects.filter(author_id=user.pk, status=S.DRAFT)
        .select_related("document")
        .order_by("-updated_at")[:TASK_LIMIT]
    )
    to_release = list(
        DocumentVersion.objects.filter(status=S.APPROVED)
        .filter(scope.scope_q(user, roles.DOC_MANAGE, "document__org"))
        .select_related("document")
        .order_by("effective_on")[:TASK_LIMIT]
    )
    to_acknowledge = list(
        Acknowledgement.objects.filter(
            person__user_id=user.pk, done_at__isnull=True, document_version__status=S.EFFECTIVE
        )
        .select_related("document_version", "document_version__document")
        .order_by("due")[:TASK_LIMIT]
    )
    today = timezone.localdate()
    context = {
        "to_review": to_review,
        "to_approve": to_approve,
        "my_drafts": my_drafts,
        "to_release": to_release,
        "to_acknowledge": to_acknowledge,
        "today": today,
        "total": len(to_review) + len(to_approve) + len(to_acknowledge) + len(to_release),
    }
    return render(request, "documents/tasks.html", context)


@login_required
def reviews(request):
    user = request.user
    if not scope.has_perm(user, roles.DOC_MANAGE):
        raise PermissionDenied
    try:
        within = max(0, min(int(request.GET.get("within") or 30), 366))
    except ValueError:
        within = 30
    page = paginate(request, services.reviews_due(user, within_days=within))
    today = timezone.localdate()
    for doc in page.object_list:
        doc.review_state = review_state(doc, today) or "later"
    context = {
        "page": page,
        "documents": page.object_list,
        "within": within,
        "qs": querystring_without(request, "page"),
        "today": today,
    }
    return render(request, "documents/reviews.html", context)


# ---------------------------------------------------------------- exports

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _docx_response(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type=DOCX_TYPE)
    response["Content-Disposition"] = "attachment; filename*=UTF-8''" + quote(name)
    response["Cache-Control"] = "no-store"
    return response


def _visible_versions(user, document):
    return list(
        DocumentVersion.objects.visible_to(user)
        .filter(document=document)
        .select_related("author")
        .order_by("edition", "revision")
    )


@login_required
def export_version(request, pk):
    """One version as .docx: cover with signatures, revision history, content."""
    user = request.user
    version = _get_version(request, pk)
    document = Document.objects.select_related("org").get(pk=version.document_id)
    version.document = document
    data = export.version_docx(version, _visible_versions(user, document), user)
    log_security_event(
        ChangeLogEntry.Action.EXPORT,
        user=user,
        instance=version,
        details={"format": "docx", "document": document.number, "version": version.label},
    )
    return _docx_response(data, export.filename(document, version))


@login_required
def export_version_pdf(request, pk):
    """One version as PDF: the same cover, signatures, revision history and marking."""
    from pbqms.documents import export_pdf

    user = request.user
    version = _get_version(request, pk)
    document = Document.objects.select_related("org").get(pk=version.document_id)
    version.document = document
    data = export_pdf.version_pdf(version, _visible_versions(user, document), user)
    log_security_event(
        ChangeLogEntry.Action.EXPORT,
        user=user,
        instance=version,
        details={"format": "pdf", "document": document.number, "version": version.label},
    )
    response = HttpResponse(data, content_type="application/pdf")
    name = export_pdf.filename(document, version)
    response["Content-Disposition"] = "attachment; filename*=UTF-8''" + quote(name)
    response["Cache-Control"] = "no-store"
    return response


@login_required
def export_manual(request, pk):
    """The manual and its effective procedures (those the user may see) as one .docx."""
    user = request.user
    manual = _get_document(request, pk)
    if manual.doc_type != T.MANUAL:
        raise Http404
    visible = DocumentVersion.objects.visible_to(user)
    manual_version = visible.filter(pk=manual.effective_version_id).first()
    if manual_version is None:
        messages.error(request, _("The manual has no effective version to export yet."))
        return redirect("documents:detail", manual.pk)
    manual_version.document = manual
    parts = [(manual_version, _visible_versions(user, manual))]
    procedures = (
        _documents(user)
        .filter(parent=manual, doc_type=T.PROCEDURE, status=Document.Status.EFFECTIVE)
        .select_related("org", "effective_version", "effective_version__author")
        .order_by("number")
    )
    for proc in procedures:
        v = proc.effective_version
        if v is None or not visible.filter(pk=v.pk).exists():
            continue
        v.document = proc
        parts.append((v, _visible_versions(user, proc)))
    data = export.manual_docx(parts, user)
    log_security_event(
        ChangeLogEntry.Action.EXPORT,
        user=user,
        instance=manual,
        details={"format": "docx", "document": manual.number, "parts": len(parts)},
    )
    return _docx_response(data, export.filename(manual))


# ---------------------------------------------------------------- starter set


@login_required
def starter_set(request):
    """Generate the skeleton document set (manual outline, procedures, forms) as drafts."""
    user = request.user
    if not scope.has_perm(user, roles.DOC_MANAGE):
        raise PermissionDenied
    units = _units_for(user, roles.DOC_MANAGE).filter(kind=Organization.Kind.COMMITTEE)
    form = forms.StarterForm(request.POST or None, units=units)
    if request.method == "POST" and form.is_valid():
        try:
            made = starter.generate(actor=user, org=form.cleaned_data["org"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _(
                    "%(n)d draft documents were created. Complete them, choose reviewers and "
                    "approvers, and submit them for review."
                )
                % {"n": len(made)},
            )
            return redirect("documents:tree")
    context = {"form": form, "procedures": starter.PROCEDURES, "manual": starter.MANUAL_TITLE}
    return render(request, "documents/starter.html", context)


# ---------------------------------------------------------------- document system mode


@login_required
def document_system(request):
    """Document administrators switch their committees' document systems between the five
    types and the simplified mode (三合为一); documents keep their types either way."""
    user = request.user
    if not scope.has_perm(user, roles.DOC_MANAGE):
        raise PermissionDenied
    units = list(modes.settable_units(user)[:200])
    settings_by_org = {
        s.org_id: s for s in DocumentSystemSetting.objects.filter(org__in=[u.pk for u in units])
    }
    resolver = modes.Resolver()
    errors: dict[int, list[str]] = {}
    if request.method == "POST":
        form = forms.DocumentSystemForm(request.POST)
        if form.is_valid():
            org = next((u for u in units if u.pk == form.cleaned_data["org"]), None)
            if org is None:
                raise Http404
            try:
                modes.set_mode(
                    org,
                    actor=user,
                    simplified=form.cleaned_data["simplified"],
                    expected_version=form.cleaned_data.get("version"),
                )
            except ValidationError as exc:
                errors[org.pk] = exc.messages
            else:
                messages.success(
                    request,
                    _("The document system of %(unit)s was switched.") % {"unit": org.name},
                )
                return redirect("documents:system")
        else:
            messages.error(request, _("Choose how the document system is organised."))
    rows = []
    for unit in units:
        setting = settings_by_org.get(unit.pk)
        simplified = resolver.simplified(unit.path)
        rows.append(
            {
                "unit": unit,
                "setting": setting,
                "simplified": simplified,
                "inherited": setting is None,
                "form": forms.DocumentSystemForm(
                    initial={
                        "org": unit.pk,
                        "simplified": "1" if simplified else "0",
                        "version": setting.version if setting else None,
                    },
                    auto_id=f"id_{unit.pk}_%s",
                ),
                "errors": errors.get(unit.pk, []),
            }
        )
    history = list(
        ChangeLogEntry.objects.filter(
            object_type="documents.documentsystemsetting",
            object_id__in=[str(s.pk) for s in settings_by_org.values()],
        ).order_by("-id")[:50]
    )
    context = {
        "rows": rows,
        "history": history,
        "combined_label": modes.COMBINED_LABEL,
    }
    return render(request, "documents/system.html", context)
