"""Fixtures of the record tests: people and a committee in branch A1, media in a temp dir."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.utils import timezone, translation

from pbqms.orgs.models import Post
from pbqms.records import services
from pbqms.records.models import RecordTemplate
from tests.factories import make_person

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PDF = b"%PDF-1.4\n%test\n"


@pytest.fixture(autouse=True)
def _english_messages():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }


@dataclass
class Branch:
    people: list  # 5 party members of A1 (the first three on the committee)
    committee: list


@pytest.fixture
def a1(tree, users) -> Branch:
    people = [make_person(tree.branch_a1, f"成员{i}") for i in range(5)]
    start = datetime.date(2020, 1, 1)
    titles = [Post.Title.SECRETARY, Post.Title.ORGANIZATION, Post.Title.PUBLICITY]
    for person, title in zip(people[:3], titles, strict=True):
        Post.objects.create(person=person, org=tree.branch_a1, title=title, started_on=start)
    return Branch(people=people, committee=people[:3])


@pytest.fixture
def templates(db):
    services.ensure_builtin_templates()
    return {t.code: t for t in RecordTemplate.objects.all()}


MEETING_DATA = {
    "place": "会议室",
    "host": "成员0",
    "recorder": "成员1",
    "topics": "学习贯彻",
    "content": "会议内容……",
    "resolutions": "决议",
}


def everyone_present(people):
    return [{"person": p.pk, "present": True} for p in people]


@pytest.fixture
def make_record(tree, users, templates, a1):
    def _make(code="committee_meeting", *, org=None, actor=None, submit=False, **extra):
        record = services.create_record(
            actor=actor or users.secretary_a1,
            org=org or tree.branch_a1,
            template=templates[code],
            title=extra.pop("title", "支委会会议"),
            occurred_at=extra.pop("occurred_at", timezone.now() - datetime.timedelta(days=1)),
            data=extra.pop("data", dict(MEETING_DATA)),
            attendance=extra.pop(
                "attendance",
                everyone_present(a1.people) if (org is None or org == tree.branch_a1) else None,
            ),
            **extra,
        )
        if submit:
            services.submit_record(record, actor=actor or users.secretary_a1)
        return record

    return _make


def t(msgid: str) -> str:
    """A UI string as pages render it for a client without a language preference."""
    from django.conf import settings

    with translation.override(settings.LANGUAGE_CODE):
        return translation.gettext(msgid)
