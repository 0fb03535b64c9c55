"""Fixtures of the document tests: an author, a reviewer and an approver around branch A1,
and helpers that drive a version through its lifecycle with the real services."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.utils import timezone, translation

from pbqms.core.roles import Role
from pbqms.documents import services
from pbqms.documents.models import Document
from tests.factories import PASSWORD, grant, make_user

T = Document.Type


@pytest.fixture(autouse=True)
def _english_messages():
    """Service messages are asserted in their English source form."""
    with translation.override("en"):
        yield


@dataclass
class DocPeople:
    author: object  # branch secretary of A1 (drafts A1's documents)
    reviewer: object  # party worker on A公司党委 and below
    approver: object  # party committee administrator on the whole tree
    admin_a: object  # party committee administrator of A公司党委 only


@pytest.fixture
def people(users, tree) -> DocPeople:
    reviewer = make_user("worker_a", display_name="审核人")
    grant(reviewer, Role.PARTY_WORKER, tree.sub_a)
    admin_a = make_user("admin_a", display_name="A党委管理员")
    grant(admin_a, Role.PARTY_ADMIN, tree.sub_a)
    return DocPeople(
        author=users.secretary_a1,
        reviewer=reviewer,
        approver=users.party_admin,
        admin_a=admin_a,
    )


@pytest.fixture
def make_doc(people, tree):
    def _make(
        doc_type=T.PROCEDURE,
        *,
        org=None,
        parent=None,
        actor=None,
        title="文件控制程序",
        content="# 目的\n\n规定文件的编制、审核、批准。\n",
        assign=True,
        **extra,
    ):
        actor = actor or people.author
        return services.create_document(
            actor=actor,
            org=org or tree.branch_a1,
            doc_type=doc_type,
            title=title,
            parent=parent,
            content=content,
            reviewers=[people.reviewer] if assign else None,
            approvers=[people.approver] if assign else None,
            **extra,
        )

    return _make


@pytest.fixture
def release(people):
    """Drive a draft version to effective (today) through every signature."""

    def _release(version, *, effective_on=None):
        services.submit(version, actor=people.author, password=PASSWORD)
        services.review(version, actor=people.reviewer, password=PASSWORD)
        services.approve(
            version,
            actor=people.approver,
            password=PASSWORD,
            effective_on=effective_on or timezone.localdate(),
        )
        version.refresh_from_db()
        return version

    return _release
