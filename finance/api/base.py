"""The base of every API view: tenant-scoped actor, role permissions, idempotent POSTs.

Each resource states its queryset, serializers, filterset and `action_permissions`; this class
supplies the rest, so no resource can forget the tenant, the role table or `Idempotency-Key`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from finance.actors import Actor
from finance.api.exceptions import Conflict, Unprocessable
from finance.models import IdempotencyKey

IDEMPOTENCY_HEADER = "Idempotency-Key"
# An in-flight key older than this belongs to a request that died; a retry may take it over.
IN_FLIGHT_TIMEOUT = timedelta(minutes=5)


class _Replay(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


class IdempotentMixin:
    """`Idempotency-Key` on POST: same key and body replays the first response; a different body
    is 422; a request while the first is still running is 409. Keys are per organization."""

    _idempotency_row: IdempotencyKey | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if request.method == "POST" and key is not None:
            # Keep the raw body before the session CSRF check parses a form and consumes the stream.
            request._request.body  # noqa: B018
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self._idempotency_row = None
        if request.method != "POST" or key is None:
            return
        if not key or len(key) > 255 or not key.isprintable():
            raise exceptions.ValidationError({IDEMPOTENCY_HEADER: [_("Use 1 to 255 printable characters.")]})
        body = request._request.body  # read (and size-checked) before the parser consumes it
        request_hash = hashlib.sha256(
            b"%s %s\n%s" % (request.method.encode(), request.get_full_path().encode(), body)
        ).hexdigest()
        try:
            with transaction.atomic():
                self._idempotency_row = IdempotencyKey.objects.create(key=key, request_hash=request_hash)
            return
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.get(key=key)
        if existing.request_hash != request_hash:
            raise Unprocessable(_("This Idempotency-Key was used with a different request."))
        if existing.completed:
            replay = Response(existing.response_body, status=existing.response_status)
            replay["Idempotent-Replayed"] = "true"
            raise _Replay(replay)
        if timezone.now() - existing.created_at < IN_FLIGHT_TIMEOUT:
            raise Conflict(_("A request with this Idempotency-Key is still in progress."))
        existing.created_at = timezone.now()
        existing.save(update_fields=["created_at"])
        self._idempotency_row = existing

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Replay):
            return exc.response
        return super().handle_exception(exc)  # type: ignore[misc]

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any):  # noqa: ANN201
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        row = self._idempotency_row
        if row is not None:
            self._idempotency_row = None
            if response.status_code >= 500:
                row.delete()
            else:
                data = getattr(response, "data", None)
                row.response_body = json.loads(JSONRenderer().render(data)) if data is not None else None
                row.response_status = response.status_code
                row.completed = True
                row.save(update_fields=["response_body", "response_status", "completed"])
        return response


class ActorMixin:
    request: Request

    @property
    def actor(self) -> Actor:
        actor = self.request.auth
        if not isinstance(actor, Actor):
            raise exceptions.NotAuthenticated()
        return actor


class KehuViewSet(IdempotentMixin, ActorMixin, viewsets.GenericViewSet):
    """Base viewset. Subclasses name `action_permissions` for every action they expose, set
    `queryset = Model.unscoped.none()` (the model, for the schema) and narrow the rows the actor
    may see in `scoped_queryset()`."""

    action_permissions: dict[str, str] = {}

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no tenant
            return self.queryset
        return self.scoped_queryset()

    def scoped_queryset(self) -> QuerySet:
        return self.queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # A detail URL names one row: list filters in its query string neither narrow nor refuse it.
        if self.detail:
            return queryset
        return super().filter_queryset(queryset)

    def permission_denied(
        self, request: Request, message: str | None = None, code: str | None = None
    ) -> None:
        """An id the actor cannot see is a 404 before it is a 403: a refusal never tells whether
        another organization's (or another rep's) row exists."""
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        if lookup is not None and isinstance(request.auth, Actor) and not self._visible(lookup):
            raise exceptions.NotFound()
        super().permission_denied(request, message=message, code=code)

    def _visible(self, lookup: Any) -> bool:
        try:
            return self.get_queryset().filter(**{self.lookup_field: lookup}).exists()
        except (
            ValueError,
            TypeError,
            DjangoValidationError,
            DjangoPermissionDenied,
            exceptions.APIException,
        ):
            return False


class KehuAPIView(IdempotentMixin, ActorMixin, viewsets.ViewSet):
    action_permissions: dict[str, str] = {}
