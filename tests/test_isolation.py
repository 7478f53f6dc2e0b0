"""Tenant isolation, generated from the URL resolver: every browser page and every API route.

An attacker organization's owner (browser session) and its read+write API key aim at a fully
seeded victim organization:
- every route taking an id gets the victim's ids: reads are 404 (never 200 or a 403 that
  confirms the row exists), writes are 404/403/405, and the victim's rows do not change;
- every route without ids (lists, dashboards, exports, searches, creates) answers without a trace
  of the victim: no victim marker in the HTML, JSON, CSV, XLSX or PDF, no victim row in `results`,
  and writes naming victim ids change nothing and link nothing to the victim.
A route the generator cannot fill (an id whose model it cannot infer) fails `test_every_route_is_covered`:
add it to `ID_MODELS` or, if it is truly public, to `PUBLIC_ROUTES` with the reason.
"""

from __future__ import annotations

import datetime
import io
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import models, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.test import APIClient

from finance import tenancy
from tests import isolation_data
from tests.isolation_data import MARKER_BYTES, Attacker, Victim

# ---------------------------------------------------------------------------------------------
# Routes that need no tenant, each with the reason. Everything else is swept.
PUBLIC_ROUTES: dict[str, str] = {
    "login": "sign-in page, before any tenant",
    "logout": "ends the attacker's own session (would end the sweep's session too)",
    "password_reset": "public password reset flow, no tenant data",
    "password_reset_done": "public password reset flow, no tenant data",
    "password_reset_confirm": "public password reset flow (uidb64/token, not a tenant id)",
    "password_reset_complete": "public password reset flow, no tenant data",
    "set_language": "language switch, no tenant data",
    "api-schema": "OpenAPI schema, the same for everyone",
    "api-docs": "API docs page, the same for everyone",
    "survey-public:answer": "public survey link /s/<token>/: the unguessable token is the credential",
    "statement-link": "public statement link: a signed token is the credential",
    "login-verify": "second sign-in step (one-time code), before any tenant",
    "login-enroll": "second-factor enrolment during sign-in, before any tenant",
    "ops/admin/login/": "operator admin sign-in (unnamed route), before any tenant",
}
# The operator admin (`/ops/admin/`) needs is_staff; `test_operator_admin_refuses_tenant_users` covers it.
PUBLIC_NAMESPACES = {"admin"}

