"""The service part of the demo: SLA policies saved, and about 25 service requests over the last
three months across priorities, categories and agents — most answered and closed in time, some
late (breached), a few reopened, and a handful open now (one already past due, one due soon)."""

from __future__ import annotations

import datetime
import random

from django.utils import timezone

from crm.models import Customer
from experience import service, service_selectors
from experience.models import ServiceNote, ServiceRequest
from experience.models.service import Priority
from experience.sla import add_business_minutes, sla_check
from finance.actors import Actor
from finance.models import Membership, Organization

SUBJECTS = [
    ("billing", "Invoice total does not match the order"),
    ("billing", "请重新开具增值税专用发票"),
    ("delivery", "Shipment arrived two pallets short"),
    ("delivery", "货物延迟到达，请确认物流单号"),
    ("product", "Sensor calibration drifts after a week"),
    ("product", "包装破损，部分产品受潮"),
    ("question", "How do we change the billing contact?"),
    ("question", "可以开通月结吗？"),
    ("complaint", "Rude answer from the hotline"),
    ("other", "Request for a product catalogue"),
]
PRIORITIES = [Priority.NORMAL, Priority.NORMAL, Priority.HIGH, Priority.LOW, Priority.URGENT]
COUNT = 25
OPEN_NOW = 5


def seed(organization: Organization) -> None:
    rng = random.Random(36)
    system = Actor.system(organization)
    customers = list(Customer.objects.order_by("pk")[:12])
    if not customers:
        return
    memberships = list(
        Membership.objects.filter(role__in=["ar_clerk", "finance_manager", "sales_rep"]).select_related(
            "user"
        )
    )
    agents = [Actor(organization=organization, role=m.role, user=m.user) for m in memberships] or [system]
    for priority in Priority.values:
        policy = service_selectors.sla_policies()[priority]
        service.sla_policy_update(
            actor=system,
            priority=priority,
            first_response_minutes=policy.first_response_minutes,
            resolution_minutes=policy.resolution_minutes,
            warn_percent=policy.warn_percent,
        )
    calendar = service_selectors.business_calendar()
    now = timezone.now()
    for index in range(COUNT):
        customer = customers[index % len(customers)]
        agent = agents[index % len(agents)]
        if agent.sees_own_customers_only and customer.owner_id != agent.user_id:
            agent = next((a for a in agents if not a.sees_own_customers_only), system)
        category, subject = SUBJECTS[index % len(SUBJECTS)]
        priority = PRIORITIES[index % len(PRIORITIES)]
        is_open = index >= COUNT - OPEN_NOW
        if is_open:
            opened_at = now - datetime.timedelta(hours=rng.randint(1, 60))
        else:
            opened_at = now - datetime.timedelta(days=rng.randint(5, 88), hours=rng.randint(0, 12))
        request = service.service_request_create(
            actor=agent,
            customer=customer,
            subject=subject,
            description="Reported by the customer's buyer.",
            category=category,
            priority=priority,
            channel=rng.choice(ServiceRequest.Channel.values[:4]),
            assignee=agent.user,
            opened_at=opened_at,
        )
        service.service_note_add(
            actor=agent, request=request, kind=ServiceNote.Kind.INBOUND, body=subject, at=opened_at
        )
        policy = service_selectors.sla_policies()[priority]
        late = index % 6 == 2  # about one in six answered or solved after the deadline
        answer_after = policy.first_response_minutes * (rng.choice([2, 3]) if late else rng.uniform(0.2, 0.9))
        answered_at = add_business_minutes(opened_at, int(answer_after), calendar)
        if answered_at < now:
            service.service_note_add(
                actor=agent,
                request=request,
                kind=ServiceNote.Kind.OUTBOUND,
                body="Thank you, we are looking into it.",
                at=answered_at,
            )
        if is_open:
            continue
        solve_after = policy.resolution_minutes * (rng.uniform(1.2, 2) if late else rng.uniform(0.3, 0.9))
        resolved_at = max(add_business_minutes(opened_at, int(solve_after), calendar), answered_at)
        if resolved_at >= now:
            continue
        service.service_request_set_status(actor=agent, request=request, status="resolved", at=resolved_at)
        if index % 8 == 3:  # reopened: the fix did not hold
            service.service_request_reopen(actor=agent, request=request)
            service.service_request_set_status(
                actor=agent,
                request=request,
                status="resolved",
                at=min(now, resolved_at + datetime.timedelta(days=1)),
            )
        closed_at = min(now, resolved_at + datetime.timedelta(days=2))
        service.service_request_set_status(actor=agent, request=request, status="closed", at=closed_at)
    sla_check(actor=system, now=now)
