from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from finance import tenancy
from finance.actors import Actor
from finance.models import Organization
from finance.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for an organization; the key alone is printed on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Organization slug.")
        parser.add_argument("--name", required=True)
        parser.add_argument("--scopes", default="read", help="Comma-separated: read, write.")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["slug"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['slug']!r}.")
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        with tenancy.tenant(organization):
            try:
                key, raw_key = api_key_create(
                    actor=Actor.system(organization), name=options["name"], scopes=scopes
                )
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"Created API key {key.name} ({key.prefix}) with scopes {','.join(key.scopes)}.")
        self.stdout.write(raw_key)
