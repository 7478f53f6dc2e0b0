from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finance import auditchain
from finance.models import Organization


class Command(BaseCommand):
    help = (
        "Seal pending audit events and verify each organization's tamper-evident audit chain. "
        "Exits with status 1 when a chain is broken; the result is kept and the admins are emailed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="Organization slug; default every organization.")

    def handle(self, *args: Any, **options: Any) -> None:
        organizations = Organization.objects.order_by("pk")
        if options["org"]:
            organizations = organizations.filter(slug=options["org"])
            if not organizations.exists():
                raise CommandError(f"No organization with slug {options['org']!r}.")
        broken = []
        for organization in organizations:
            verification = auditchain.verify_and_record(organization, source="command")
            state = "intact" if verification.intact else "BROKEN"
            self.stdout.write(
                f"{organization.slug}: {state}, {verification.events_checked} events, "
                f"head #{verification.sealed_through} {verification.head_hash}"
            )
            for chain_break in verification.breaks:
                self.stdout.write(
                    f"  sequence {chain_break['sequence']}: {chain_break['kind']}"
                    + (f" (event {chain_break['event_id']})" if chain_break["event_id"] else "")
                )
            if not verification.intact:
                broken.append(organization.slug)
        if broken:
            raise CommandError(f"Audit chain broken for: {', '.join(broken)}.", returncode=1)
