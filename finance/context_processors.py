from typing import Any

from django.http import HttpRequest

from finance.selectors import memberships_of

# Actions whose links the navigation shows or hides.
NAV_ACTIONS = ("audit.view", "apikey.manage", "customer.create", "customer.archive", "privacy.view")


def kehu(request: HttpRequest) -> dict[str, Any]:
    """Navigation and organization switcher for every page."""
    actor = getattr(request, "actor", None)
    user = getattr(request, "user", None)
    memberships = memberships_of(user) if actor is not None and user is not None else []
    return {
        "actor": actor,
        "current_org": actor.organization if actor else None,
        "memberships": memberships,
        "perms_for": {action.replace(".", "_"): actor.can(action) for action in NAV_ACTIONS} if actor else {},
    }
