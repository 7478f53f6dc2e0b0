"""Schemathesis over the whole API: every operation, valid and invalid data, then chained calls.

The schema is read from the running app at `/api/schema/`; requests go through the WSGI app into the
test database, where the demo seeders have built an organization so ids exist and links resolve.
Every response must be a non-5xx, documented status whose body matches the documented schema.

Budget: `FUZZ_EXAMPLES` (default 3) examples per operation and generation mode, and as many
stateful scenarios; derandomized, so CI runs the same requests every time. Run a larger pass with
`FUZZ_EXAMPLES=50 .venv/bin/pytest -m fuzz tests/test_api_fuzz.py`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from finance import tenancy
from finance.actors import Actor
from finance.models import Organization
from finance.seeding import seeders
from finance.services import api_key_create, organization_create, user_create_or_join
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
SCHEMA_PATH = "/api/schema/"
MESSAGE_LIMIT = 2500


def fuzz_settings(max_examples: int, **kwargs: Any) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        **kwargs,
    )


@dataclass
class Tally:
    operations: set[str] = field(default_factory=set)
    examples: int = 0
    failures: list[str] = field(default_factory=list)


@pytest.fixture
def demo_org(db: Any) -> Organization:
    """The demo organization, seeded by every app's seeder (customers, invoices, surveys, ...)."""
    org = organization_create(slug="fuzz", name="Fuzz Trading Co.", base_currency="CNY")
    user_create_or_join(email="owner@fuzz.test", organization=org, role="owner", password="pw-Fuzz-123")
    # A customer with no external id (nullable), before the seeders so they build on it too.
    CustomerFactory(organization=org, name="No External Id Ltd", external_id=None)
    with tenancy.tenant(org):
        for seeder in seeders():
            seeder.seed(org)
    return org


def bearer(org: Organization, scopes: list[str]) -> dict[str, str]:
    with tenancy.tenant(org):
        _key, raw = api_key_create(actor=Actor.system(org), name=f"fuzz {scopes}", scopes=scopes)
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def schema(demo_org: Organization) -> Iterator[Any]:
    # As Django's test client does: a request must not close the connection that holds the test's
    # transaction (with CONN_MAX_AGE=0 the WSGI handler would close it on PostgreSQL).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(SCHEMA_PATH, get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def operations(schema: Any, keep: Callable[[Any], bool] = lambda op: True) -> list[Any]:
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if keep(op)]


def fuzz_operation(operation: Any, mode: GenerationMode, headers: dict[str, str], tally: Tally) -> None:
    try:
        strategy = operation.as_strategy(generation_mode=mode)
    except Exception as exc:  # noqa: BLE001 - an operation with nothing to negate
        tally.failures.append(f"{operation.label} [{mode}]: no strategy: {exc!r}")
        return

    @fuzz_settings(EXAMPLES)
    @given(case=strategy)
    def run(case: Any) -> None:
        tally.examples += 1
        case.call_and_validate(headers=headers, checks=CHECKS)

    tally.operations.add(operation.label)
    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect them all, then report
        tally.failures.append(f"{operation.label} [{mode}]:\n{str(exc)[:MESSAGE_LIMIT]}")


def test_every_operation_with_valid_and_invalid_data(demo_org: Organization, schema: Any) -> None:
    headers = bearer(demo_org, ["read", "write"])
    tally = Tally()
    ops = operations(schema)
    started = time.monotonic()
    for operation in ops:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz_operation(operation, mode, headers, tally)
    elapsed = time.monotonic() - started
    print(f"fuzz: {len(tally.operations)} operations, {tally.examples} examples, {elapsed:.1f}s")
    assert not tally.failures, "\n\n".join(tally.failures)
    assert len(tally.operations) == len(ops) == schema.statistic.operations.total


def test_stateful_chains_of_linked_operations(demo_org: Organization, schema: Any) -> None:
    """Operations chained through the links schemathesis infers (a created id read, changed, ...)."""
    headers = bearer(demo_org, ["read", "write"])
    steps: list[str] = []
    base = schema.as_state_machine()

    class Machine(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            steps.append(case.operation.label)
            case.validate_response(response, checks=CHECKS, headers=headers)

    Machine.run(settings=fuzz_settings(max(EXAMPLES, 2) * 5, stateful_step_count=10))
    print(f"stateful: {len(steps)} steps over {len(set(steps))} operations")
    assert len(set(steps)) > 1
