"""`migrate` as the owner of the schema, then row-level security on every tenant table."""

from typing import Any

from django.core.management.commands.migrate import Command as DjangoMigrate

from finance.db import owner_mode


class Command(DjangoMigrate):
    def handle(self, *args: Any, **options: Any) -> None:
        with owner_mode():
            super().handle(*args, **options)
