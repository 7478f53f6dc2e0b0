"""finance.cache.add_many: `cache.add` for many keys, in one round trip on Redis."""

from __future__ import annotations

import uuid

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


def test_in_redis_in_one_pipeline_with_the_expiry(redis_cache):
    _check_add_many()
    keys = redis_cache.keys("test-add-many:*")
    assert len(keys) == 4 and all(0 < redis_cache.server.ttl(key) <= 60 for key in keys)
