from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from finance.services import organization_create


class Command(BaseCommand):
    help = "Create an organization (a tenant)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--currency", default="CNY", help="Base currency, ISO 4217.")
        parser.add_argument("--timezone", default="Asia/Shanghai")
        parser.add_argument("--language", default="en", choices=["en", "zh-hans"])

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            org = organization_create(
                slug=options["slug"],
                name=options["name"],
                base_currency=options["currency"].upper(),
                timezone_name=options["timezone"],
                language=options["language"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        self.stdout.write(f"Created organization {org.slug} (id {org.pk}).")
