"""Reads of the platform: memberships, API keys, the audit log."""

from __future__ import annotations

import hmac

from django.db.models import QuerySet

from finance import tenancy
from finance.models import ApiKey, AuditEvent, AuditVerification, Membership, User
from finance.rowcache import MISSING, RowCache


def memberships_of(user: User) -> list[Membership]:
    """Every organization the user belongs to (read before the tenant is known, by user id)."""
    with tenancy.lookup_context(user_id=user.pk):
        return list(
            Membership.unscoped.filter(user=user)
            .select_related("organization")
            .order_by("organization__name")
        )


def membership_for(user: User, organization_id: int | None) -> Membership | None:
    """The membership to act with: the one chosen in the session, else the first."""
    memberships = memberships_of(user)
    for membership in memberships:
        if membership.organization_id == organization_id:
            return membership
    return memberships[0] if memberships else None


# API keys with their organization, by prefix, kept between requests: a request authenticated by
# a key known to the cache reads neither from the database. Every save or delete of a key or of an
# organization forgets the keys concerned (`finance.receivers`), at once and again at commit.
API_KEYS = RowCache("apikey", seconds=60)


def api_key_by_prefix(prefix: str, *, hashed_key: str, restore: bool = True) -> ApiKey | None:
    """The key with `prefix`, seen through the lookup context of that prefix (`restore=False`:
    the context is left set, see `tenancy.lookup_context`). A cached key is taken only if its hash
    is `hashed_key`; else the database decides (a wrong secret is refused by what the database
    holds, never by what was cached)."""
    key, generation = API_KEYS.get(prefix)
    if key is not MISSING and hmac.compare_digest(key.hashed_key, hashed_key):
        return key
    with tenancy.lookup_context(key_prefix=prefix, restore=restore):
        key = ApiKey.unscoped.select_related("organization").filter(prefix=prefix).first()
    if key is not None:
        key.cache_generation = generation
        API_KEYS.put(prefix, key, generation)
    return key


def api_keys() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("created_by", "rotated_from").order_by("revoked_at", "-created_at")


def audit_events(*, customer_id: int | None = None) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("actor_user", "actor_api_key")
    if customer_id is not None:
        events = events.filter(customer_id=customer_id)
    return events.order_by("-created_at", "-id")


def latest_audit_verification() -> AuditVerification | None:
    """The organization's most recent check of its audit chain."""
    return AuditVerification.objects.order_by("-checked_at", "-id").first()


def members() -> QuerySet[User]:
    """Active users of the current organization (owner and assignee choices)."""
    return User.objects.filter(pk__in=Membership.objects.values("user_id"), is_active=True).order_by(
        "first_name", "last_name", "email"
    )
