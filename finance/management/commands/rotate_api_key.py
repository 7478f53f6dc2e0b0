from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from finance import tenancy
from finance.actors import Actor
from finance.models import ApiKey, Organization
from finance.services import api_key_rotate


class Command(BaseCommand):
    help = (
        "Rotate an organization's API key: a successor with the same name and scopes is created and "
        "the old key keeps working for --overlap-hours. The new key alone is printed on the last line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Organization slug.")
        parser.add_argument("prefix", help="The key's prefix (the 8 characters after kehu_).")
        parser.add_argument("--overlap-hours", type=int, default=24)

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["slug"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['slug']!r}.")
        with tenancy.tenant(organization):
            key = ApiKey.objects.filter(prefix=options["prefix"]).first()
            if key is None:
                raise CommandError(f"No API key with prefix {options['prefix']!r} in {organization.slug}.")
            try:
                successor, raw_key = api_key_rotate(
                    actor=Actor.system(organization), key=key, overlap_hours=options["overlap_hours"]
                )
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            f"Rotated {key.name} ({key.prefix}): it works until {key.expires_at.isoformat()}; "
            f"the new key is {successor.prefix} with scopes {','.join(successor.scopes)}."
        )
        self.stdout.write(raw_key)
