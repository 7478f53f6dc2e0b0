"""Who is acting: a member of an organization, one of its API keys, or the system (scheduled jobs)."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from finance.permissions import OWN_CUSTOMERS_ONLY, can

if TYPE_CHECKING:
    from finance.models import ApiKey, Organization, User


@dataclass(frozen=True)
class Actor:
    organization: Organization
    role: str
    user: User | None = None
    api_key: ApiKey | None = None

    @classmethod
    def system(cls, organization: Organization) -> Actor:
        return cls(organization=organization, role="owner")

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user else None

    @property
    def role_label(self) -> str:
        """The role as people read it ("Sales rep"), in the active language."""
        from finance.models import Role

        return str(Role(self.role).label) if self.role in Role.values else self.role

    @property
    def sees_own_customers_only(self) -> bool:
        return self.role in OWN_CUSTOMERS_ONLY

    def can(self, action: str) -> bool:
        return can(self, action)

    def require(self, action: str) -> None:
        if not self.can(action):
            raise PermissionDenied(_("You do not have permission to do that."))

    def __str__(self) -> str:
        if self.user:
            return str(self.user)
        if self.api_key:
            return str(self.api_key)
        return "system"


request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("kehu_request_id", default="")
