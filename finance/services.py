"""Writes of the platform: organizations, users, memberships, API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from finance import audit, security_events, tenancy
from finance.actors import Actor
from finance.models import ApiKey, ApiKeyScope, Membership, Organization, Role, User
from finance.selectors import API_KEYS

API_KEY_PREFIX = "kehu_"


def organization_create(
    *,
    slug: str,
    name: str,
    base_currency: str = "CNY",
    timezone_name: str = "Asia/Shanghai",
    language: str = "en",
    address: str = "",
) -> Organization:
    """Create a tenant; raises ValidationError for a taken slug or unknown currency/time zone."""
    org = Organization(
        slug=slug,
        name=name,
        base_currency=base_currency,
        timezone=timezone_name,
        language=language,
        address=address,
    )
    org.full_clean()
    org.save()
    return org


@transaction.atomic
def user_create_or_join(
    *, email: str, organization: Organization, role: str, password: str | None = None, name: str = ""
) -> tuple[User, Membership]:
    """Create the user if new and give them `role` in `organization` (updating an existing role)."""
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    email = email.strip().lower()
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User(email=email)
        if name:
            user.first_name, _sep, user.last_name = name.partition(" ")
        user.set_password(password) if password else user.set_unusable_password()
        user.full_clean()
        user.save()
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    with tenancy.tenant(organization):
        membership, created = Membership.objects.get_or_create(
            user=user, defaults={"role": role, "organization": organization}
        )
        before = membership.role
        if not created and membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
        audit.record(
            actor=Actor.system(organization),
            action="membership.created" if created else "membership.updated",
            instance=membership,
            changes={"role": [None if created else before, role]},
        )
    return user, membership


def _hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_parse(raw_key: str) -> tuple[str, str] | None:
    """Split a presented key into (prefix, hash); None when it is not shaped like one of ours."""
    if not raw_key.startswith(API_KEY_PREFIX) or len(raw_key) > 128 or not raw_key.isascii():
        return None
    body = raw_key[len(API_KEY_PREFIX) :]
    prefix, sep, _secret = body.partition(".")
    if not sep or len(prefix) != 8:
        return None
    return prefix, _hash(raw_key)


API_KEY_MAX_OVERLAP_HOURS = 7 * 24
RATE_LIMIT_RANGE = (1, 100_000)
INHERIT: Any = object()  # api_key_rotate: keep the old key's rate limit


def _validate_rate_limit(value: int | None, errors: dict[str, Any]) -> None:
    low, high = RATE_LIMIT_RANGE
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high
    ):
        errors["rate_limit_per_minute"] = _(
            "Enter a whole number from %(low)s to %(high)s, or leave it empty."
        ) % {
            "low": low,
            "high": high,
        }


def _new_key(
    *,
    actor: Actor,
    name: str,
    scopes: list[str],
    rate_limit_per_minute: int | None,
    rotated_from: ApiKey | None,
) -> tuple[ApiKey, str]:
    prefix = secrets.token_hex(4)
    raw_key = f"{API_KEY_PREFIX}{prefix}.{secrets.token_urlsafe(32)}"
    key = ApiKey(
        organization=actor.organization,
        name=name,
        prefix=prefix,
        hashed_key=_hash(raw_key),
        scopes=scopes,
        created_by=actor.user,
        rate_limit_per_minute=rate_limit_per_minute,
        rotated_from=rotated_from,
    )
    key.save()
    return key, raw_key


@transaction.atomic
def api_key_create(
    *, actor: Actor, name: str, scopes: list[str], rate_limit_per_minute: int | None = None
) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw secret, which is shown once and never stored.

    `rate_limit_per_minute` empty means the organization's or the deployment's default."""
    actor.require("apikey.manage")
    scopes = sorted(set(scopes))
    errors: dict[str, Any] = {}
    if not name.strip():
        errors["name"] = _("This field is required.")
    if not scopes or any(s not in ApiKeyScope.values for s in scopes):
        errors["scopes"] = _("Choose read, write or both.")
    _validate_rate_limit(rate_limit_per_minute, errors)
    if errors:
        raise ValidationError(errors)
    if ApiKeyScope.WRITE in scopes and ApiKeyScope.READ not in scopes:
        scopes = sorted([*scopes, ApiKeyScope.READ])
    key, raw_key = _new_key(
        actor=actor,
        name=name.strip()[:100],
        scopes=scopes,
        rate_limit_per_minute=rate_limit_per_minute,
        rotated_from=None,
    )
    audit.record(
        actor=actor,
        action="apikey.created",
        instance=key,
        changes={"scopes": [None, scopes], "rate_limit_per_minute": [None, rate_limit_per_minute]},
    )
    return key, raw_key


