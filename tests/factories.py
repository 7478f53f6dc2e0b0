"""factory_boy factories. Each creates its rows inside the row's own tenant (as RLS demands)."""

from __future__ import annotations

import datetime
from typing import Any

import factory
from django.utils import timezone

from crm.models import Contact, Customer, FollowUp, Interaction
from finance import tenancy
from finance.models import Membership, Organization, User


class TenantFactory(factory.django.DjangoModelFactory):
    """Saves inside `tenant(organization)` so PostgreSQL's WITH CHECK policy accepts the row."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        organization = kwargs["organization"]
        with tenancy.tenant(organization):
            return super()._create(model_class, *args, **kwargs)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.Sequence(lambda n: f"Organization {n}")
    base_currency = "CNY"
    timezone = "Asia/Shanghai"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    password = factory.PostGenerationMethodCall("set_password", "pw-Secret-123")

    @classmethod
    def _after_postgeneration(cls, instance: User, create: bool, results: Any = None) -> None:
        if create:
            instance.save()


class MembershipFactory(TenantFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = "owner"


class CustomerFactory(TenantFactory):
    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")
    external_id = factory.Sequence(lambda n: f"C-{n}")
    country = "CN"
    currency = "CNY"


class ContactFactory(TenantFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    organization = factory.SelfAttribute("customer.organization")
    name = factory.Faker("name")
    email = factory.Faker("email")


class InteractionFactory(TenantFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    organization = factory.SelfAttribute("customer.organization")
    kind = "call"
    summary = factory.Faker("sentence")
    occurred_at = factory.LazyFunction(timezone.now)


class FollowUpFactory(TenantFactory):
    class Meta:
        model = FollowUp

    customer = factory.SubFactory(CustomerFactory)
    organization = factory.SelfAttribute("customer.organization")
    title = factory.Faker("sentence")
    due_date = factory.LazyFunction(lambda: datetime.date.today())
