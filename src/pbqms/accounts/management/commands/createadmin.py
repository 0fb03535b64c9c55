"""``pbqms createadmin``: the first administrator accounts of an installation.

SECURITY.md item 1: production has no default accounts; the operator creates the first
system administrator and types its password (checked by the password rules). The three
separated administrator roles (三员分立) each need a first holder, because only the security
administrator may grant roles afterwards:

    pbqms createadmin                                   # 系统管理员, prompts for everything
    pbqms createadmin --role security_admin --username secadmin
    pbqms createadmin --role audit_admin --username auditadmin

If the organisation tree is empty, the top unit (a 党委) is created first. With
``--no-input`` the password is read from standard input (one line), never from the command
line, where other users of the machine could see it.
"""

from __future__ import annotations

import getpass
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from pbqms.accounts.models import User
from pbqms.core.changelog import log_security_event
from pbqms.core.context import action_context
from pbqms.core.numbering import next_number
from pbqms.core.roles import ADMIN_ROLES, Role

ROLE_CHOICES = sorted(str(r) for r in ADMIN_ROLES)


class Command(BaseCommand):
    help = (
        "Create the first system (or security, or audit) administrator and, if there is no "
        "unit yet, the top party committee. The password is typed by the operator."
    )

    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("--username", help="user name of the new administrator")
        parser.add_argument("--display-name", default="", help="name shown in pbqms")
        parser.add_argument(
            "--role",
            choices=ROLE_CHOICES,
            default=str(Role.SYSTEM_ADMIN),
            help="administrator role to grant on the top unit (default: system_admin)",
        )
        parser.add_argument(
            "--unit-name",
            default="",
            help="name of the top unit, created only if the organisation tree is empty",
        )
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="do not prompt: read the password from standard input (one line)",
        )

    def handle(self, *args, **options):
        from pbqms.orgs.models import Organization, RoleAssignment

        self.stdin = options.get("stdin") or sys.stdin
        interactive = options["interactive"]
        role = options["role"]
        if RoleAssignment.objects.filter(role=role, user__is_active=True).exists():
            raise CommandError(
                f"An active account already holds the role {role}; use pbqms itself to add "
                "more administrators."
            )
        username = (options["username"] or "").strip()
        if not username and interactive:
            username = input("User name: ").strip()
        if not username:
            raise CommandError("Give a user name (--username).")
        if User.objects.filter(username__iexact=username).exists():
            raise CommandError(f"The user name {username!r} is already taken.")
        try:
            User.username_validator(username)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc

        root = Organization.objects.filter(depth=1).order_by("path").first()
        unit_name = (options["unit_name"] or "").strip()
        if root is None and not unit_name:
            if interactive:
                unit_name = input("Name of the top party committee: ").strip()
            if not unit_name:
                raise CommandError("The organisation tree is empty: give --unit-name.")

        user = User(
            username=username,
            display_name=options["display_name"].strip(),
            must_change_password=False,  # the operator chose this password themselves
            is_staff=False,
            is_superuser=False,
        )
        password = self._password(user, interactive)

        with transaction.atomic(), action_context(source="command", reason="createadmin"):
            if root is None:
                root = Organization.objects.add_root(
                    {
                        "name": unit_name,
                        "kind": Organization.Kind.COMMITTEE,
                        "code": next_number("orgs.organization"),
                        "term_years": Organization.DEFAULT_TERM_YEARS.get(
                            Organization.Kind.COMMITTEE
                        ),
                    }
                )
                self.stdout.write(f"Created the top unit {root.name} ({root.code}).")
            user.set_password(password)
            user.save()
            assignment = RoleAssignment.objects.create(
                user=user, role=role, org=root, include_subtree=True, note="createadmin"
            )
            log_security_event(
                "permission_change",
                instance=assignment,
                details={"granted": role, "org": root.code, "subtree": True, "user": username},
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {username} ({role}) on {root.name}. Sign in and set up two-factor "
                "authentication."
            )
        )

    def _password(self, user: User, interactive: bool) -> str:
        from django.contrib.auth import password_validation

        for _attempt in range(3 if interactive else 1):
            if interactive:
                password = getpass.getpass("Password: ")
                again = getpass.getpass("Password (again): ")
                if password != again:
                    self.stderr.write("The two passwords do not match.")
                    continue
            else:
                password = self.stdin.readline().rstrip("\r\n")
            if not password:
                message = "The password is empty."
                if not interactive:
                    raise CommandError(message)
                self.stderr.write(message)
                continue
            try:
                password_validation.validate_password(password, user)
            except ValidationError as exc:
                message = "The password is refused: " + " ".join(exc.messages)
                if not interactive:
                    raise CommandError(message) from exc
                self.stderr.write(message)
                continue
            return password
        raise CommandError("No acceptable password was given.")