@transaction.atomic
def api_key_rotate(
    *, actor: Actor, key: ApiKey, overlap_hours: int = 24, rate_limit_per_minute: int | None = INHERIT
) -> tuple[ApiKey, str]:
    """Replace `key` with a successor of the same name and scopes; return it with its raw secret.

    The old key keeps working for `overlap_hours` (0: it stops now) so integrations can switch
    over; an expiry already set earlier is never extended. A revoked or expired key cannot be
    rotated (that would bring access back). Only people manage keys: an API key has no
    `apikey.manage` right, so it can neither rotate itself nor another key.
    """
    actor.require("apikey.manage")
    if actor.api_key is not None:
        raise PermissionDenied(_("API keys cannot manage API keys."))
    given, key = key, ApiKey.objects.select_for_update().get(pk=key.pk)
    errors: dict[str, Any] = {}
    if (
        isinstance(overlap_hours, bool)
        or not isinstance(overlap_hours, int)
        or not (0 <= overlap_hours <= API_KEY_MAX_OVERLAP_HOURS)
    ):
        errors["overlap_hours"] = _("Choose an overlap from 0 to %(max)s hours.") % {
            "max": API_KEY_MAX_OVERLAP_HOURS
        }
    if rate_limit_per_minute is INHERIT:
        rate_limit_per_minute = key.rate_limit_per_minute
    _validate_rate_limit(rate_limit_per_minute, errors)
    if not key.is_active:
        errors["key"] = _("Only an active key can be rotated.")
    elif ApiKey.objects.filter(rotated_from=key).exists():
        errors["key"] = _("This key was already rotated: rotate its successor instead.")
    if errors:
        raise ValidationError(errors)
    successor, raw_key = _new_key(
        actor=actor,
        name=key.name,
        scopes=list(key.scopes),
        rate_limit_per_minute=rate_limit_per_minute,
        rotated_from=key,
    )
    expires_at = timezone.now() + timedelta(hours=overlap_hours)
    if key.expires_at is None or expires_at < key.expires_at:
        key.expires_at = expires_at
        key.save(update_fields=["expires_at"])
        given.expires_at = key.expires_at
    audit.record(
        actor=actor,
        action="apikey.rotated",
        instance=key,
        changes={"expires_at": [None, key.expires_at.isoformat()], "successor": [None, successor.prefix]},
    )
    security_events.emit(
        "apikey.rotated",
        organization=actor.organization,
        user=actor.user,
        api_key=key,
        successor_prefix=successor.prefix,
        overlap_hours=overlap_hours,
    )
    return successor, raw_key


@transaction.atomic
def api_key_revoke(*, actor: Actor, key: ApiKey) -> ApiKey:
    actor.require("apikey.manage")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit.record(actor=actor, action="apikey.revoked", instance=key)
    return key


def api_key_touch(key: ApiKey) -> None:
    """Record use, at most once a minute per key, so authentication stays cheap."""
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
        # Kept with its new time under the generation it was read with: if the key has changed
        # since (revoked, rotated), that generation is gone and the entry is never used.
        API_KEYS.put(key.prefix, key, key.cache_generation)
