"""`flush` as the owner of the schema (TRUNCATE is not granted to the application role)."""

from typing import Any

from django.core.management.commands.flush import Command as DjangoFlush

from finance.db import owner_mode


class Command(DjangoFlush):
    def handle(self, **options: Any) -> None:
        with owner_mode():
            super().handle(**options)
