"""`/experience/`: the hub of the experience app, one card per part (surveys, service, loyalty,
education) with a headline figure of the customers the actor may see. A part whose pages are not
there yet shows its card without a link, so the hub works whatever is finished."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views import View

from crm.selectors import customers_visible_to
from experience.models import Attendance, ServiceRequest
from finance.web import ActorRequiredMixin


def _link(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


class HubView(ActorRequiredMixin, View):
    required_action = "experience.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        customers = customers_visible_to(self.actor)
        open_requests = ServiceRequest.objects.filter(
            customer__in=customers, status__in=ServiceRequest.OPEN_STATUSES
        ).count()
        tiers = list(
            customers.exclude(loyalty_tier="")
            .values("loyalty_tier")
            .annotate(members=Count("id"))
            .order_by("-members", "loyalty_tier")
        )
        education = Attendance.objects.filter(customer__in=customers).aggregate(
            invited=Count("id"),
            completed=Count("id", filter=Q(status=Attendance.Status.COMPLETED)),
        )
        cards: list[dict[str, Any]] = [
            {
                "key": "surveys",
                "title": _("Surveys and feedback"),
                "text": _("Satisfaction and NPS surveys, customer feedback and improvement actions."),
                "url": _link("experience:surveys-home"),
            },
            {
                "key": "service",
                "title": _("Service requests"),
                "text": _("Customers' questions and complaints, worked against SLA targets."),
                "url": _link("experience:service-home"),
                "figure": open_requests,
                "figure_label": _("open requests"),
            },
            {
                "key": "loyalty",
                "title": _("Loyalty"),
                "text": _("The loyalty program: points, tiers and rewards."),
                "url": _link("experience:loyalty-home"),
                "tiers": tiers,
            },
            {
                "key": "education",
                "title": _("Customer education"),
                "text": _("Guides, courses and webinars, who was invited, attended and completed."),
                "url": _link("experience:education-home"),
                "figure": education["completed"],
                "figure_label": _("completed of %(invited)s invitations") % {"invited": education["invited"]},
            },
        ]
        return render(request, "experience/home.html", {"cards": cards})