# Path parameters whose model the generator cannot read off the view (function views, views that
# look the row up through a helper). Key: route name, value: kwarg -> model label.
ID_MODELS: dict[str, dict[str, str]] = {
    "customer-statement-pdf": {"pk": "crm.Customer"},
    "api-key-revoke": {"pk": "finance.ApiKey"},
    "customer-statement": {"pk": "crm.Customer"},
    "import-detail": {"pk": "receivables.ImportJob"},
    "import-progress": {"pk": "receivables.ImportJob"},
    "receivables:aging-customer": {"pk": "crm.Customer"},
    "receivables:invoice-detail": {"pk": "receivables.Invoice"},
    "receivables:invoice-write-off": {"pk": "receivables.Invoice"},
    "receivables:invoice-void": {"pk": "receivables.Invoice"},
    "receivables:write-off-decide": {"pk": "receivables.WriteOff"},
    "receivables:apply-credit": {"pk": "crm.Customer"},
    "receivables:dunning-policy": {"pk": "receivables.DunningPolicy"},
    "receivables:worklist-call": {"pk": "crm.Customer"},
    "receivables:worklist-promise": {"pk": "crm.Customer"},
    "receivables:worklist-dispute": {"pk": "crm.Customer"},
    "receivables:worklist-statement": {"pk": "crm.Customer"},
    "receivables:worklist-snooze": {"pk": "crm.Customer"},
    "receivables:collection-profile": {"pk": "crm.Customer"},
    "receivables:promise-cancel": {"pk": "receivables.PromiseToPay"},
    "receivables:dispute-review": {"pk": "receivables.Dispute"},
    "receivables:dispute-resolve": {"pk": "receivables.Dispute"},
    "receivables:dispute-reject": {"pk": "receivables.Dispute"},
    "credit:approve": {"pk": "credit.LimitRequest"},
    "credit:reject": {"pk": "credit.LimitRequest"},
    "credit:cancel": {"pk": "credit.LimitRequest"},
    "credit:limit-request": {"pk": "crm.Customer"},
    "credit:statements": {"pk": "crm.Customer"},
    "credit:statement-edit": {"pk": "crm.Customer", "statement_pk": "credit.FinancialStatement"},
    "credit:statement-delete": {"pk": "crm.Customer", "statement_pk": "credit.FinancialStatement"},
    "credit:hold-place": {"pk": "crm.Customer"},
    "credit:hold-release": {"pk": "credit.CreditHold"},
    "credit:review": {"pk": "credit.CreditReview"},
    "experience:survey-feedback-detail": {"pk": "experience.FeedbackItem"},
    "experience:survey-action-update": {"pk": "experience.ImprovementAction"},
    "experience:survey-detail": {"pk": "experience.Survey"},
    "experience:survey-edit": {"pk": "experience.Survey"},
    "experience:survey-send": {"pk": "experience.Survey"},
    "experience:service-detail": {"pk": "experience.ServiceRequest"},
    "experience:loyalty-tier": {"pk": "experience.LoyaltyTier"},
    "experience:loyalty-tier-delete": {"pk": "experience.LoyaltyTier"},
    "experience:loyalty-statement": {"pk": "crm.Customer"},
    "experience:loyalty-redeem": {"pk": "crm.Customer"},
    "experience:loyalty-adjust": {"pk": "crm.Customer"},
    "experience:education-resource": {"pk": "experience.Resource"},
    "experience:education-resource-edit": {"pk": "experience.Resource"},
    "experience:education-resource-delete": {"pk": "experience.Resource"},
    "experience:education-invite-segment": {"pk": "experience.Resource"},
    "experience:education-session-create": {"pk": "experience.Resource"},
    "experience:education-session-edit": {"pk": "experience.Session"},
    "experience:education-attendance": {"pk": "experience.Attendance"},
    "experience:education-customer-invite": {"pk": "crm.Customer"},
    "analytics:run-progress": {"pk": "analytics.AnalyticsRun"},
    "customer-detail": {"pk": "crm.Customer"},
    "customer-edit": {"pk": "crm.Customer"},
    "customer-archive": {"pk": "crm.Customer"},
    "customer-audit": {"pk": "crm.Customer"},
    "contact-create": {"pk": "crm.Customer"},
    "contact-edit": {"pk": "crm.Customer", "contact_id": "crm.Contact"},
    "interaction-log": {"pk": "crm.Customer"},
    "follow-up-create": {"pk": "crm.Customer"},
    "follow-up-done": {"pk": "crm.FollowUp"},
    "account-member-mfa-reset": {"pk": "finance.User"},
    "api-key-rotate": {"pk": "finance.ApiKey"},
    "sensitive-reveal": {"pk": "crm.Customer"},
    "customer-privacy": {"pk": "crm.Customer"},
    "customer-privacy-export": {"pk": "crm.Customer"},
    "customer-privacy-erase": {"pk": "crm.Customer"},
    "contact-privacy": {"pk": "crm.Customer", "contact_id": "crm.Contact"},
    "contact-privacy-export": {"pk": "crm.Customer", "contact_id": "crm.Contact"},
    "contact-privacy-erase": {"pk": "crm.Customer", "contact_id": "crm.Contact"},
    "privacy-activity-edit": {"pk": "crm.ProcessingActivity"},
    "privacy-activity-delete": {"pk": "crm.ProcessingActivity"},
    "erasure-detail": {"pk": "crm.ErasureRequest"},
}

# Path parameters that are not row ids but keys inside the current tenant (a priority, a run
# date, a module name): the route is filled with the victim's values and must show nothing of
# the victim and change nothing of it, whatever its status.
SCOPED_KEYS: dict[str, dict[str, Callable[[Victim], str]]] = {
    "sla-policy-detail": {"pk": lambda victim: "high"},
    "receivables:dunning-run": {
        "run_date": lambda victim: (victim.dunning_run_dates or [datetime.date.today().isoformat()])[-1]
    },
    "module": {"module": lambda victim: "receivables"},
}

METHODS = ("get", "post", "put", "patch", "delete")


