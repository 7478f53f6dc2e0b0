"""Rate limits: per API key (never per address: one ERP behind a NAT must not starve another) and
per signed-in user for the browser's session.

A fixed one-minute window counted in Django's cache (Redis in production, so every web process
shares the count). The key's own `rate_limit_per_minute` wins, then the organization's
`settings["api_rate_limit_per_minute"]`, then `API_KEY_RATE_LIMIT_PER_MINUTE`; sessions use
`API_USER_RATE_LIMIT_PER_MINUTE`. Over the limit DRF answers 429 with `Retry-After`; every
throttled response carries `X-RateLimit-Limit` and `X-RateLimit-Remaining` (set by
`finance.security_events.SecurityEventMiddleware` from what the throttle leaves on the request).
"""

from __future__ import annotations

import abc
import logging
import math
import time
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from finance.actors import Actor
from finance.cache import count as count_in_cache

logger = logging.getLogger("kehu.api")

WINDOW_SECONDS = 60


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


class _PerMinuteThrottle(BaseThrottle, abc.ABC):
    """Counts requests of one identity per minute; `identity()` and `limit()` say whose and how many."""

    scope = ""
    _wait: float | None = None

    @abc.abstractmethod
    def identity(self, actor: Actor) -> str | None:
        """Whose requests are counted together; None: not limited by this throttle."""

    @abc.abstractmethod
    def limit(self, actor: Actor) -> int:
        """Requests per minute allowed for that identity."""

    def allow_request(self, request: Request, view: Any) -> bool:
        actor = request.auth
        if not isinstance(actor, Actor):
            return True
        identity = self.identity(actor)
        if identity is None:
            return True
        limit = self.limit(actor)
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        cache_key = f"kehu:throttle:{self.scope}:{identity}:{window}"
        try:
            count = count_in_cache(cache_key, WINDOW_SECONDS + 5)
        except Exception:  # noqa: BLE001 (a cache outage must not take the API down with it)
            logger.exception("Rate-limit cache unavailable; request allowed.")
            return True
        request._request.rate_limit = (limit, max(limit - count, 0))
        if count > limit:
            self._wait = (window + 1) * WINDOW_SECONDS - now
            return False
        return True

    def wait(self) -> float | None:
        return math.ceil(self._wait) if self._wait is not None else None


class ApiKeyRateThrottle(_PerMinuteThrottle):
    scope = "key"

    def identity(self, actor: Actor) -> str | None:
        return str(actor.api_key.pk) if actor.api_key is not None else None

    def limit(self, actor: Actor) -> int:
        key = actor.api_key
        assert key is not None
        return (
            _positive_int(key.rate_limit_per_minute)
            or _positive_int((actor.organization.settings or {}).get("api_rate_limit_per_minute"))
            or settings.API_KEY_RATE_LIMIT_PER_MINUTE
        )


class UserRateThrottle(_PerMinuteThrottle):
    scope = "user"

    def identity(self, actor: Actor) -> str | None:
        if actor.api_key is not None or actor.user is None:
            return None
        return str(actor.user.pk)

    def limit(self, actor: Actor) -> int:
        return settings.API_USER_RATE_LIMIT_PER_MINUTE
