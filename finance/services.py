"""Writes of the platform: organizations, users, memberships, API keys."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from finance import audit, tenancy
from finance.actors import Actor
from finance.models import ApiKey, ApiKeyScope, Membership, Organization, Role, User

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


@transaction.atomic
def api_key_create(*, actor: Actor, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw secret, which is shown once and never stored."""
    actor.require("apikey.manage")
    scopes = sorted(set(scopes))
    errors: dict[str, Any] = {}
    if not name.strip():
        errors["name"] = _("This field is required.")
    if not scopes or any(s not in ApiKeyScope.values for s in scopes):
        errors["scopes"] = _("Choose read, write or both.")
    if errors:
        raise ValidationError(errors)
    if ApiKeyScope.WRITE in scopes and ApiKeyScope.READ not in scopes:
        scopes = sorted([*scopes, ApiKeyScope.READ])
    prefix = secrets.token_hex(4)
    raw_key = f"{API_KEY_PREFIX}{prefix}.{secrets.token_urlsafe(32)}"
    key = ApiKey(
        organization=actor.organization,
        name=name.strip()[:100],
        prefix=prefix,
        hashed_key=_hash(raw_key),
        scopes=scopes,
        created_by=actor.user,
    )
    key.save()
    audit.record(actor=actor, action="apikey.created", instance=key, changes={"scopes": [None, scopes]})
    return key, raw_key


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
