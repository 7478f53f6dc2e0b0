"""Browser pages of crm: dashboard, customers, the customer page, contacts, interactions, follow-ups."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import View

from crm import selectors, services
from crm.forms import ContactForm, CustomerFilterForm, CustomerForm, FollowUpForm, InteractionForm
from crm.models import Contact, Customer
from crm.registry import Panel, registry
from finance.selectors import audit_events
from finance.web import ActorRequiredMixin


def _apply_errors(form: BaseForm, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form's fields (or at the top)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def render_panel(request: HttpRequest, panel: Panel, customer: Customer | None) -> str:
    """A panel renders itself: its own template with the context its app computes."""
    context = {"customer": customer, **panel.context(request, customer)}  # type: ignore[arg-type]
    return render_to_string(panel.template, context, request=request)


class DashboardView(ActorRequiredMixin, View):
    required_action = "organization.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        today = self.actor.organization.local_today()
        counts = selectors.open_follow_up_counts(actor=self.actor, today=today)
        customers = selectors.customers_visible_to(self.actor)
        panels = [
            {"panel": panel, "html": render_panel(request, panel, None)}
            for panel in sorted(registry.dashboard_panels.values(), key=lambda p: p.order)
        ]
        return render(
            request,
            "crm/dashboard.html",
            {
                "customer_count": customers.filter(status="active").count(),
                "follow_up_counts": counts,
                "recent": selectors.interactions_visible_to(self.actor)
                .select_related("customer", "user")
                .order_by("-occurred_at", "-id")[:8],
                "panels": panels,
            },
        )


class CustomerListView(ActorRequiredMixin, View):
    required_action = "customer.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = CustomerFilterForm(request.GET or None, groups=selectors.customer_groups())
        filters: dict[str, Any] = {}
        if form.is_valid():
            data = form.cleaned_data
            filters = {
                "search": data["q"],
                "owner_id": data["owner"],
                "group": data["group"],
                "stage": data["stage"],
                "status": data["status"],
                "ordering": data["sort"] or "name",
            }
        customers = selectors.customer_list(actor=self.actor, **filters)
        page = Paginator(customers, 25).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context = {"form": form, "page": page, "query": query.urlencode()}
        template = "crm/partials/customer_rows.html" if request.htmx else "crm/customer_list.html"  # type: ignore[attr-defined]
        return render(request, template, context)


class CustomerCreateView(ActorRequiredMixin, View):
    required_action = "customer.create"

    def form(self, data: Any = None) -> CustomerForm:
        return CustomerForm(
            data,
            language=self.request.LANGUAGE_CODE,
            can_assign_owner=self.actor.can("customer.assign_owner"),
            can_edit_sensitive=self.actor.can("sensitive.view"),
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        form = self.form()
        if "owner" in form.fields:
            form.initial["owner"] = request.user.pk
        return render(request, "crm/customer_form.html", {"form": form})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = self.form(request.POST)
        if form.is_valid():
            try:
                customer = services.customer_create(actor=self.actor, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Customer created."))
                return redirect("customer-detail", pk=customer.pk)
        return render(request, "crm/customer_form.html", {"form": form}, status=400)


class CustomerMixin(ActorRequiredMixin):
    """Loads the customer named in the URL if the actor may see it (another tenant's id is a 404)."""

    customer: Customer

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "actor", None) is not None:
            self.customer = selectors.customer_for(request.actor, kwargs["pk"])  # type: ignore[attr-defined]
        return super().dispatch(request, *args, **kwargs)


class CustomerDetailView(CustomerMixin, View):
    required_action = "customer.view"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        panels = [
            {"panel": panel, "html": render_panel(request, panel, self.customer)}
            for panel in registry.panels_for_customer()
        ]
        return render(
            request,
            "crm/customer_detail.html",
            {
                "customer": self.customer,
                "panels": panels,
                "can_edit": self.actor.can("customer.change"),
                "can_archive": self.actor.can("customer.archive"),
                "can_audit": self.actor.can("audit.view"),
            },
        )