# ---------------------------------------------------------------------------------------------
# The generator
@dataclass(frozen=True)
class Route:
    name: str
    regex: str  # the whole path as one regex, prefixes joined
    callback: Any
    kwargs: tuple[str, ...]

    @property
    def is_api(self) -> bool:
        return self.regex.startswith("api/")

    @property
    def view_class(self) -> Any:
        return getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)

    @property
    def id_kwargs(self) -> tuple[str, ...]:
        return tuple(k for k in self.kwargs if k != "format")

    @property
    def label(self) -> str:
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", self.regex)
        return re.sub(r"\\(.)", r"\1", text.replace("^", "").replace("$", "").replace("/?", "/"))

    def methods(self) -> list[str]:
        actions = getattr(self.callback, "actions", None)
        if actions:
            return [m for m in METHODS if m in actions]
        cls = self.view_class
        if cls is None:
            return ["get", "post"]
        return [m for m in METHODS if hasattr(cls, m)]

    def url(self, values: dict[str, Any]) -> str:
        def fill(match: re.Match[str]) -> str:
            return str(values[match.group(1)])

        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", fill, self.regex)
        return "/" + re.sub(r"\\(.)", r"\1", text.replace("^", "").replace("$", "").replace("/?", "/"))


def _pattern_regex(pattern: Any) -> str:
    return pattern.regex.pattern


def walk_routes(
    resolver: URLResolver | None = None, prefix: str = "", namespace: str = ""
) -> Iterator[Route]:
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        regex = prefix + _pattern_regex(entry.pattern).lstrip("^").rstrip("$").replace("\\Z", "")
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk_routes(entry, regex, inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name or ''}"
            yield Route(name, regex, entry.callback, tuple(re.compile(regex).groupindex))


ALL_ROUTES = [r for r in walk_routes() if r.name.split(":")[0] not in PUBLIC_NAMESPACES]
SWEPT_ROUTES = [r for r in ALL_ROUTES if r.name not in PUBLIC_ROUTES and r.label not in PUBLIC_ROUTES]
ID_ROUTES = [r for r in SWEPT_ROUTES if r.id_kwargs]
FLAT_ROUTES = [r for r in SWEPT_ROUTES if not r.id_kwargs]


def inferred_models(route: Route) -> dict[str, str] | None:
    """kwarg -> model label for the route's id parameters, or None when unknown."""
    if route.name in ID_MODELS:
        return ID_MODELS[route.name]
    cls = route.view_class
    if cls is None:
        return None
    model = getattr(cls, "model", None)
    queryset = getattr(cls, "queryset", None)
    if model is None and queryset is not None:
        model = queryset.model
    if model is None:
        return None
    lookup_field = getattr(cls, "lookup_field", "pk")
    lookup_kwarg = getattr(cls, "lookup_url_kwarg", None) or lookup_field
    if route.id_kwargs != (lookup_kwarg,) and route.id_kwargs != ("pk",):
        return None
    if lookup_field not in ("pk", "id"):
        column = next((c for c in model._meta.concrete_fields if lookup_field in (c.name, c.attname)), None)
        if column is None:
            return None
        if isinstance(column, models.ForeignKey):
            model = column.related_model
        elif not column.primary_key:
            return None
    return {route.id_kwargs[0]: model._meta.label}


def route_plan(route: Route) -> dict[str, str] | None:
    """kwarg -> model label, or -> "scoped:<kwarg>" for in-tenant keys; None when uncovered."""
    if route.name in SCOPED_KEYS:
        return {k: f"scoped:{k}" for k in route.id_kwargs}
    return inferred_models(route)


def test_every_route_is_covered() -> None:
    """A new route with path parameters the generator cannot fill fails here, by name."""
    uncovered = [f"{r.name or '<unnamed>'} {r.label}" for r in ID_ROUTES if route_plan(r) is None]
    unnamed = [r.label for r in SWEPT_ROUTES if not r.name or r.name.endswith(":")]
    assert not uncovered, "routes the isolation generator cannot fill; add them to ID_MODELS:\n" + "\n".join(
        uncovered
    )
    assert not unnamed, f"unnamed routes: {unnamed}"
    stale = set(ID_MODELS) - {r.name for r in ID_ROUTES}
    assert not stale, f"ID_MODELS names no route any more: {sorted(stale)}"
    for route in SWEPT_ROUTES:
        sample = {k: "json" if k == "format" else 1 for k in route.kwargs} | _sample_keys(route)
        assert resolve(route.url(sample)).func is route.callback, f"cannot rebuild {route.label}"


