"""The platform's reactions to its own models' saves: cached API keys are forgotten when a key or
its organization changes (`finance.selectors.API_KEYS`)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from finance import tenancy
from finance.models import ApiKey, Organization
from finance.selectors import API_KEYS


def _on_api_key_changed(sender: Any, instance: ApiKey, created: bool = False, **kwargs: Any) -> None:
    if not created:  # a new key's prefix was never cached (prefixes are unique; a deleted key's went)
        API_KEYS.forget(instance.prefix)


def _on_organization_changed(
    sender: Any, instance: Organization, created: bool = False, **kwargs: Any
) -> None:
    """Each cached key carries its organization: a new name, timezone or setting is seen by the
    next request. (A deleted organization's keys went before it, each forgotten itself.)"""
    if created:
        return
    with tenancy.tenant(instance):
        prefixes = list(ApiKey.unscoped.filter(organization_id=instance.pk).values_list("prefix", flat=True))
    API_KEYS.forget(*prefixes)


def connect() -> None:
    post_save.connect(_on_api_key_changed, sender=ApiKey, dispatch_uid="kehu_api_key_saved")
    post_delete.connect(_on_api_key_changed, sender=ApiKey, dispatch_uid="kehu_api_key_deleted")
    post_save.connect(_on_organization_changed, sender=Organization, dispatch_uid="kehu_org_saved")
