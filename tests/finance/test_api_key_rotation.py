"""Rotating an API key: a successor with the same name and scopes, the old key working for the
chosen overlap and refused (401) after it; only people in the organization manage keys."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from finance import tenancy
from finance.actors import Actor
from finance.models import ApiKey, AuditEvent
from finance.services import api_key_create, api_key_revoke, api_key_rotate
from tests.conftest import login, make_key

pytestmark = pytest.mark.django_db


def client_for(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def create(org, **kwargs) -> tuple[ApiKey, str]:
    with tenancy.tenant(org):
        return api_key_create(actor=Actor.system(org), name="ERP", scopes=["read", "write"], **kwargs)


def rotate(org, key: ApiKey, **kwargs) -> tuple[ApiKey, str]:
    with tenancy.tenant(org):
        return api_key_rotate(actor=Actor.system(org), key=key, **kwargs)


def expire_now(org, key: ApiKey) -> None:
    with tenancy.tenant(org):
        key.expires_at = timezone.now() - datetime.timedelta(seconds=1)
        key.save(update_fields=["expires_at"])  # a save: the cached key is forgotten


def test_rotation_creates_a_linked_successor_with_the_same_name_and_scopes(org):
    old, _raw = create(org, rate_limit_per_minute=50)
    new, new_raw = rotate(org, old, overlap_hours=24)
    assert new.pk != old.pk and new.rotated_from_id == old.pk
    assert (new.name, new.scopes, new.rate_limit_per_minute) == ("ERP", ["read", "write"], 50)
    assert new_raw.startswith(f"kehu_{new.prefix}.") and new.expires_at is None
    expected = timezone.now() + datetime.timedelta(hours=24)
    assert abs((old.expires_at - expected).total_seconds()) < 60
    with tenancy.tenant(org):
        event = AuditEvent.objects.get(action="apikey.rotated")
    assert event.object_id == str(old.pk) and event.changes["successor"] == [None, new.prefix]


def test_old_key_works_during_the_overlap_and_is_refused_after(org):
    old, old_raw = create(org)
    _new, new_raw = rotate(org, old, overlap_hours=1)
    assert client_for(old_raw).get("/api/v1/customers/").status_code == 200
    assert client_for(new_raw).get("/api/v1/customers/").status_code == 200
    expire_now(org, old)  # the overlap is over
    assert client_for(old_raw).get("/api/v1/customers/").status_code == 401
    assert client_for(new_raw).get("/api/v1/customers/").status_code == 200


def test_zero_overlap_stops_the_old_key_at_once(org):
    old, old_raw = create(org)
    _new, new_raw = rotate(org, old, overlap_hours=0)
    assert client_for(old_raw).get("/api/v1/customers/").status_code == 401
    assert client_for(new_raw).get("/api/v1/customers/").status_code == 200


def test_an_expired_key_is_401_like_a_revoked_one(org):
    key, raw = create(org)
    expire_now(org, key)
    response = client_for(raw).get("/api/v1/organization/")
    assert response.status_code == 401
    assert response.json() == client_for("kehu_zzzzzzzz.nope").get("/api/v1/organization/").json()


def test_a_rotated_key_cannot_be_rotated_again_so_its_expiry_never_moves(org):
    old, _raw = create(org)
    successor, _new_raw = rotate(org, old, overlap_hours=1)
    first_expiry = old.expires_at
    with pytest.raises(ValidationError) as refused:
        rotate(org, old, overlap_hours=168)
    assert "key" in refused.value.message_dict
    with tenancy.tenant(org):
        assert ApiKey.objects.get(pk=old.pk).expires_at == first_expiry
        assert ApiKey.objects.filter(rotated_from=old).count() == 1
    rotate(org, successor, overlap_hours=1)  # the successor is the one to rotate next


def test_revoked_or_expired_keys_cannot_be_rotated(org):
    revoked, _raw = create(org)
    with tenancy.tenant(org):
        api_key_revoke(actor=Actor.system(org), key=revoked)
    with pytest.raises(ValidationError) as raised:
        rotate(org, revoked)
    assert "key" in raised.value.message_dict
    expired, _raw = create(org)
    expire_now(org, expired)
    with pytest.raises(ValidationError):
        rotate(org, expired)
    with tenancy.tenant(org):
        assert ApiKey.objects.count() == 2  # nothing half-written


@pytest.mark.parametrize("overlap", [-1, 169, "24", True])
def test_an_overlap_outside_zero_to_a_week_is_refused(org, overlap):
    key, _raw = create(org)
    with pytest.raises(ValidationError) as raised:
        rotate(org, key, overlap_hours=overlap)
    assert "overlap_hours" in raised.value.message_dict


def test_the_rate_limit_is_inherited_or_replaced(org):
    key, _raw = create(org, rate_limit_per_minute=30)
    inherited, _raw = rotate(org, key, overlap_hours=1)
    assert inherited.rate_limit_per_minute == 30
    replaced, _raw = rotate(org, inherited, overlap_hours=1, rate_limit_per_minute=None)
    assert replaced.rate_limit_per_minute is None
    with pytest.raises(ValidationError) as raised:
        rotate(org, replaced, rate_limit_per_minute=0)
    assert "rate_limit_per_minute" in raised.value.message_dict


def test_an_api_key_cannot_rotate_keys(org):
    key, _raw = create(org)
    as_key = Actor(organization=org, role="api_write", api_key=key)
    with pytest.raises(PermissionDenied):
        rotate_as(org, as_key, key)


def rotate_as(org, actor: Actor, key: ApiKey) -> None:
    with tenancy.tenant(org):
        api_key_rotate(actor=actor, key=key)


def test_keys_page_rotates_and_shows_the_new_key_once(client, org, members):
    key, old_raw = create(org)
    login(client, members["admin"])
    page = client.get("/settings/api-keys/")
    assert b'data-testid="rotate-form"' in page.content and b'name="overlap_hours"' in page.content
    response = client.post(
        f"/settings/api-keys/{key.pk}/rotate/", {"overlap_hours": "1", "rate_limit_per_minute": "120"}
    )
    assert response.status_code == 200
    new_raw = response.context["new_key"]
    assert new_raw.encode() in response.content and b'data-testid="key-expires"' in response.content
    assert new_raw.encode() not in client.get("/settings/api-keys/").content
    with tenancy.tenant(org):
        successor = ApiKey.objects.get(rotated_from=key)
        assert successor.rate_limit_per_minute == 120
        assert ApiKey.objects.get(pk=key.pk).expires_at is not None
    assert client_for(new_raw).get("/api/v1/organization/").status_code == 200
    assert client_for(old_raw).get("/api/v1/organization/").status_code == 200


def test_keys_page_rejects_an_unknown_overlap(client, org, members):
    key, _raw = create(org)
    login(client, members["admin"])
    response = client.post(f"/settings/api-keys/{key.pk}/rotate/", {"overlap_hours": "999"}, follow=True)
    assert response.status_code == 200 and response.context.get("new_key") == ""
    with tenancy.tenant(org):
        assert not ApiKey.objects.filter(rotated_from=key).exists()


def test_another_organizations_key_rotation_is_404(client, org, members, outsider_org):
    make_key(outsider_org, ["read"])
    with tenancy.tenant(outsider_org):
        key = ApiKey.objects.get()
    login(client, members["owner"])
    assert client.post(f"/settings/api-keys/{key.pk}/rotate/", {"overlap_hours": "0"}).status_code == 404
    assert client.post("/settings/api-keys/987654321/rotate/", {"overlap_hours": "0"}).status_code == 404
    with tenancy.tenant(outsider_org):
        assert ApiKey.objects.count() == 1 and ApiKey.objects.get().expires_at is None


def test_a_sales_rep_cannot_rotate(client, org, members):
    key, _raw = create(org)
    login(client, members["sales_rep"])
    assert client.post(f"/settings/api-keys/{key.pk}/rotate/", {"overlap_hours": "0"}).status_code == 403
    with tenancy.tenant(org):
        assert ApiKey.objects.count() == 1


def test_the_command_rotates_and_prints_the_new_key_last(org):
    key, _raw = create(org)
    out = StringIO()
    call_command("rotate_api_key", org.slug, key.prefix, "--overlap-hours", "0", stdout=out)
    new_raw = out.getvalue().strip().splitlines()[-1]
    assert client_for(new_raw).get("/api/v1/organization/").status_code == 200
    with tenancy.tenant(org):
        assert ApiKey.objects.get(pk=key.pk).is_expired