def _sample_keys(route: Route) -> dict[str, str]:
    samples = {"module": "receivables", "run_date": "2026-01-31"}
    return {k: samples[k] for k in route.kwargs if k in samples} | (
        {"pk": "high"} if route.name == "sla-policy-detail" else {}
    )


# ---------------------------------------------------------------------------------------------
# Data: seeded once per module (per xdist worker), inside a transaction rolled back at the end.
@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[tuple[Victim, Attacker]]:
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            needed = {label for r in ID_ROUTES for label in (route_plan(r) or {}).values()}
            victim = isolation_data.build_victim({n for n in needed if not n.startswith("scoped:")})
            attacker = isolation_data.build_attacker()
            victim_hashes = isolation_data.table_hashes(victim.org)
            victim.fingerprint = json.dumps(victim_hashes)
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    try:
        yield victim, attacker
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def victim(world: tuple[Victim, Attacker], db: Any) -> Victim:
    return world[0]


@pytest.fixture
def attacker(world: tuple[Victim, Attacker], db: Any) -> Attacker:
    return world[1]


def clients(route: Route, attacker: Attacker) -> list[tuple[str, Any]]:
    session = Client()
    session.force_login(attacker.owner)
    if not route.is_api:
        return [("session", session)]
    keyed = APIClient()
    keyed.credentials(HTTP_AUTHORIZATION=f"Bearer {attacker.raw_key}")
    api_session = APIClient()
    api_session.force_login(attacker.owner)
    return [("session", api_session), ("api-key", keyed)]


def fill(route: Route, victim: Victim) -> dict[str, Any]:
    plan = route_plan(route)
    assert plan is not None
    values: dict[str, Any] = {"format": "json"} if "format" in route.kwargs else {}
    labels = {k: v for k, v in plan.items() if not v.startswith("scoped:")}
    for kwarg in plan:
        if kwarg not in labels:
            values[kwarg] = SCOPED_KEYS[route.name][kwarg](victim)
    # A child id with its parent's id (a customer's statement): the pair that exists in the victim.
    with tenancy.tenant(victim.org):
        from django.apps import apps

        for child_kwarg, child_label in labels.items():
            child = apps.get_model(child_label)
            for parent_kwarg, parent_label in labels.items():
                link = next(
                    (
                        c
                        for c in child._meta.concrete_fields
                        if isinstance(c, models.ForeignKey) and c.related_model._meta.label == parent_label
                    ),
                    None,
                )
                if parent_kwarg != child_kwarg and link is not None and child_kwarg not in values:
                    row = child.unscoped.filter(organization_id=victim.org.pk).order_by("pk").first()
                    assert row is not None, f"the victim has no {child_label}: extend tests/isolation_data.py"
                    values[child_kwarg] = row.pk
                    values[parent_kwarg] = getattr(row, link.attname)
    for kwarg, label in labels.items():
        if kwarg not in values:
            pk = victim.first(label)
            assert pk is not None, f"the victim has no {label}: extend tests/isolation_data.py"
            values[kwarg] = pk
    return values


def write_body(victim: Victim) -> dict[str, Any]:
    """A plausible body for any write, naming the victim's ids wherever a field could take one."""
    today = datetime.date.today()
    customer = victim.first("crm.Customer")
    invoice = victim.first("receivables.Invoice")
    owner = victim.owner.pk
    return {
        "name": "Bravo write",
        "external_id": "BRAVO-W1",
        "number": "BRAVO-W1",
        "amount": "10.00",
        "currency": "CNY",
        "reason": "sweep",
        "note": "sweep",
        "notes": "sweep",
        "summary": "sweep",
        "comment": "sweep",
        "kind": "call",
        "date": today.isoformat(),
        "received_on": today.isoformat(),
        "promised_on": (today + datetime.timedelta(days=7)).isoformat(),
        "customer": customer,
        "customer_id": customer,
        "customers": [customer],
        "invoice": invoice,
        "invoice_id": invoice,
        "invoices": [invoice],
        "payment": victim.first("receivables.Payment"),
        "credit_note": victim.first("receivables.CreditNote"),
        "contact": victim.first("crm.Contact"),
        "survey": victim.first("experience.Survey"),
        "resource": victim.first("experience.Resource"),
        "session": victim.first("experience.Session"),
        "tier": victim.first("experience.LoyaltyTier"),
        "policy": victim.first("receivables.DunningPolicy"),
        "request": victim.first("experience.ServiceRequest"),
        "owner": owner,
        "assignee": owner,
        "assigned_to": owner,
        "organization": victim.org.pk,
    }


