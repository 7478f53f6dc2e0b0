"""`finance.api.representation.ModelSerializer` (fields built once per class, columns read directly)
answers exactly what DRF's own ModelSerializer answers: every API list of the demo organization, and
the first rows' detail, compared byte for byte with both optimisations switched off."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rest_framework import serializers
from rest_framework.test import APIClient

from finance import tenancy
from finance.api import representation
from finance.api.representation import ModelSerializer
from finance.api.serializers import AuditEventSerializer
from finance.models import AuditEvent, Organization
from tests.test_list_query_counts import demo, list_routes

pytestmark = pytest.mark.django_db

__all__ = ["demo"]  # the fixture, imported for pytest


def _stock(monkeypatch: pytest.MonkeyPatch) -> None:
    """DRF's own behaviour: fields deep-copied from the declared ones and built per instance, and
    every field read through `get_attribute`."""
    monkeypatch.setattr(ModelSerializer, "get_fields", serializers.ModelSerializer.get_fields)
    monkeypatch.setattr(ModelSerializer, "to_representation", serializers.Serializer.to_representation)


# Reading unmasked values writes audit events, so the audit log's list changes between the two
# rounds: its serializer is compared directly instead.
CHANGED_BY_READING = "/api/v1/audit-events/"


def _responses(client: APIClient) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for url, viewset in list_routes():
        if url == CHANGED_BY_READING:
            continue
        response = client.get(url, {"page_size": 200})
        assert response.status_code == 200, (url, response.content[:300])
        body = response.json()
        out[url] = body
        if hasattr(viewset, "retrieve"):
            for row in body["results"][:3]:
                if "id" in row:
                    detail = client.get(f"{url}{row['id']}/")
                    out[f"{url}{row['id']}/"] = (detail.status_code, detail.content)
    return out


def test_every_list_and_detail_answers_as_drf_does(
    demo: tuple[Organization, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _org, owner = demo
    client = APIClient()
    client.force_login(owner)
    fast = _responses(client)
    with monkeypatch.context() as patched:
        _stock(patched)
        stock = _responses(client)
    assert fast.keys() == stock.keys()
    differing = [url for url in fast if fast[url] != stock[url]]
    assert not differing, differing
    assert sum(len(body["results"]) for body in fast.values() if isinstance(body, dict)) > 300

    with tenancy.tenant(_org):
        events = list(AuditEvent.objects.all())
        assert len(events) > 20
        fast_events = AuditEventSerializer(events, many=True).data
        with monkeypatch.context() as patched:
            _stock(patched)
            assert AuditEventSerializer(events, many=True).data == fast_events


class _Plain(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "slug", "name", "base_currency", "created_at"]


class _Fast(ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "slug", "name", "base_currency", "created_at"]


def test_fields_are_built_once_per_class_and_bound_per_instance(db: Any) -> None:
    org = Organization.objects.create(slug="once", name="Once Ltd", base_currency="CNY")
    first, second = _Fast(org, context={"n": 1}), _Fast(org, context={"n": 2})
    assert first.data == _Plain(org).data
    assert second.data == _Plain(org).data
    assert first.fields["name"] is not second.fields["name"]
    assert first.fields["name"].parent is first and second.fields["name"].parent is second
    assert first.fields["name"].context == {"n": 1} and second.fields["name"].context == {"n": 2}
    assert "_field_prototypes" in _Fast.__dict__
    assert all(getattr(field, "parent", None) is None for field in _Fast._field_prototypes.values())


def test_plain_serializers_build_their_fields_once_and_answer_as_drf_does() -> None:
    """The credit check's answer and input (`representation.Serializer`): each instance has its own
    bound copies, validation and output are DRF's own, twice in a row."""
    from credit.api.serializers import CreditCheckInSerializer, CreditCheckSerializer

    declared = CreditCheckSerializer._declared_fields.items()
    Plain = type("Plain", (serializers.Serializer,), {name: copy.deepcopy(f) for name, f in declared})

    answer = {
        "customer": 7,
        "customer_external_id": None,
        "decision": "review",
        "currency": "CNY",
        "amount": "1200.00",
        "limit": None,
        "exposure": "300.50",
        "available": None,
        "reasons": ["No credit limit is set."],
        "codes": ["no_limit"],
        "status": None,
        "risk_class": "",
        "score": None,
    }
    for _round in range(2):
        fast = CreditCheckSerializer(answer)
        assert fast.data == Plain(answer).data
    assert CreditCheckSerializer(answer).fields["reasons"] is not fast.fields["reasons"]
    assert "_field_prototypes" in CreditCheckSerializer.__dict__
    for body in ({"amount": "10.00", "currency": "QQQ"}, {"amount": "-1", "currency": "CNY"}):
        first, second = CreditCheckInSerializer(data=body), CreditCheckInSerializer(data=body)
        assert not first.is_valid() and not second.is_valid()
        assert first.errors == second.errors and {"amount", "currency"} & set(first.errors)


def test_fields_holding_fields_are_deep_copied() -> None:
    listing = serializers.ListField(child=serializers.CharField())
    copied = representation._copy(listing)
    assert copied.child is not listing.child
    leaf = serializers.CharField(max_length=5)
    shallow = representation._copy(leaf)
    assert shallow is not leaf and shallow.max_length == 5
    assert copy.copy(leaf).validators == leaf.validators


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "America/St_Johns"])
def test_date_times_convert_as_drf_does_in_any_time_zone(zone: str, settings: Any) -> None:
    import datetime
    from zoneinfo import ZoneInfo

    from django.utils import timezone as django_timezone

    values = [
        datetime.datetime(2026, 12, 6, 8, 30, 15, 123456, tzinfo=datetime.UTC),
        datetime.datetime(2026, 3, 29, 1, 0, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime.datetime(2026, 12, 6, 8, 30),  # naive: made aware in the current zone, as DRF does
        "2026-12-06T08:30:00Z",
        None,
    ]
    with django_timezone.override(zone):
        field = serializers.DateTimeField()
        fast = representation._datetime_converter(field)
        assert fast is not None
        for value in values:
            expected = None if value is None else field.to_representation(value)
            assert (None if value is None else fast(value)) == expected
    custom = serializers.DateTimeField(format="%Y-%m-%d")
    assert representation._datetime_converter(custom) is None
