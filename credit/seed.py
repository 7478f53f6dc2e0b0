"""credit's part of the demo (filled in with the pages)."""

from finance.models import Organization


def seed(organization: Organization) -> None:
    return None