def list_variants(route: Route, victim: Victim) -> list[dict[str, Any]]:
    """Query strings for a route without ids: plain, a search for a victim customer, filters
    naming victim ids, and the export formats pages offer."""
    if "format" in route.kwargs:
        return [{}]
    ids = {
        "customer": victim.first("crm.Customer"),
        "customer_id": victim.first("crm.Customer"),
        "invoice": victim.first("receivables.Invoice"),
        "payment": victim.first("receivables.Payment"),
        "survey": victim.first("experience.Survey"),
        "resource": victim.first("experience.Resource"),
        "owner": victim.owner.pk,
        "run": victim.first("analytics.AnalyticsRun"),
    }
    variants: list[dict[str, Any]] = [{}, {"q": victim.search_term, "search": victim.search_term}, ids]
    if not route.is_api:
        variants += [
            {"format": "csv", "export": "csv"},
            {"format": "xlsx", "export": "xlsx"},
            {"format": "pdf"},
        ]
    return variants


# ---------------------------------------------------------------------------------------------
# What a response may not contain
def leaked(response: Any) -> bool:
    """True when the response's text, or the text inside an XLSX or PDF, carries the marker."""
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
    else:
        body = response.content
    if MARKER_BYTES in body.lower():
        return True
    if body[:2] == b"PK":  # XLSX and other zip files
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return any(MARKER_BYTES in archive.read(n).lower() for n in archive.namelist())
    if body[:5] == b"%PDF-":
        for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S):
            try:
                text = zlib.decompress(stream)
            except zlib.error:
                continue
            if MARKER_BYTES in text.lower():
                return True
    try:
        return MARKER_BYTES in json.dumps(json.loads(body)).lower().encode()
    except ValueError:
        return False


def victim_rows_in_results(response: Any, route: Route, victim: Victim) -> list[Any]:
    cls = route.view_class
    queryset = getattr(cls, "queryset", None)
    if queryset is None or "json" not in response.get("Content-Type", ""):
        return []
    try:
        payload = json.loads(response.content)
    except ValueError:
        return []
    rows = payload.get("results", []) if isinstance(payload, dict) else payload
    victim_ids = set(victim.ids.get(queryset.model._meta.label, []))
    return [r.get("id") for r in rows if isinstance(r, dict) and r.get("id") in victim_ids]


def send(client: Any, method: str, url: str, *, route: Route, data: dict[str, Any] | None = None) -> Any:
    client.raise_request_exception = False
    if method == "get":
        return client.get(url, data or {})
    if route.is_api:
        return getattr(client, method)(url, data or {}, format="json")
    if method == "post":
        return client.post(url, {k: v for k, v in (data or {}).items() if not isinstance(v, list)})
    return getattr(client, method)(url)


def is_login_redirect(response: Any) -> bool:
    return response.status_code in (301, 302, 303) and "/accounts/login" in response.get("Location", "")


