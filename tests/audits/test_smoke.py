from django.urls import reverse

from tests.audits.conftest import make_audit


def test_pages_render(login, users, team, programme, tree):
    audit = make_audit(programme, [tree.branch_a1])
    c = login(users.party_admin)
    for url in [
        reverse("audits:auditor_list"),
        reverse("audits:auditor_detail", args=[team.a1.pk]),
        reverse("audits:qualification_create"),
        reverse("audits:programme_list"),
        reverse("audits:programme_create"),
        reverse("audits:programme_detail", args=[programme.pk]),
        reverse("audits:programme_edit", args=[programme.pk]),
        reverse("audits:programme_propose", args=[programme.pk]),
        reverse("audits:audit_create", args=[programme.pk]),
        reverse("audits:audit_detail", args=[audit.pk]),
        reverse("audits:audit_edit", args=[audit.pk]),
        reverse("audits:checklist", args=[audit.pk]),
    ]:
        r = c.get(url)
        assert r.status_code == 200, url
