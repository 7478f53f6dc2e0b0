"""Data for the tenant-isolation suite: a fully seeded victim organization whose rows carry a marker,
an attacker organization, and fingerprints that prove the victim's rows did not change.

The victim is the demo story (every app's seeder) plus the few kinds of rows the seeders leave out,
so that every route taking an id has a victim row to aim at. Text columns that users see get the
marker `Vikt0rAcme` so that any page, JSON, CSV, XLSX or PDF that leaks a victim row is caught by a
plain substring test.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr

from finance import tenancy
from finance.actors import Actor
from finance.models import ApiKey, Organization, TenantModel, User
from finance.seeding import seeders
from finance.services import api_key_create, organization_create, user_create_or_join

MARKER = "Vikt0rAcme"
MARKER_BYTES = MARKER.lower().encode()
ATTACKER_PASSWORD = "pw-Attacker-123"

# Text columns that carry the marker when a model has them. Codes, keys, tokens and slugs are
# left alone: the application looks rows up by them.
MARKED_COLUMNS = (
    "name",
    "legal_name",
    "external_id",
    "number",
    "reference",
    "title",
    "summary",
    "subject",
    "description",
    "outcome",
    "notes",
    "note",
    "comment",
    "billing_address",
)


def tenant_models() -> list[type[TenantModel]]:
    return [
        m for m in apps.get_models() if issubclass(m, TenantModel) and not m._meta.proxy and m._meta.managed
    ]


@dataclass
class Victim:
    org: Organization
    owner: User
    user_ids: set[int]
    ids: dict[str, list[int]] = field(default_factory=dict)  # model label -> victim pks, ascending
    search_term: str = ""  # part of a victim customer's name, without the marker
    fingerprint: str = ""
    dunning_run_dates: list[str] = field(default_factory=list)

    def first(self, label: str) -> int | None:
        if label == User._meta.label:
            return self.owner.pk
        pks = self.ids.get(label) or []
        return pks[0] if pks else None


@dataclass
class Attacker:
    org: Organization
    owner: User
    raw_key: str


def _mark_rows(org: Organization) -> None:
    for model in tenant_models():
        for name in MARKED_COLUMNS:
            try:
                column = model._meta.get_field(name)
            except Exception:  # noqa: BLE001 (the model simply has no such column)
                continue
            if not isinstance(column, models.CharField | models.TextField) or column.choices:
                continue
            if getattr(column, "primary_key", False) or isinstance(column, models.EmailField):
                continue
            marked: Any = Concat(Value(MARKER), F(name), output_field=column)
            if isinstance(column, models.CharField) and column.max_length:
                marked = Substr(marked, 1, column.max_length)
            rows = model.unscoped.filter(organization_id=org.pk).exclude(**{name: ""})
            rows.exclude(**{f"{name}__isnull": True}).update(**{name: marked})


def _add_missing_rows(org: Organization, owner: User, needed: set[str]) -> None:
    """Rows the demo seeders do not create but some route takes the id of: one plain row each,
    its required foreign keys pointing at the victim's first rows."""
    actor = Actor(organization=org, role="owner", user=owner)
    if not ApiKey.objects.exists():
        api_key_create(actor=actor, name=f"{MARKER} ERP key", scopes=["read", "write"])
    for label in sorted(needed):
        model = apps.get_model(label)
        if not issubclass(model, TenantModel) or model.unscoped.filter(organization_id=org.pk).exists():
            continue
        _create(model, org=org, owner=owner)


def _create(model: type[models.Model], *, org: Organization, owner: User) -> models.Model:
    """Fill the required columns with plain values; enough for a row to exist."""
    today = datetime.date.today()
    values: dict[str, Any] = {"organization": org}
    for column in model._meta.concrete_fields:
        if column.name in values or column.primary_key or column.null or column.has_default():
            continue
        if getattr(column, "auto_now", False) or getattr(column, "auto_now_add", False):
            continue
        if isinstance(column, models.ForeignKey):
            target = column.related_model
            if target is User or (isinstance(target, type) and issubclass(target, User)):
                values[column.name] = owner
            else:
                row = target.unscoped.filter(organization_id=org.pk).order_by("pk").first()
                if row is None:
                    row = _create(target, org=org, owner=owner)
                values[column.name] = row
        elif column.choices:
            values[column.name] = column.choices[0][0]
        elif isinstance(column, models.DateTimeField):
            values[column.name] = datetime.datetime.now(datetime.UTC)
        elif isinstance(column, models.DateField):
            values[column.name] = today
        elif isinstance(column, models.DecimalField):
            values[column.name] = Decimal("1")
        elif isinstance(column, models.IntegerField | models.FloatField):
            values[column.name] = 1
        elif isinstance(column, models.BooleanField):
            values[column.name] = False
        elif isinstance(column, models.JSONField):
            values[column.name] = {}
        elif isinstance(column, models.URLField):
            values[column.name] = "https://vikt0racme.example.com/hook"
        elif isinstance(column, models.CharField | models.TextField):
            values[column.name] = MARKER[: column.max_length or len(MARKER)]
    return model.unscoped.create(**values)


