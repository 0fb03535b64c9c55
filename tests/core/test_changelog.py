"""The change-log mechanism: one entry per create/update/delete of every logged model, with
before/after values, the actor and reason from the action context, masked secrets, and a
hash chain that stays valid under concurrent writers."""

from __future__ import annotations

import datetime
import itertools
import threading

import pytest
from django.db import connection, connections

from pbqms.accounts.models import User
from pbqms.core.changelog import GENESIS_HASH, MASKED, compute_hash, verify_chain
from pbqms.core.context import action_context
from pbqms.core.models import ChangeLogEntry
from pbqms.core.roles import Role
from pbqms.orgs import services
from pbqms.orgs.models import Organization, Person, Post, RoleAssignment
from tests.factories import PASSWORD, make_person, make_unit, make_user

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")


class Since:
    def __init__(self):
        self.last = ChangeLogEntry.objects.order_by("-id").values_list("id", flat=True).first()

    def entries(self) -> list[ChangeLogEntry]:
        return list(ChangeLogEntry.objects.filter(id__gt=self.last or 0).order_by("id"))


def only_entry(since: Since) -> ChangeLogEntry:
    new = since.entries()
    assert len(new) == 1, [(e.action, e.object_type, e.changes) for e in new]
    return new[0]


# ---------------------------------------------------------------- one entry per change


def _make(kind: str, tree):
    if kind == "organization":
        return make_unit("新党小组", Organization.Kind.GROUP, tree.branch_a2, code="NEWG")
    if kind == "person":
        return make_person(tree.branch_a2, "钱七", phone="13512345678")
    if kind == "post":
        person = make_person(tree.branch_a2, "孙八")
        return Post.objects.create(person=person, org=tree.branch_a2, title="publicity")
    if kind == "roleassignment":
        user = make_user("ra_user")
        return RoleAssignment.objects.create(user=user, role=Role.MEMBER, org=tree.branch_a2)
    if kind == "user":
        return make_user("log_user", display_name="日志用户")
    raise AssertionError(kind)


CHANGES = {
    "organization": ("name", "新党小组（改）"),
    "person": ("phone", "13588889999"),
    "post": ("title", "discipline"),
    "roleassignment": ("note", "临时授权"),
    "user": ("display_name", "改名用户"),
}
TYPES = {
    "organization": "orgs.organization",
    "person": "orgs.person",
    "post": "orgs.post",
    "roleassignment": "orgs.roleassignment",
    "user": "accounts.user",
}


@pytest.mark.parametrize("kind", list(CHANGES))
def test_create_update_delete_write_one_entry_each(tree, kind):
    since = Since()
    obj = _make(kind, tree)
    created = since.entries()[-1]
    assert created.action == "create"
    assert created.object_type == TYPES[kind]
    assert created.object_id == str(obj.pk)
    field, new_value = CHANGES[kind]
    old_value = getattr(obj, field)
    assert created.changes[field] == [None, old_value]
    assert all(pair[0] is None for pair in created.changes.values())

    since = Since()
    obj = type(obj)._default_manager.get(pk=obj.pk)
    setattr(obj, field, new_value)
    obj.save()
    updated = only_entry(since)
    assert (updated.action, updated.object_type, updated.object_id) == (
        "update",
        TYPES[kind],
        str(obj.pk),
    )
    assert updated.changes[field] == [old_value, new_value]
    # only what changed (plus the version counter of versioned models)
    assert set(updated.changes) <= {field, "version"}

    since = Since()
    pk = obj.pk
    obj.delete()
    deleted = only_entry(since)
    assert (deleted.action, deleted.object_type, deleted.object_id) == (
        "delete",
        TYPES[kind],
        str(pk),
    )
    assert deleted.changes[field] == [new_value, None]
    assert verify_chain().ok


@pytest.mark.parametrize("kind", list(CHANGES))
def test_a_save_that_changes_nothing_writes_no_entry(tree, kind):
    obj = _make(kind, tree)
    obj = type(obj)._default_manager.get(pk=obj.pk)
    since = Since()
    obj.save()
    obj.save()
    assert since.entries() == []


def test_a_second_save_diffs_against_the_first(tree):
    person = make_person(tree.branch_a2, "周九")
    since = Since()
    person.phone = "13600000001"
    person.save()
    person.phone = "13600000002"
    person.save()
    first, second = since.entries()
    assert first.changes["phone"] == ["", "13600000001"]
    assert second.changes["phone"] == ["13600000001", "13600000002"]


