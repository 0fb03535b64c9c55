"""``pbqms demo_documents``: the demo enterprise's document system (demo mode only; run after
``pbqms demo``).

Everything goes through the document services, with real e-signatures: ``dangwei`` (党委副书记)
prepares the manual, the procedures of the main processes and their forms from the starter
set, ``dangban`` (党办, a party affairs worker of the committee) reviews them and ``shuji``
(党委书记) approves them; ``zhibu1`` writes a branch rule. One procedure has a revision in
review, and some members have acknowledged; the new-energy subsidiary's committee runs its
documents in simplified mode (三合为一). The two accounts ``dangban`` and ``shuji`` are
added here (demo password) because the committee's documents need a reviewer and an approver
other than their author. Running it again changes nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from pbqms.accounts.models import User
from pbqms.core.context import action_context
from pbqms.core.roles import Role
from pbqms.documents import modes, services, starter
from pbqms.documents.models import Acknowledgement, Document
from pbqms.orgs import demo_data as demo
from pbqms.orgs import services as org_services
from pbqms.orgs.models import Organization, Person, Post, RoleAssignment

SIMPLIFIED_UNIT = "HHJT-02"  # 华衡新能源有限公司党委
EXTRA_ACCOUNTS = (
    # username, display name if no person holds the post, role, post held at the top unit
    ("shuji", "党委书记", Role.PARTY_ADMIN, Post.Title.SECRETARY),
    ("dangban", "党办干事", Role.PARTY_WORKER, None),
)


def _account(username, display_name, role, post_title, root, granter) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        person = None
        if post_title:
            post = (
                Post.objects.filter(org=root, title=post_title, ended_on__isnull=True)
                .select_related("person")
                .first()
            )
            person = post.person if post and post.person.user_id is None else None
        user = User(
            username=username,
            display_name=person.name if person else display_name,
            must_change_password=False,
        )
        user.set_password(demo.PASSWORD)
        user.save()
        if person is not None:
            Person.objects.filter(pk=person.pk).update(user=user)
    if not RoleAssignment.objects.filter(user=user, role=role, org=root).exists():
        org_services.assign_role(actor=granter, user=user, role=role, org=root)
    return user


class Command(BaseCommand):
    help = "Load the demo enterprise's controlled documents (demo mode only)."

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            raise CommandError("demo_documents runs in demo mode only (PBQMS_DEMO=1).")
        root = Organization.objects.filter(code=demo.ROOT_CODE).first()
        if root is None:
            raise CommandError("Load the demo enterprise first: pbqms demo")
        if starter.has_manual(root):
            self.stdout.write("the demo documents are already there")
            return
        password = demo.PASSWORD
        by_name = {
            u.username: u
            for u in User.objects.filter(username__in=["dangwei", "zhibu1", "member1", "secadmin"])
        }
        dangwei, zhibu1 = by_name["dangwei"], by_name["zhibu1"]
        with action_context(source="command", reason=demo.REASON):
            shuji, dangban = (_account(*spec, root, by_name["secadmin"]) for spec in EXTRA_ACCOUNTS)
            made = starter.generate(actor=dangwei, org=root)
            today = timezone.localdate()
            for document in made:
                version = document.latest_version
                services.update_draft(
                    version,
                    actor=dangwei,
                    data={"reviewers": [dangban], "approvers": [shuji]},
                )
                if document.title == "满意度测评程序":
                    continue  # stays a draft: the system is still being built
                services.submit(version, actor=dangwei, password=password)
                services.review(version, actor=dangban, password=password)
                services.approve(version, actor=shuji, password=password, effective_on=today)
            # a revision in review
            control = Document.objects.get(org=root, title="文件控制程序")
            revision = services.start_revision(
                control, actor=dangwei, reason="按新版支部工作条例调整会议频次和记录要求"
            )
            services.update_draft(
                revision,
                actor=dangwei,
                data={
                    "content": revision.content
                    + "\n# 7 文件的电子签名\n\n编制、审核、批准均以电子签名确认，签名记录"
                    "签名人、时间、含义和所签内容的摘要。\n",
                    "reviewers": [dangban],
                    "approvers": [shuji],
                },
            )
            services.submit(revision, actor=dangwei, password=password)
            # a branch's own rule, under the organisational-life procedure
            branch = zhibu1.role_assignments.get(role=Role.BRANCH_SECRETARY).org
            life = Document.objects.get(org=root, title="组织生活程序")
            rule = services.create_document(
                actor=zhibu1,
                org=branch,
                doc_type=Document.Type.REGULATION,
                title="支部主题党日活动制度",
                parent=life,
                content="# 1 时间\n\n每月第一个星期五下午为主题党日。\n\n# 2 内容\n\n"
                "1. 集中学习\n2. 组织生活\n3. 志愿服务\n\n# 3 记录\n\n"
                "活动结束后三个工作日内填写活动记录并上传照片。\n",
                reviewers=[dangban],
                approvers=[shuji],
            )
            services.submit(rule.latest_version, actor=zhibu1, password=password)
            services.review(rule.latest_version, actor=dangban, password=password)
            services.approve(
                rule.latest_version, actor=shuji, password=password, effective_on=today
            )
            # some people have already read and acknowledged
            member1 = by_name["member1"]
            for ack in Acknowledgement.objects.filter(person__user__in=[member1, zhibu1])[:6]:
                services.acknowledge(ack, actor=ack.person.user)
            # the smaller new-energy subsidiary runs its documents in simplified mode (三合为一)
            small = Organization.objects.filter(code=SIMPLIFIED_UNIT).first()
            if small is not None:
                modes.set_mode(small, actor=dangwei, simplified=True)
        self.stdout.write(
            f"{Document.objects.count()} documents, "
            f"{Acknowledgement.objects.count()} acknowledgement tasks; reviewer dangban, "
            f"approver shuji (password as for the other demo accounts)"
        )
