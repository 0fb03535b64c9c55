"""Reminders: the "remind those who have not" button (notify, once per version and day) and
the daily providers for acknowledgement laggards and due/overdue periodic reviews."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from pbqms.core import reminders
from pbqms.core.models import ChangeLogEntry, Notification
from pbqms.core.roles import Role
from pbqms.documents import services
from pbqms.documents.models import Acknowledgement, Document
from tests.factories import grant, make_person, make_user

T = Document.Type
TODAY = timezone.localdate


@pytest.fixture
def laggards(tree, users):
    """Two more people with accounts in A1 (the member of A1 is the third)."""
    made = []
    for key in ("x", "y"):
        user = make_user(f"lag_{key}", email=f"lag_{key}@example.org")
        grant(user, Role.MEMBER, tree.branch_a1)
        make_person(tree.branch_a1, f"人员{key}", user=user)
        made.append(user)
    return made


@pytest.fixture
def version(make_doc, release, laggards):
    return release(make_doc().latest_version)


def inbox(user):
    return list(Notification.objects.filter(recipient=user))


class TestRemindButton:
    def test_notifies_those_who_have_not_acknowledged_once_a_day(
        self, version, laggards, users, people, mailoutbox
    ):
        mine = Acknowledgement.objects.get(document_version=version, person__user=users.member_a1)
        services.acknowledge(mine, actor=users.member_a1)
        assert services.remind_laggards(version, actor=people.approver) == 2
        for user in laggards:
            (note,) = inbox(user)
            assert version.document.number in note.subject
            assert note.url == reverse("documents:detail", args=[version.document_id])
        assert inbox(users.member_a1) == []
        assert len(mailoutbox) == 2
        # a second click the same day sends nothing more
        assert services.remind_laggards(version, actor=people.approver) == 0
        assert Notification.objects.count() == 2
        assert Acknowledgement.objects.filter(reminded_at__isnull=False).count() == 2
        entry = ChangeLogEntry.objects.filter(
            object_type="documents.documentversion", object_id=str(version.pk)
        ).latest("id")
        assert entry.changes["reminded"] == [None, 2]

    def test_only_document_administrators(self, version, people, users):
        with pytest.raises(PermissionDenied):
            services.remind_laggards(version, actor=people.author)
        assert not Notification.objects.exists()

    def test_not_for_a_superseded_version(self, version, people, release):
        release(services.start_revision(version.document, actor=people.author, reason="r"))
        version.refresh_from_db()
        with pytest.raises(ValidationError):
            services.remind_laggards(version, actor=people.approver)

    def test_button(self, version, people, login, laggards):
        client = login(people.approver)
        response = client.post(reverse("documents:remind", args=[version.pk]))
        assert response.status_code == 302
        assert len(inbox(laggards[0])) == 1
        assert login(people.author).post(
            reverse("documents:remind", args=[version.pk])
        ).status_code in (403, 404)


class TestDailyProviders:
    def run(self, today, name):
        return reminders.run(today, [name])[name]

    def test_acknowledgements_due_soon_and_overdue_weekly(self, version, laggards, users):
        name = "documents.acknowledgements"
        # due in 30 days: nothing yet
        assert self.run(TODAY(), name) == 0
        Acknowledgement.objects.filter(document_version=version).update(
            due=TODAY() + datetime.timedelta(days=3)
        )
        assert self.run(TODAY(), name) == 3
        note = inbox(laggards[0])[0]
        assert note.url == reverse("documents:tasks") and "1" in note.subject
        assert self.run(TODAY(), name) == 0  # the same week: once
        mine = Acknowledgement.objects.get(document_version=version, person__user=users.member_a1)
        services.acknowledge(mine, actor=users.member_a1)
        later = TODAY() + datetime.timedelta(days=10)  # overdue, the next week
        assert self.run(later, name) == 2
        assert len(inbox(users.member_a1)) == 1

    def test_reviews_go_to_the_document_administrators(self, version, people, users):
        name = "documents.reviews"
        assert self.run(TODAY(), name) == 0
        Document.objects.filter(pk=version.document_id).update(
            next_review_on=TODAY() - datetime.timedelta(days=2)
        )
        assert self.run(TODAY(), name) == 2  # the whole-tree and A's administrators
        (note,) = inbox(people.admin_a)
        assert note.url == reverse("documents:reviews")
        assert inbox(people.author) == [] and inbox(users.member_a1) == []
        assert self.run(TODAY(), name) == 0

    def test_send_reminders_command_runs_them(self, version):
        Acknowledgement.objects.filter(document_version=version).update(
            due=TODAY() - datetime.timedelta(days=1)
        )
        out = StringIO()
        call_command("send_reminders", "--only", "documents.acknowledgements", stdout=out)
        assert "documents.acknowledgements: 3 message(s)" in out.getvalue()

    def test_query_count_does_not_grow(
        self, version, tree, django_assert_max_num_queries, make_doc, release
    ):
        Acknowledgement.objects.update(due=TODAY())
        Document.objects.update(next_review_on=TODAY())
        with django_assert_max_num_queries(5):
            small = list(reminders.providers()["documents.acknowledgements"](TODAY()))
            list(reminders.providers()["documents.reviews"](TODAY()))
        for i in range(3):
            release(make_doc(T.REGULATION, title=f"制度{i}").latest_version)
        Acknowledgement.objects.update(due=TODAY())
        Document.objects.update(next_review_on=TODAY())
        with django_assert_max_num_queries(5):
            larger = list(reminders.providers()["documents.acknowledgements"](TODAY()))
            list(reminders.providers()["documents.reviews"](TODAY()))
        assert len(larger) == len(small)
