"""finance.rowcache.RowCache: the generation tokens that keep a cached row from outliving a change.

These tests run without a database transaction of their own (the row caches' path between
requests), except where a transaction is the point."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.db import connection, transaction

from finance.rowcache import MISSING, RowCache


def fresh(name: str) -> tuple[RowCache, str]:
    return RowCache(f"test-{name}", seconds=60), uuid.uuid4().hex  # Redis outlives test databases


def test_a_value_is_kept_under_its_generation():
    rows, k = fresh("kept")
    value, generation = rows.get(k)
    assert value is MISSING and generation is not None
    rows.put(k, "row", generation)
    assert rows.get(k) == ("row", generation)


def test_a_row_read_before_a_change_is_not_kept_after_it():
    """A reader reads the row, a writer changes it and forgets it, then the reader stores what it
    read: the entry carries the old generation and is ignored."""
    rows, k = fresh("race")
    _value, generation = rows.get(k)
    rows.forget(k)
    rows.put(k, "old row", generation)
    assert rows.get(k)[0] is MISSING
    _value, generation = rows.get(k)
    rows.put(k, "new row", generation)
    assert rows.get(k)[0] == "new row"


def test_a_lost_generation_is_replaced_and_no_old_entry_matches_it():
    """Redis restarted empty or evicted the token: the entry stored under it is not taken, and
    nothing is ever stamped "no token" (which a lost token would match)."""
    rows, k = fresh("lost")
    entry_key, generation_key = rows._keys(k)
    _value, generation = rows.get(k)
    rows.put(k, "row", generation)
    cache.delete(generation_key)
    assert rows.get(k)[0] is MISSING
    cache.set(entry_key, (None, "stamped with no token"), 60)
    cache.delete(generation_key)
    value, generation = rows.get(k)
    assert value is MISSING and generation is not None
    rows.put(k, "row", None)  # a reader that saw no generation (a cache outage) stores nothing
    assert cache.get(entry_key) == (None, "stamped with no token")
    assert rows.get(k)[0] is MISSING


@pytest.mark.django_db
def test_forgetting_again_at_commit_closes_the_race_inside_a_transaction(django_capture_on_commit_callbacks):
    """Inside the writer's transaction another process still sees the old row and may store it
    after the first forget: the forget at commit drops it."""
    rows, k = fresh("commit")
    entry_key, _generation_key = rows._keys(k)
    with django_capture_on_commit_callbacks(execute=True):
        rows.forget(k)
        _value, generation = rows.get(k)
        cache.set(entry_key, (generation, "old row"), 60)  # the other process's put
        assert rows.get(k)[0] == "old row"
    assert rows.get(k)[0] is MISSING


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_entry():
    """The writer's own transaction reads the row it changed back through the cache, then rolls
    back: nothing was stored, so no entry of a row that never existed outlives it."""
    rows, k = fresh("rollback")
    entry_key, _generation_key = rows._keys(k)
    with pytest.raises(RuntimeError), transaction.atomic():
        rows.forget(k)
        _value, generation = rows.get(k)
        rows.put(k, "row that will never exist", generation)
        raise RuntimeError
    assert cache.get(entry_key) is None
    assert connection.in_atomic_block  # the test's own transaction: still nothing stored after it
    assert rows.get(k)[0] is MISSING


def test_the_cache_is_per_database():
    """Two sites sharing one Redis (or test runs on different databases) never see each other's rows."""
    from unittest import mock

    rows, k = fresh("db")
    _value, generation = rows.get(k)
    rows.put(k, "here", generation)
    with mock.patch.dict(connection.settings_dict, {"NAME": "another_database"}):
        assert rows.get(k)[0] is MISSING
    with mock.patch.dict(connection.settings_dict, {"HOST": "another-host"}):
        assert rows.get(k)[0] is MISSING
    assert rows.get(k)[0] == "here"
