"""The browser's half of permissions: a view mixin that checks the role table (fails closed)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from finance.actors import Actor


class ActorRequiredMixin(LoginRequiredMixin):
    """Signed in, a member of the current organization, and allowed `required_action`.

    A view that names no action is refused, so a new page cannot be left open by mistake.
    """

    required_action: str | None = None
    request: HttpRequest

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        actor: Actor | None = getattr(request, "actor", None)
        if actor is None:
            return render(request, "finance/no_organization.html", status=403)
        if self.required_action is None or not actor.can(self.required_action):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    @property
    def actor(self) -> Actor:
        return self.request.actor  # type: ignore[attr-defined]
