from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from finance import tenancy
from finance.models import Organization
from finance.seeding import seeders
from finance.services import organization_create, user_create_or_join

DEMO_SLUG = "demo"
DEMO_PASSWORD = "kehu-demo-2026"
DEMO_USERS = [
    ("owner@demo.kehu.local", "owner", "Wang Fang"),
    ("finance@demo.kehu.local", "finance_manager", "Li Na"),
    ("clerk@demo.kehu.local", "ar_clerk", "Chen Jie"),
    ("rep@demo.kehu.local", "sales_rep", "Zhang Wei"),
    ("rep2@demo.kehu.local", "sales_rep", "Emily Carter"),
    ("auditor@demo.kehu.local", "auditor", "Liu Yang"),
]


class Command(BaseCommand):
    help = "Create the demo organization with its users and data (once; --if-empty skips a seeded database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if any organization exists.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and Organization.objects.exists():
            self.stdout.write("Database already has organizations; not seeding.")
            return
        if Organization.objects.filter(slug=DEMO_SLUG).exists():
            self.stdout.write("The demo organization exists already.")
            return
        with transaction.atomic():
            org = organization_create(
                slug=DEMO_SLUG,
                name="Demo Trading Co. 演示贸易有限公司",
                base_currency="CNY",
                timezone_name="Asia/Shanghai",
                language="en",
                address="88 Century Avenue, Pudong, Shanghai 200120, China",
            )
            for email, role, name in DEMO_USERS:
                user_create_or_join(
                    email=email, organization=org, role=role, password=DEMO_PASSWORD, name=name
                )
            with tenancy.tenant(org):
                for seeder in seeders():
                    seeder.seed(org)
        self.stdout.write(self.style.SUCCESS(f"Seeded organization {org.slug}."))
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD}):")
        for email, role, _name in DEMO_USERS:
            self.stdout.write(f"  {email:28} {role}")
