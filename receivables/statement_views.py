"""The statement as a page, a PDF download, and `GET /api/v1/customers/{id}/statement.pdf`."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.views import View
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from crm import selectors as crm_selectors
from finance.api.base import KehuAPIView
from finance.web import ActorRequiredMixin
from receivables.statements import build_statement, render_statement_html, render_statement_pdf


class PeriodForm(forms.Form):
    date_from = forms.DateField(label=_("From"), required=False)
    date_to = forms.DateField(label=_("To"), required=False)

    def period(self, today: datetime.date) -> tuple[datetime.date, datetime.date]:
        data = self.cleaned_data
        date_to = data.get("date_to") or today
        date_from = data.get("date_from") or date_to.replace(day=1)
        return date_from, date_to

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError(_("The period must start before it ends."))
        return data


def _period(params: Any, today: datetime.date) -> tuple[datetime.date, datetime.date] | dict:
    form = PeriodForm({"date_from": params.get("from"), "date_to": params.get("to")})
    if not form.is_valid():
        errors = dict(form.errors)
        return {("from" if k == "date_from" else "to" if k == "date_to" else k): v for k, v in errors.items()}
    return form.period(today)


def _pdf_response(statement: Any) -> HttpResponse:
    response = HttpResponse(render_statement_pdf(statement), content_type="application/pdf")
    filename = (
        f"statement-{statement.customer.pk}-{statement.date_from:%Y%m%d}-{statement.date_to:%Y%m%d}.pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class StatementView(ActorRequiredMixin, View):
    """`/customers/<id>/statement/?from=&to=[&format=pdf]`"""

    required_action = "receivables.view"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = crm_selectors.customer_for(self.actor, pk)
        period = _period(request.GET, self.actor.organization.local_today())
        if isinstance(period, dict):
            return HttpResponse("; ".join(str(e) for errors in period.values() for e in errors), status=400)
        statement = build_statement(customer=customer, date_from=period[0], date_to=period[1])
        if request.GET.get("format") == "pdf":
            return _pdf_response(statement)
        return HttpResponse(render_statement_html(statement))


class StatementPdfApiView(KehuAPIView):
    action_permissions = {"list": "receivables.view"}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "from", OpenApiTypes.DATE, description="Period start (default: first of the month)"
            ),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Period end (default: today)"),
        ],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
    )
    def list(self, request: Request, pk: int) -> HttpResponse:
        customer = crm_selectors.customer_for(self.actor, pk)
        period = _period(request.query_params, self.actor.organization.local_today())
        if isinstance(period, dict):
            raise ValidationError(period)
        return _pdf_response(build_statement(customer=customer, date_from=period[0], date_to=period[1]))


def statement_by_link(request: HttpRequest, token: str) -> HttpResponse:
    """`/statements/<token>/`: the statement PDF a reminder links to, for the customer without an
    account. The signed token names organization and customer; anything else is a 404."""
    from django.http import Http404

    from crm.models import Customer
    from finance import tenancy
    from finance.models import Organization
    from receivables.statements import statement_link_target

    target = statement_link_target(token)
    organization = Organization.objects.filter(pk=target[0]).first() if target else None
    if organization is None or target is None:
        raise Http404
    with tenancy.tenant(organization):
        customer = Customer.objects.filter(pk=target[1]).first()
        if customer is None:
            raise Http404
        today = organization.local_today()
        statement = build_statement(
            customer=customer, date_from=today - datetime.timedelta(days=90), date_to=today
        )
        response = HttpResponse(render_statement_pdf(statement), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="statement-{today:%Y%m%d}.pdf"'
    response["X-Robots-Tag"] = "noindex"
    response["Cache-Control"] = "private, no-store"
    return response
