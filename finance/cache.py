"""What Django's cache API lacks, in one round trip on Redis: counting in a window, adding many
keys. The only place that reaches past Django's cache to its Redis client."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache


def _redis_pipeline(key: str) -> tuple[Any, str] | None:
    """A pipeline on the Redis client Django's own calls for `key` use, and the key as Django
    stores it; None when the cache is not Redis."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    made = backend.make_and_validate_key(key)
    return backend._cache.get_client(made, write=True).pipeline(transaction=False), made


def count(key: str, seconds: int) -> int:
    """Add one to the counter `key` (kept `seconds` from its first count) and return it. On Redis
    INCR and EXPIRE pipelined; on other caches Django's add, then incr."""
    redis = _redis_pipeline(key)
    if redis is not None:
        pipe, made = redis
        pipe.incr(made)
        pipe.expire(made, seconds)
        counted, _expiry_set = pipe.execute()
        return int(counted)
    if cache.add(key, 1, timeout=seconds):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        return 1


def add_many(keys: Sequence[str], value: object, timeout: int) -> list[bool]:
    """`cache.add(key, value, timeout)` for each key (True where the key was new): on Redis SET NX
    EX pipelined; elsewhere, or with no positive timeout, one by one."""
    redis = _redis_pipeline(keys[0]) if keys and timeout > 0 else None
    if redis is None:
        return [cache.add(key, value, timeout) for key in keys]
    pipe, _made = redis
    backend = caches["default"]
    stored = backend._cache._serializer.dumps(value)
    for key in keys:
        pipe.set(backend.make_and_validate_key(key), stored, ex=timeout, nx=True)
    return [bool(added) for added in pipe.execute()]