def build_victim(needed: set[str]) -> Victim:
    """The demo organization's whole story, marked. Slow (seconds): build once per module."""
    org = organization_create(slug="victim-acme", name=f"{MARKER} Victim Trading")
    owner = None
    user_ids: set[int] = set()
    for role in ("owner", "finance_manager", "ar_clerk", "sales_rep", "auditor"):
        user, _membership = user_create_or_join(
            email=f"{MARKER.lower()}.{role}@victim.test",
            organization=org,
            role=role,
            password="pw-Victim-123",
            name=f"{MARKER} {role}",
        )
        user_ids.add(user.pk)
        owner = owner or user
    assert owner is not None
    with tenancy.tenant(org):
        for seeder in seeders():
            seeder.seed(org)
        _add_missing_rows(org, owner, needed)
        from crm.models import Customer

        customer = Customer.objects.order_by("pk").first()
        assert customer is not None
        search_term = customer.legal_name.split(" ")[0] if customer.legal_name else customer.name[:4]
        _mark_rows(org)
        victim = Victim(org=org, owner=owner, user_ids=user_ids, search_term=search_term)
        for model in tenant_models():
            victim.ids[model._meta.label] = list(
                model.unscoped.filter(organization_id=org.pk).order_by("pk").values_list("pk", flat=True)
            )
        victim.ids["finance.User"] = sorted(
            user_ids
        )  # members are not tenant rows, but routes take their ids
        from receivables.models import DunningMessage

        victim.dunning_run_dates = sorted(
            {
                d.isoformat()
                for d in DunningMessage.unscoped.filter(organization_id=org.pk).values_list(
                    "run_date", flat=True
                )
            }
        )
        victim.fingerprint = fingerprint(org)
    return victim


def build_attacker() -> Attacker:
    """An organization of its own with one customer, an owner user and a read+write API key."""
    org = organization_create(slug="attacker-bravo", name="Bravo Attacker Ltd")
    owner, _membership = user_create_or_join(
        email="owner@attacker.test", organization=org, role="owner", password=ATTACKER_PASSWORD
    )
    with tenancy.tenant(org):
        from crm import services as crm_services

        crm_services.customer_create(
            actor=Actor(organization=org, role="owner", user=owner),
            external_id="BRAVO-C1",
            name="Bravo Own Customer",
            currency="CNY",
        )
        _key, raw = api_key_create(
            actor=Actor(organization=org, role="owner", user=owner), name="attacker", scopes=["read", "write"]
        )
    return Attacker(org=org, owner=owner, raw_key=raw)


def fingerprint(org: Organization) -> str:
    """A hash of every row of every tenant table of `org` (read as that tenant)."""
    digest = hashlib.sha256()
    with tenancy.tenant(org):
        for model in sorted(tenant_models(), key=lambda m: m._meta.label):
            columns = [c.attname for c in model._meta.concrete_fields]
            rows = model.unscoped.filter(organization_id=org.pk).order_by("pk").values_list(*columns)
            digest.update(model._meta.label.encode())
            for row in rows:
                digest.update(repr(row).encode())
    return digest.hexdigest()


def fingerprint_diff(org: Organization, before: dict[str, str]) -> list[str]:
    """The tables whose rows differ from `before` (per-table hashes from `table_hashes`)."""
    after = table_hashes(org)
    return sorted(label for label in set(before) | set(after) if before.get(label) != after.get(label))


def table_hashes(org: Organization) -> dict[str, str]:
    hashes: dict[str, str] = {}
    with tenancy.tenant(org):
        for model in tenant_models():
            columns = [c.attname for c in model._meta.concrete_fields]
            rows = model.unscoped.filter(organization_id=org.pk).order_by("pk").values_list(*columns)
            hashes[model._meta.label] = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    return hashes


def cross_tenant_references(attacker: Organization, victim: Victim) -> list[str]:
    """Attacker rows whose foreign keys point at victim rows or victim-only users."""
    pointing: dict[tuple[str, str], set[int]] = {}
    with tenancy.tenant(attacker):
        for model in tenant_models():
            for column in model._meta.concrete_fields:
                if not isinstance(column, models.ForeignKey) or column.name == "organization":
                    continue
                target = column.related_model
                if not (issubclass(target, TenantModel) or target is User):
                    continue
                ids = set(
                    model.unscoped.filter(organization_id=attacker.pk)
                    .exclude(**{column.attname: None})
                    .values_list(column.attname, flat=True)
                )
                if ids:
                    pointing[(f"{model._meta.label}.{column.name}", target._meta.label)] = ids
    found = []
    for (where, target_label), ids in pointing.items():
        if target_label == User._meta.label:
            hit = ids & victim.user_ids
        else:
            hit = ids & set(victim.ids.get(target_label, []))
        if hit:
            found.append(f"{where} -> {target_label} {sorted(hit)}")
    return found
