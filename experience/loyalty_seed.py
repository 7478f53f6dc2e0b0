"""The loyalty part of the demo: the default tiers saved as the organization's own, points for
every invoice the earlier seeds left paid, tonight's tiers and expiry, and one redemption applied
to an open invoice."""

from __future__ import annotations

from django.db.models import F

from crm.models import Customer
from experience import loyalty
from experience import loyalty_selectors as selectors
from finance.actors import Actor
from finance.models import Organization
from receivables.models import Invoice


def seed(organization: Organization) -> None:
    actor = Actor.system(organization)
    today = organization.local_today()
    loyalty.tiers_adopt_defaults(actor=actor)
    loyalty.program_update(actor=actor, points_per_unit="0.01", point_value="1")
    settled = Invoice.objects.filter(
        voided_on__isnull=True, allocated_total__gt=0, total=F("allocated_total") + F("written_off_total")
    ).order_by("pk")
    for invoice in settled:
        try:
            loyalty.points_earn(actor=actor, invoice=invoice)
        except Exception:  # noqa: BLE001 - a missing rate leaves that invoice without points
            continue
    loyalty.points_expire(actor=actor, run_date=today)
    loyalty.loyalty_tiers(actor=actor, run_date=today)
    home = selectors.loyalty_home(actor=actor, today=today, top=1)
    if not home.top:
        return
    customer_id = home.top[0]["customer_id"]
    customer = Customer.objects.get(pk=customer_id)
    balance = selectors.accounts([customer], today)[0].balance
    if balance < 2:
        return
    open_invoice = (
        Invoice.objects.filter(
            customer=customer,
            currency=organization.base_currency,
            voided_on__isnull=True,
            issue_date__lte=today,
            total__gt=F("allocated_total") + F("written_off_total"),
        )
        .order_by("due_date", "pk")
        .first()
    )
    loyalty.points_redeem(
        actor=actor, customer=customer, points=balance // 2, invoice=open_invoice, note="Demo redemption"
    )
