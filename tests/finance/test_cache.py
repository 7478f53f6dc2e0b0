"""finance.cache.add_many: `cache.add` for many keys, in one round trip on Redis."""

from __future__ import annotations

import os
import uuid

import pytest
from django.core.cache import cache

from finance.cache import add_many


def _check_add_many() -> None:
    run = uuid.uuid4().hex
    keys = [f"test-add-many:{run}:{n}" for n in range(4)]
    assert cache.add(keys[1], "before", 60)
    assert add_many(keys, 1, 60) == [True, False, True, True]
    assert [cache.get(key) for key in keys] == [1, "before", 1, 1]
    assert add_many(keys, 2, 60) == [False] * 4
    assert add_many([], 1, 60) == []


def test_new_keys_are_added_and_existing_ones_kept():
    _check_add_many()


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs the Redis of REDIS_URL")
def test_in_redis_in_one_pipeline_with_the_expiry(settings):
    import redis

    prefix = f"kehu-test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": prefix,
        }
    }
    _check_add_many()
    server = redis.Redis.from_url(os.environ["REDIS_URL"])
    keys = server.keys(f"{prefix}:*test-add-many:*")
    assert len(keys) == 4 and all(0 < server.ttl(key) <= 60 for key in keys)
    server.delete(*keys)
