"""The write rules of ``pbqms.orgs.services``: unit kinds, moves, dissolution, people and
transfers, and the scope answers (404 outside, 403 without the right)."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from pbqms.core.locking import StaleObjectError
from pbqms.core.models import ChangeLogEntry
from pbqms.orgs import services
from pbqms.orgs.models import MembershipHistory, Organization, Person, Post
from tests.factories import make_person, make_unit

K = Organization.Kind
S = Person.MemberStatus
TODAY = timezone.localdate


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def error_fields(exc_info) -> set[str]:
    return set(exc_info.value.message_dict)


# ---------------------------------------------------------------- scope answers


def test_outside_scope_is_not_found_inside_without_right_is_forbidden(users, tree):
    with pytest.raises(Http404):
        services.require(users.secretary_a1, "orgs.add_person", tree.branch_b1)
    with pytest.raises(PermissionDenied):
        services.require(users.secretary_a1, "orgs.add_organization", tree.branch_a1)
    services.require(users.secretary_a1, "orgs.add_person", tree.group_a1)


# ---------------------------------------------------------------- kinds


class TestCreateUnit:
    @pytest.mark.parametrize(
        ("parent", "kind"),
        [
            ("sub_a", K.GROUP),  # a party group sits under a branch
            ("branch_a1", K.BRANCH),
            ("group_a1", K.GROUP),  # a group has no subordinate units
            ("sub_b", K.COMMITTEE),  # a general branch takes branches only
            ("sub_b", K.GENERAL_BRANCH),
        ],
    )
    def test_kind_must_fit_under_the_parent(self, users, tree, parent, kind):
        before = Organization.objects.count()
        with pytest.raises(ValidationError) as exc:
            services.create_unit(
                actor=users.party_admin,
                parent=getattr(tree, parent),
                data={"name": "新", "kind": kind},
            )
        assert error_fields(exc) == {"kind"}
        assert Organization.objects.count() == before

    @pytest.mark.parametrize(
        ("parent", "kind"),
        [
            ("root", K.COMMITTEE),
            ("sub_a", K.GENERAL_BRANCH),
            ("sub_a", K.JOINT_BRANCH),
            ("sub_b", K.BRANCH),
            ("branch_a1", K.GROUP),
        ],
    )
    def test_allowed_kinds(self, users, tree, parent, kind):
        unit = services.create_unit(
            actor=users.party_admin,
            parent=getattr(tree, parent),
            data={"name": "新单位", "kind": kind},
        )
        assert Organization.objects.get_parent(unit) == getattr(tree, parent)
        assert unit.term_years == Organization.DEFAULT_TERM_YEARS[kind]
        assert unit.code  # numbered when left empty

    def test_unknown_kind_and_missing_name(self, users, tree):
        with pytest.raises(ValidationError) as exc:
            services.create_unit(
                actor=users.party_admin, parent=tree.sub_a, data={"name": "x", "kind": "club"}
            )
        assert error_fields(exc) == {"kind"}
        with pytest.raises(ValidationError) as exc:
            services.create_unit(
                actor=users.party_admin, parent=tree.sub_a, data={"name": " ", "kind": K.BRANCH}
            )
        assert error_fields(exc) == {"name"}

    def test_code_is_unique_and_dates_checked(self, users, tree):
        future = TODAY() + datetime.timedelta(days=1)
        with pytest.raises(ValidationError) as exc:
            services.create_unit(
                actor=users.party_admin,
                parent=tree.sub_a,
                data={
                    "name": "x",
                    "kind": K.BRANCH,
                    "code": "A1",
                    "founded_on": future,
                },
            )
        assert error_fields(exc) == {"code", "founded_on"}

    def test_no_new_units_under_a_dissolved_one(self, users, tree):
        Organization.objects.filter(pk=tree.branch_a2.pk).update(
            dissolved_on=datetime.date(2024, 1, 1)
        )
        with pytest.raises(ValidationError) as exc:
            services.create_unit(
                actor=users.party_admin,
                parent=fresh(tree.branch_a2),
                data={"name": "组", "kind": K.GROUP},
            )
        assert error_fields(exc) == {"parent"}

    def test_top_level_units(self, users, tree):
        assert not services.can_add_top_level(users.party_admin)
        with pytest.raises(PermissionDenied):
            services.create_unit(
                actor=users.party_admin, parent=None, data={"name": "x", "kind": K.COMMITTEE}
            )
        assert services.can_add_top_level(users.system_admin)
        with pytest.raises(ValidationError) as exc:
            services.create_unit(
                actor=users.system_admin, parent=None, data={"name": "x", "kind": K.BRANCH}
            )
        assert error_fields(exc) == {"parent"}
        unit = services.create_unit(
            actor=users.system_admin, parent=None, data={"name": "x", "kind": K.COMMITTEE}
        )
        assert unit.is_root()

    def test_secretary_may_not_add_units(self, users, tree):
        with pytest.raises(PermissionDenied):
            services.create_unit(
                actor=users.secretary_a1,
                parent=tree.branch_a1,
                data={"name": "组", "kind": K.GROUP},
            )
        with pytest.raises(Http404):
            services.create_unit(
                actor=users.secretary_a1,
                parent=tree.branch_b1,
                data={"name": "组", "kind": K.GROUP},
            )


class TestUpdateUnit:
    def test_kind_change_must_fit_parent_and_children(self, users, tree):
        with pytest.raises(ValidationError) as exc:
            services.update_unit(
                actor=users.party_admin, unit=fresh(tree.branch_a1), data={"kind": K.GROUP}
            )
        assert error_fields(exc) == {"kind"}
        with pytest.raises(ValidationError):
            services.update_unit(
                actor=users.party_admin, unit=fresh(tree.sub_a), data={"kind": K.BRANCH}
            )
        unit = services.update_unit(
            actor=users.party_admin, unit=fresh(tree.branch_a1), data={"kind": K.JOINT_BRANCH}
        )
        assert fresh(unit).kind == K.JOINT_BRANCH

    def test_stale_version(self, users, tree):
        unit = fresh(tree.branch_a1)
        with pytest.raises(StaleObjectError):
            services.update_unit(
                actor=users.party_admin, unit=unit, data={"name": "x"}, version=unit.version + 1
            )
        assert fresh(unit).name == tree.branch_a1.name

    def test_term_cannot_start_before_founding(self, users, tree):
        with pytest.raises(ValidationError) as exc:
            services.update_unit(
                actor=users.party_admin,
                unit=fresh(tree.branch_a1),
                data={
                    "founded_on": datetime.date(2020, 1, 1),
                    "term_started_on": datetime.date(2019, 1, 1),
                },
            )
        assert error_fields(exc) == {"term_started_on"}


# ---------------------------------------------------------------- move


class TestMoveUnit:
    def test_move_under_own_subordinate_is_refused(self, users, tree):
        inner = make_unit("A内设党委", K.COMMITTEE, tree.sub_a, code="AC")
        with pytest.raises(ValidationError) as exc:
            services.move_unit(
                actor=users.party_admin, unit=fresh(tree.sub_a), new_parent=inner, reason="x"
            )
        assert error_fields(exc) == {"parent"}
        with pytest.raises(ValidationError):
            services.move_unit(
                actor=users.party_admin,
                unit=fresh(tree.sub_a),
                new_parent=fresh(tree.sub_a),
                reason="x",
            )
        assert fresh(tree.sub_a).path == tree.sub_a.path

    def test_other_refusals(self, users, tree):
        admin = users.party_admin
        with pytest.raises(ValidationError):  # the root stays
            services.move_unit(
                actor=admin, unit=fresh(tree.root), new_parent=fresh(tree.sub_a), reason="x"
            )
        with pytest.raises(ValidationError) as exc:  # a branch does not sit under a branch
            services.move_unit(
                actor=admin,
                unit=fresh(tree.branch_a2),
                new_parent=fresh(tree.branch_b1),
                reason="x",
            )
        assert error_fields(exc) == {"kind"}
        with pytest.raises(ValidationError):  # already there
            services.move_unit(
                actor=admin, unit=fresh(tree.branch_a2), new_parent=fresh(tree.sub_a), reason="x"
            )
        Organization.objects.filter(pk=tree.sub_b.pk).update(dissolved_on=datetime.date(2024, 1, 1))
        with pytest.raises(ValidationError):  # not under a dissolved unit
            services.move_unit(
                actor=admin, unit=fresh(tree.branch_a2), new_parent=fresh(tree.sub_b), reason="x"
            )

    def test_move_takes_the_subtree_and_is_logged(self, users, tree):
        unit = services.move_unit(
            actor=users.party_admin,
            unit=fresh(tree.branch_a1),
            new_parent=fresh(tree.sub_b),
            reason="重组",
            version=tree.branch_a1.version,
        )
        sub_b = fresh(tree.sub_b)
        assert unit.path.startswith(sub_b.path) and sub_b.numchild == 2
        assert fresh(tree.sub_a).numchild == 1
        assert fresh(tree.group_a1).path.startswith(unit.path)
        entry = ChangeLogEntry.objects.filter(
            object_type="orgs.organization", object_id=str(unit.pk)
        ).first()
        assert entry.reason == "重组" and entry.changes["parent"] == [
            tree.sub_a.name,
            tree.sub_b.name,
        ]

    def test_secretary_may_not_move(self, users, tree):
        with pytest.raises(PermissionDenied):
            services.move_unit(
                actor=users.secretary_a1,
                unit=fresh(tree.group_a1),
                new_parent=fresh(tree.branch_a1),
                reason="x",
            )


# ---------------------------------------------------------------- dissolve


class TestDissolveUnit:
    def test_refused_with_active_subordinate_units(self, users, tree):
        Person.objects.all().delete()
        with pytest.raises(ValidationError) as exc:
            services.dissolve_unit(
                actor=users.party_admin, unit=fresh(tree.branch_a1), on=TODAY(), reason="x"
            )
        assert error_fields(exc) == {"on"}
        # once the group is dissolved, the branch may follow
        services.dissolve_unit(
            actor=users.party_admin, unit=fresh(tree.group_a1), on=TODAY(), reason="x"
        )
        services.dissolve_unit(
            actor=users.party_admin, unit=fresh(tree.branch_a1), on=TODAY(), reason="合并"
        )
        assert fresh(tree.branch_a1).is_dissolved

    def test_refused_while_people_remain(self, users, tree):
        make_person(tree.branch_a2, "留下")
        with pytest.raises(ValidationError) as exc:
            services.dissolve_unit(
                actor=users.party_admin, unit=fresh(tree.branch_a2), on=TODAY(), reason="x"
            )
        assert error_fields(exc) == {"on"}

    def test_date_and_reason_required(self, users, tree):
        with pytest.raises(ValidationError) as exc:
            services.dissolve_unit(
                actor=users.party_admin, unit=fresh(tree.branch_a2), on=None, reason=" "
            )
        assert error_fields(exc) == {"on", "reason"}
        assert fresh(tree.branch_a2).dissolved_on is None

    def test_not_twice_and_not_before_founding(self, users, tree):
        Organization.objects.filter(pk=tree.branch_a2.pk).update(
            founded_on=datetime.date(2020, 1, 1)
        )
        with pytest.raises(ValidationError) as exc:
            services.dissolve_unit(
                actor=users.party_admin,
                unit=fresh(tree.branch_a2),
                on=datetime.date(2019, 1, 1),
                reason="x",
            )
        assert error_fields(exc) == {"on"}
        services.dissolve_unit(
            actor=users.party_admin, unit=fresh(tree.branch_a2), on=TODAY(), reason="合并"
        )
        with pytest.raises(ValidationError):
            services.dissolve_unit(
                actor=users.party_admin, unit=fresh(tree.branch_a2), on=TODAY(), reason="再次"
            )

    def test_logged_with_reason(self, users, tree):
        unit = services.dissolve_unit(
            actor=users.party_admin, unit=fresh(tree.branch_a2), on=TODAY(), reason="合并"
        )
        entry = ChangeLogEntry.objects.filter(
            object_type="orgs.organization", object_id=str(unit.pk)
        ).first()
        assert entry.action == "update" and entry.reason == "合并"
        assert entry.changes["dissolved_on"] == [None, TODAY().isoformat()]


# ---------------------------------------------------------------- people


def member(**changes):
    data = {
        "name": "党员",
        "gender": "M",
        "member_status": S.FULL,
        "joined_on": datetime.date(2010, 7, 1),
    }
    data.update(changes)
    return data


class TestPeople:
    def test_create_opens_history_and_posts(self, users, tree):
        person = services.create_person(
            actor=users.secretary_a1, org=tree.branch_a1, data=member(), posts=["secretary"]
        )
        stay = MembershipHistory.objects.get(person=person)
        assert stay.org == tree.branch_a1 and stay.reason == "join" and stay.ended_on is None
        assert [p.title for p in person.current_posts()] == ["secretary"]

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"name": " "}, "name"),
            ({"gender": "X"}, "gender"),
            ({"member_status": "boss"}, "member_status"),
            ({"joined_on": None}, "joined_on"),
            (
                {"birth_date": datetime.date(2000, 1, 1), "joined_on": datetime.date(2017, 1, 1)},
                "joined_on",
            ),
            ({"phone": "139-123"}, "phone"),
        ],
    )
    def test_person_rules(self, users, tree, changes, field):
        with pytest.raises(ValidationError) as exc:
            services.create_person(
                actor=users.secretary_a1, org=tree.branch_a1, data=member(**changes)
            )
        assert field in error_fields(exc)
        assert not Person.objects.filter(name="党员").exists()

    def test_unknown_post_saves_nothing(self, users, tree):
        with pytest.raises(ValidationError):
            services.create_person(
                actor=users.secretary_a1, org=tree.branch_a1, data=member(), posts=["king"]
            )
        assert not Person.objects.filter(name="党员").exists()

    def test_scope(self, users, tree):
        with pytest.raises(Http404):
            services.create_person(actor=users.secretary_a1, org=tree.branch_b1, data=member())
        with pytest.raises(PermissionDenied):
            services.create_person(actor=users.auditor, org=tree.branch_a1, data=member())


class TestTransfer:
    @pytest.fixture
    def person(self, users, tree):
        return services.create_person(
            actor=users.party_admin, org=tree.branch_a1, data=member(), posts=["organization"]
        )

    def test_history_is_kept(self, users, tree, person):
        services.transfer_person(
            actor=users.party_admin,
            person=person,
            to_org=tree.branch_b1,
            on=datetime.date(2024, 3, 1),
            reason="调动",
        )
        person = fresh(person)
        stays = list(MembershipHistory.objects.filter(person=person).order_by("started_on"))
        assert [(s.org_id, s.started_on, s.ended_on, s.reason) for s in stays] == [
            (tree.branch_a1.pk, datetime.date(2010, 7, 1), datetime.date(2024, 3, 1), "join"),
            (tree.branch_b1.pk, datetime.date(2024, 3, 1), None, "transfer"),
        ]
        post = Post.objects.get(person=person)
        assert post.ended_on == datetime.date(2024, 3, 1)
        # and back again: a second stay in the first unit
        services.transfer_person(
            actor=users.party_admin, person=person, to_org=tree.branch_a1, reason="返回"
        )
        assert MembershipHistory.objects.filter(person=person).count() == 3
        assert (
            MembershipHistory.objects.filter(person=person, ended_on__isnull=True).get().org
            == tree.branch_a1
        )

    def test_date_before_the_current_stay_is_refused(self, users, tree, person):
        with pytest.raises(ValidationError) as exc:
            services.transfer_person(
                actor=users.party_admin,
                person=person,
                to_org=tree.branch_b1,
                on=datetime.date(2009, 1, 1),
                reason="x",
            )
        assert error_fields(exc) == {"on"}
        assert fresh(person).org == tree.branch_a1

    def test_refusals(self, users, tree, person):
        admin = users.party_admin
        future = TODAY() + datetime.timedelta(days=1)
        with pytest.raises(ValidationError) as exc:
            services.transfer_person(
                actor=admin, person=person, to_org=tree.branch_a1, on=future, reason=""
            )
        assert error_fields(exc) == {"to_org", "on", "reason"}
        Organization.objects.filter(pk=tree.branch_a2.pk).update(
            dissolved_on=datetime.date(2024, 1, 1)
        )
        with pytest.raises(ValidationError) as exc:
            services.transfer_person(
                actor=admin, person=person, to_org=fresh(tree.branch_a2), reason="x"
            )
        assert error_fields(exc) == {"to_org"}
        with pytest.raises(ValidationError) as exc:  # a unit the secretary cannot see
            services.transfer_person(
                actor=users.secretary_a1, person=person, to_org=tree.branch_b1, reason="x"
            )
        assert error_fields(exc) == {"to_org"}
        with pytest.raises(StaleObjectError):
            services.transfer_person(
                actor=admin,
                person=person,
                to_org=tree.branch_b1,
                reason="x",
                version=person.version + 1,
            )
        assert fresh(person).org == tree.branch_a1
        assert MembershipHistory.objects.filter(person=person).count() == 1

    def test_scope(self, users, tree, person):
        with pytest.raises(PermissionDenied):
            services.transfer_person(
                actor=users.auditor, person=person, to_org=tree.branch_a2, reason="x"
            )
        with pytest.raises(Http404):
            services.transfer_person(
                actor=users.secretary_b1, person=person, to_org=tree.branch_b1, reason="x"
            )
