"""``pbqms verify-audit``: check the change log's hash chain (SECURITY.md item 9).

Walks every entry in order, recomputes its hash and checks its link to the entry before.
Prints how many entries were checked and "OK", or the id of the first broken entry and
why; the exit code is 1 when the chain is broken. It only reads."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from pbqms.core.changelog import verify_chain

EXPLANATIONS = {
    "content does not match its hash": (
        "its content does not match its hash: the entry was changed after it was written"
    ),
    "previous-hash link broken": (
        "its link to the previous entry does not match: an entry before it was removed or changed"
    ),
}


class Command(BaseCommand):
    help = "Check the change-log hash chain; exit code 1 and the first broken entry if broken."

    def add_arguments(self, parser):
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=2000,
            help="Entries read per database round trip (default 2000).",
        )

    def handle(self, *args, **options):
        report = verify_chain(chunk_size=max(1, options["chunk_size"]))
        if report.ok:
            self.stdout.write(
                self.style.SUCCESS(f"OK: {report.checked} entries checked; the chain is intact.")
            )
            return
        why = EXPLANATIONS.get(report.problem, report.problem)
        raise CommandError(
            f"BROKEN: the first broken entry is id {report.broken_id}: {why} "
            f"({report.checked} entries before it checked OK).",
            returncode=1,
        )
