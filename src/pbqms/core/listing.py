"""The list-page pattern (UI.md): filter, sort, paginate; htmx requests get only the table.

    page = paginate(request, queryset)               # Page with .paginator.count
    template = pick_template(request, "orgs/person_list.html", "orgs/_person_table.html")

Counting uses one COUNT query; the page itself one query (plus its select_related)."""

from __future__ import annotations

from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.utils.cache import patch_vary_headers

DEFAULT_PER_PAGE = 25
PER_PAGE_CHOICES = (25, 50, 100)


def paginate(request, queryset, per_page: int | None = None):
    try:
        per_page = int(request.GET.get("per_page") or per_page or DEFAULT_PER_PAGE)
    except ValueError:
        per_page = DEFAULT_PER_PAGE
    if per_page not in PER_PAGE_CHOICES:
        per_page = DEFAULT_PER_PAGE
    paginator = Paginator(queryset, per_page)
    try:
        return paginator.page(request.GET.get("page") or 1)
    except PageNotAnInteger:
        return paginator.page(1)
    except EmptyPage:
        return paginator.page(paginator.num_pages)


def apply_sort(request, queryset, allowed: dict[str, str], default: str):
    """``?sort=name`` / ``?sort=-name`` among ``allowed`` (public name → field)."""
    key = request.GET.get("sort") or default
    desc = key.startswith("-")
    field = allowed.get(key.lstrip("-"))
    if field is None:
        key, desc, field = default, default.startswith("-"), allowed[default.lstrip("-")]
    return queryset.order_by(("-" if desc else "") + field, "pk"), key


def is_htmx(request) -> bool:
    return bool(getattr(request, "htmx", False)) and not getattr(request.htmx, "boosted", False)


def pick_template(request, full: str, partial: str) -> str:
    return partial if is_htmx(request) else full


def vary_on_htmx(response):
    patch_vary_headers(response, ("HX-Request",))
    return response


def querystring_without(request, *keys: str) -> str:
    params = request.GET.copy()
    for key in keys:
        params.pop(key, None)
    return params.urlencode()
