from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from finance.models import Organization, Role
from finance.services import user_create_or_join


class Command(BaseCommand):
    help = "Create a user (or reuse one by email) and give them a role in an organization."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--org", required=True, help="Organization slug.")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", default=None)
        parser.add_argument("--name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}.")
        try:
            user, membership = user_create_or_join(
                email=options["email"],
                organization=organization,
                role=options["role"],
                password=options["password"],
                name=options["name"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"{user.email} is {membership.role} of {organization.slug}.")