# ---------------------------------------------------------------------------------------------
# The sweeps
@pytest.mark.parametrize("route", ID_ROUTES, ids=lambda r: r.label)
def test_victim_ids_are_not_found(route: Route, victim: Victim, attacker: Attacker) -> None:
    """Every method on a route given the victim's ids: 404 (405/403 for writes), nothing changes."""
    plan = route_plan(route)
    assert plan is not None, f"{route.name} is not covered (see test_every_route_is_covered)"
    scoped = route.name in SCOPED_KEYS
    url = route.url(fill(route, victim))
    problems: list[str] = []
    for who, client in clients(route, attacker):
        for method in route.methods():
            response = send(client, method, url, route=route, data=write_body(victim))
            status = response.status_code
            where = f"{who} {method.upper()} {url} -> {status}"
            if status >= 500:
                problems.append(f"{where}: server error")
            elif is_login_redirect(response):
                problems.append(f"{where}: redirected to sign-in although signed in")
            elif leaked(response):
                problems.append(f"{where}: body shows victim data")
            elif scoped:
                continue
            elif method == "get" and status not in (404, 405):
                problems.append(f"{where}: expected 404")
            elif method != "get" and status not in (403, 404, 405):
                problems.append(f"{where}: expected 404/403/405")
    changed = isolation_data.fingerprint_diff(victim.org, json.loads(victim.fingerprint))
    if changed:
        problems.append(f"victim tables changed: {changed}")
    links = isolation_data.cross_tenant_references(attacker.org, victim)
    if links:
        problems.append(f"attacker rows now point at victim rows: {links}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("route", FLAT_ROUTES, ids=lambda r: r.label)
def test_lists_and_writes_show_nothing_of_the_victim(
    route: Route, victim: Victim, attacker: Attacker
) -> None:
    """Lists, dashboards, exports and searches show no victim row; writes naming victim ids
    change nothing of the victim and link nothing to it."""
    url = route.url({"format": "json"})
    problems: list[str] = []
    methods = route.methods()
    for who, client in clients(route, attacker):
        if "get" in methods:
            for query in list_variants(route, victim):
                response = send(client, "get", url, route=route, data=query)
                where = f"{who} GET {url} {query} -> {response.status_code}"
                if response.status_code >= 500:
                    problems.append(f"{where}: server error")
                elif is_login_redirect(response):
                    problems.append(f"{where}: redirected to sign-in although signed in")
                elif response.status_code not in (200, 302, 400, 403, 404, 405):
                    problems.append(f"{where}: unexpected status")
                elif leaked(response):
                    problems.append(f"{where}: body shows victim data")
                elif rows := victim_rows_in_results(response, route, victim):
                    problems.append(f"{where}: results hold victim rows {rows}")
        for method in [m for m in methods if m != "get"]:
            response = send(client, method, url, route=route, data=write_body(victim))
            where = f"{who} {method.upper()} {url} -> {response.status_code}"
            if response.status_code >= 500:
                problems.append(f"{where}: server error")
            elif is_login_redirect(response):
                problems.append(f"{where}: redirected to sign-in although signed in")
            elif leaked(response):
                problems.append(f"{where}: body shows victim data")
        if any(m != "get" for m in methods) and not route.is_api:
            # After the write (an organization switch, say), the attacker's pages still show nothing.
            after = client.get("/customers/", {"q": victim.search_term})
            if leaked(after) or after.status_code != 200:
                problems.append(
                    f"{who}: after writing to {url}, /customers/ -> {after.status_code} shows victim data"
                )
    changed = isolation_data.fingerprint_diff(victim.org, json.loads(victim.fingerprint))
    if changed:
        problems.append(f"victim tables changed: {changed}")
    links = isolation_data.cross_tenant_references(attacker.org, victim)
    if links:
        problems.append(f"attacker rows now point at victim rows: {links}")
    assert not problems, "\n".join(problems)


def test_victim_is_fully_seeded(victim: Victim) -> None:
    """The sweep means something only if the victim has rows of every kind routes take ids of."""
    needed = {label for r in ID_ROUTES for label in (inferred_models(r) or {}).values()}
    missing = sorted(label for label in needed if not victim.ids.get(label))
    assert not missing, f"the victim has no rows of {missing}: extend tests/isolation_data.py"
    with tenancy.tenant(victim.org):
        from crm.models import Customer

        assert Customer.objects.filter(name__startswith=isolation_data.MARKER).count() >= 10


def test_the_marker_check_would_catch_a_leak(victim: Victim, attacker: Attacker) -> None:
    """The victim's own owner sees the marker on the same pages, so its absence means something."""
    client = Client()
    client.force_login(victim.owner)
    assert leaked(client.get("/customers/", {"q": victim.search_term}))
    assert leaked(client.get(f"/customers/{victim.first('crm.Customer')}/"))
    keyed = APIClient()
    keyed.force_login(victim.owner)
    assert leaked(keyed.get("/api/v1/customers/"))


def test_operator_admin_refuses_tenant_users(attacker: Attacker) -> None:
    client = Client()
    client.force_login(attacker.owner)
    response = client.get("/ops/admin/")
    assert response.status_code == 302 and "/ops/admin/login/" in response["Location"]