class CustomerEditView(CustomerMixin, View):
    required_action = "customer.change"

    def form(self, data: Any = None) -> CustomerForm:
        return CustomerForm(
            data,
            instance=self.customer,
            language=self.request.LANGUAGE_CODE,
            can_assign_owner=self.actor.can("customer.assign_owner"),
            can_edit_sensitive=self.actor.can("sensitive.view"),
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return render(request, "crm/customer_form.html", {"form": self.form(), "customer": self.customer})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        form = self.form(request.POST)
        if form.is_valid():
            try:
                services.customer_update(actor=self.actor, customer=self.customer, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Customer saved."))
                return redirect("customer-detail", pk=self.customer.pk)
        return render(
            request, "crm/customer_form.html", {"form": form, "customer": self.customer}, status=400
        )


class CustomerArchiveView(CustomerMixin, View):
    required_action = "customer.archive"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.POST.get("restore"):
            services.customer_restore(actor=self.actor, customer=self.customer)
            messages.success(request, _("Customer restored."))
        else:
            services.customer_archive(actor=self.actor, customer=self.customer)
            messages.success(request, _("Customer archived."))
        return redirect("customer-detail", pk=self.customer.pk)


class CustomerAuditView(CustomerMixin, View):
    required_action = "audit.view"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        page = Paginator(audit_events(customer_id=self.customer.pk), 50).get_page(request.GET.get("page"))
        return render(request, "finance/audit_log.html", {"page": page, "customer": self.customer})


class ContactFormView(CustomerMixin, View):
    required_action = "contact.change"

    def get_contact(self, contact_id: int | None) -> Contact | None:
        if contact_id is None:
            return None
        contact = self.customer.contacts.filter(pk=contact_id).first()
        if contact is None:
            raise Http404
        return contact

    def get(self, request: HttpRequest, pk: int, contact_id: int | None = None) -> HttpResponse:
        contact = self.get_contact(contact_id)
        form = ContactForm(instance=contact, can_edit_sensitive=self.actor.can("sensitive.view"))
        return render(
            request, "crm/contact_form.html", {"form": form, "customer": self.customer, "contact": contact}
        )

    def post(self, request: HttpRequest, pk: int, contact_id: int | None = None) -> HttpResponse:
        contact = self.get_contact(contact_id)
        form = ContactForm(
            request.POST, instance=contact, can_edit_sensitive=self.actor.can("sensitive.view")
        )
        if form.is_valid():
            try:
                if contact is None:
                    services.contact_create(actor=self.actor, customer=self.customer, **form.cleaned_data)
                else:
                    services.contact_update(actor=self.actor, contact=contact, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Contact saved."))
                return redirect("customer-detail", pk=self.customer.pk)
        return render(
            request,
            "crm/contact_form.html",
            {"form": form, "customer": self.customer, "contact": contact},
            status=400,
        )


class SensitiveRevealView(CustomerMixin, View):
    """The "Show" action on a masked tax id, bank account or identity number: an htmx POST (the
    value never travels in a URL) answered with the plaintext, never cached; each is audited."""

    required_action = "sensitive.view"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        contact = None
        contact_id = request.POST.get("contact", "")
        if contact_id:
            if not contact_id.isdigit():
                raise Http404
            contact = self.customer.contacts.filter(pk=int(contact_id)).first()
            if contact is None:
                raise Http404
        try:
            value = services.sensitive_reveal(
                actor=self.actor, customer=self.customer, contact=contact, field=request.POST.get("field", "")
            )
        except ValidationError as exc:
            return HttpResponse(" ".join(exc.messages), status=400)
        response = render(request, "crm/partials/sensitive_value.html", {"value": value})
        response["Cache-Control"] = "no-store"
        return response


class InteractionLogView(CustomerMixin, View):
    """The quick 'log interaction' form: one tap from the customer page, one to save."""

    required_action = "interaction.log"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        form = InteractionForm(customer=self.customer)
        return render(request, "crm/interaction_form.html", {"form": form, "customer": self.customer})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        form = InteractionForm(request.POST, customer=self.customer)
        if form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
            try:
                services.interaction_log(actor=self.actor, customer=self.customer, **data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Interaction logged."))
                return redirect("customer-detail", pk=self.customer.pk)
        return render(
            request, "crm/interaction_form.html", {"form": form, "customer": self.customer}, status=400
        )


class FollowUpCreateView(CustomerMixin, View):
    required_action = "followup.change"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        form = FollowUpForm(initial={"assignee": request.user.pk})
        return render(request, "crm/follow_up_form.html", {"form": form, "customer": self.customer})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        form = FollowUpForm(request.POST)
        if form.is_valid():
            try:
                services.follow_up_create(actor=self.actor, customer=self.customer, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Follow-up added."))
                return redirect("customer-detail", pk=self.customer.pk)
        return render(
            request, "crm/follow_up_form.html", {"form": form, "customer": self.customer}, status=400
        )


class FollowUpListView(ActorRequiredMixin, View):
    required_action = "followup.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        mine_only = request.GET.get("scope") != "all" or self.actor.sees_own_customers_only
        buckets = selectors.follow_up_worklist(
            actor=self.actor, today=self.actor.organization.local_today(), mine_only=mine_only
        )
        return render(request, "crm/follow_up_list.html", {"buckets": buckets, "mine_only": mine_only})


class FollowUpDoneView(ActorRequiredMixin, View):
    """Mark a follow-up done (or open again); answers htmx with the updated row."""

    required_action = "followup.change"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        follow_up = (
            selectors.follow_ups_visible_to(self.actor)
            .select_related("customer", "assignee")
            .filter(pk=pk)
            .first()
        )
        if follow_up is None:
            raise Http404
        follow_up = services.follow_up_update(
            actor=self.actor, follow_up=follow_up, done=request.POST.get("done") != "0"
        )
        if request.htmx:  # type: ignore[attr-defined]
            return render(request, "crm/partials/follow_up_row.html", {"follow_up": follow_up})
        return redirect("follow-ups")