def test_the_password_is_masked(db):
    since = Since()
    user = make_user("secretive")
    created = since.entries()[-1]
    assert created.changes["password"] == [None, MASKED]
    since = Since()
    user = User.objects.get(pk=user.pk)
    user.set_password("Another-Passw0rd!x")
    user.save()
    entry = only_entry(since)
    # the log says that the password changed, never what it is
    assert entry.changes["password"] == [MASKED, MASKED]
    hashes = {user.password, User.objects.get(pk=user.pk).password}
    for row in ChangeLogEntry.objects.all():
        text = repr(row.changes)
        assert not any(h in text for h in hashes)
        assert PASSWORD not in text
        assert "Another-Passw0rd!x" not in text


def test_bookkeeping_fields_are_not_logged(tree):
    created = ChangeLogEntry.objects.filter(
        object_type="orgs.organization", object_id=str(tree.root.pk)
    ).first()
    assert "updated_at" not in created.changes
    assert "created_at" not in created.changes
    assert "numchild" not in created.changes


def test_context_gives_actor_source_ip_reason(tree, users):
    since = Since()
    with action_context(
        actor=users.party_admin, source="command", ip="10.1.2.3", reason="年度整改"
    ):
        services.update_unit(
            actor=users.party_admin, unit=tree.branch_a2, data={"short_name": "二支部"}
        )
    entry = only_entry(since)
    assert entry.actor_id == users.party_admin.pk
    assert entry.actor_repr == "party_admin"
    assert entry.source == "command"
    assert entry.ip == "10.1.2.3"
    assert entry.reason == "年度整改"
    assert entry.org_id == tree.branch_a2.pk
    assert entry.changes["short_name"] == ["", "二支部"]


def test_reasons_given_to_services_land_in_the_entries(tree, users):
    person = make_person(tree.branch_a1, "吴十")
    since = Since()
    services.transfer_person(
        actor=users.party_admin, person=person, to_org=tree.branch_a2, reason="工作调动"
    )
    new = since.entries()
    assert new
    assert {e.reason for e in new} == {"工作调动"}
    since = Since()
    services.move_unit(
        actor=users.party_admin, unit=tree.branch_a2, new_parent=tree.sub_b, reason="改隶"
    )
    moved = only_entry(since)
    assert moved.reason == "改隶"
    assert moved.changes["parent"] == ["A公司党委", "B公司党总支"]


def test_entries_form_a_hash_chain(tree):
    rows = list(ChangeLogEntry.objects.order_by("id"))
    assert rows[0].prev_hash == GENESIS_HASH
    for prev, row in itertools.pairwise(rows):
        assert row.prev_hash == prev.hash
        assert compute_hash(row) == row.hash
    assert verify_chain().ok
    assert verify_chain().checked == len(rows)


def test_entries_written_in_a_rolled_back_transaction_vanish_with_it(tree):
    from django.db import transaction

    before = ChangeLogEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        make_person(tree.branch_a2, "回滚")
        raise RuntimeError
    assert ChangeLogEntry.objects.count() == before
    make_person(tree.branch_a2, "之后")
    assert verify_chain().ok


# ---------------------------------------------------------------- concurrency (PostgreSQL)


@pytest.mark.postgres_only
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_the_chain_valid():
    root = make_unit("并发党委", Organization.Kind.COMMITTEE, code="CC")
    branches = [
        make_unit(f"并发支部{i}", Organization.Kind.BRANCH, root, code=f"CC{i}") for i in range(2)
    ]
    before = ChangeLogEntry.objects.count()
    per_thread = 15
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(branches))

    def writer(branch_pk: int) -> None:
        try:
            barrier.wait()
            branch = Organization.objects.get(pk=branch_pk)
            for i in range(per_thread):
                make_person(branch, f"并发{branch_pk}-{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(b.pk,)) for b in branches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert ChangeLogEntry.objects.count() == before + per_thread * len(branches)
    report = verify_chain()
    assert report.ok, report
    # the writers really interleaved or at least both wrote
    writers = set(Person.objects.filter(name__startswith="并发").values_list("org_id", flat=True))
    assert writers == {b.pk for b in branches}


def test_dates_are_stored_as_iso_strings(tree):
    since = Since()
    person = make_person(tree.branch_a2, "郑十一", birth_date=datetime.date(1990, 3, 8))
    entry = since.entries()[0]
    assert entry.object_id == str(person.pk)
    assert entry.changes["birth_date"] == [None, "1990-03-08"]
