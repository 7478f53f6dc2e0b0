"""The API's permission check: the role table, per view action; fails closed."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from finance.actors import Actor


class RolePermission(permissions.BasePermission):
    """Allows a request when the actor's role has the action the view names for it.

    Views map DRF actions to Kehu actions in `action_permissions`; an unmapped action is denied.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        actor = request.auth
        if not isinstance(actor, Actor):
            return False
        mapping: dict[str, str] = getattr(view, "action_permissions", {})
        action = getattr(view, "action", None) or request.method.lower()
        required = mapping.get(action)
        if required is None:
            return False
        return actor.can(required)
