"""Browser pages of personal information rights: a customer's and a contact's privacy page
(consents and their history, export, erasure), the register of processing activities and the
retention policies."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from crm import privacy
from crm.models import Contact, Customer, ErasureRequest, ProcessingActivity
from crm.privacy_forms import ConsentForm, ErasureForm, ProcessingActivityForm, RetentionPolicyForm
from crm.registry import Panel, registry
from crm.views import CustomerMixin, _apply_errors
from finance.web import ActorRequiredMixin


class SubjectMixin(CustomerMixin):
    """The customer in the URL, and the contact when the URL names one (of that customer only)."""

    contact: Contact | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.contact = None
        if getattr(request, "actor", None) is not None and kwargs.get("contact_id") is not None:
            from crm import selectors

            customer = selectors.customer_for(request.actor, kwargs["pk"])  # type: ignore[attr-defined]
            self.contact = customer.contacts.filter(pk=kwargs["contact_id"]).first()
            if self.contact is None:
                raise Http404
        return super().dispatch(request, *args, **kwargs)

    def subject(self) -> dict[str, Any]:
        if self.contact is not None:
            return {"contact": self.contact}
        return {"customer": self.customer}

    def privacy_url(self) -> str:
        if self.contact is not None:
            return reverse("contact-privacy", args=[self.customer.pk, self.contact.pk])
        return reverse("customer-privacy", args=[self.customer.pk])


def _contacts_with_consents(customer: Customer) -> list[dict[str, Any]]:
    return privacy.contacts_privacy_overview(customer)


def _panel(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    return {"contacts": _contacts_with_consents(customer), "erased": privacy.is_erased(customer=customer)}


def register_panel() -> None:
    registry.add_customer_panel(
        Panel("privacy", gettext_lazy("Privacy"), "crm/privacy/panel.html", _panel, order=90)
    )


class CustomerPrivacyView(SubjectMixin, View):
    required_action = "contact.view"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return render(
            request,
            "crm/privacy/customer.html",
            {
                "customer": self.customer,
                "contacts": _contacts_with_consents(self.customer),
                "erased": privacy.is_erased(customer=self.customer),
                "erasures": ErasureRequest.objects.filter(customer=self.customer).select_related(
                    "requested_by"
                ),
                "can_export": self.actor.can("privacy.export"),
                "can_erase": self.actor.can("privacy.erase"),
                "can_view": self.actor.can("privacy.view"),
            },
        )


class ContactPrivacyView(SubjectMixin, View):
    """GET: the contact's current consents and their history; POST records a consent."""

    required_action = "contact.view"

    def render_page(self, form: ConsentForm, status: int = 200) -> HttpResponse:
        contact = self.contact
        return render(
            self.request,
            "crm/privacy/contact.html",
            {
                "customer": self.customer,
                "contact": contact,
                "form": form,
                "current": privacy.consents_current(contact),  # type: ignore[arg-type]
                "history": privacy.consent_history(contact),  # type: ignore[arg-type]
                "erased": privacy.is_erased(contact=contact),
                "can_record": self.actor.can("contact.change"),
                "can_export": self.actor.can("privacy.export"),
                "can_erase": self.actor.can("privacy.erase"),
            },
            status=status,
        )

    def get(self, request: HttpRequest, pk: int, contact_id: int) -> HttpResponse:
        return self.render_page(ConsentForm())

    def post(self, request: HttpRequest, pk: int, contact_id: int) -> HttpResponse:
        self.actor.require("contact.change")
        form = ConsentForm(request.POST)
        if form.is_valid():
            try:
                privacy.consent_record(actor=self.actor, contact=self.contact, **form.cleaned_data)  # type: ignore[arg-type]
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Consent recorded."))
                return redirect(self.privacy_url())
        return self.render_page(form, status=400)


class PrivacyExportView(SubjectMixin, View):
    """POST: download the ZIP of everything Kehu holds about the customer or contact."""

    required_action = "privacy.export"

    def post(self, request: HttpRequest, pk: int, contact_id: int | None = None) -> HttpResponse:
        content = privacy.privacy_export(actor=self.actor, **self.subject())
        response = HttpResponse(content, content_type="application/zip")
        response["Content-Disposition"] = (
            f'attachment; filename="{privacy.export_filename(**self.subject())}"'
        )
        return response


class PrivacyEraseView(SubjectMixin, View):
    """GET: what erasure would anonymise and keep, and a confirmation form; POST: erase."""

    required_action = "privacy.erase"

    def render_page(self, form: ErasureForm, status: int = 200) -> HttpResponse:
        entries = privacy.privacy_erase_preview(actor=self.actor, **self.subject())
        return render(
            self.request,
            "crm/privacy/erase.html",
            {
                "customer": self.customer,
                "contact": self.contact,
                "form": form,
                "anonymised": [e for e in entries if e["status"] == "anonymised"],
                "kept": [e for e in entries if e["status"] == "kept"],
                "back_url": self.privacy_url(),
            },
            status=status,
        )

    def get(self, request: HttpRequest, pk: int, contact_id: int | None = None) -> HttpResponse:
        return self.render_page(ErasureForm())

    def post(self, request: HttpRequest, pk: int, contact_id: int | None = None) -> HttpResponse:
        form = ErasureForm(request.POST)
        if form.is_valid():
            try:
                erasure = privacy.privacy_erase(
                    actor=self.actor, reason=form.cleaned_data["reason"], **self.subject()
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Personal data erased."))
                return redirect("erasure-detail", pk=erasure.pk)
        return self.render_page(form, status=400)


class ErasureDetailView(ActorRequiredMixin, View):
    required_action = "privacy.view"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        erasure = (
            ErasureRequest.objects.select_related("customer", "contact", "requested_by").filter(pk=pk).first()
        )
        if erasure is None:
            raise Http404
        return render(request, "crm/privacy/erasure.html", {"erasure": erasure})


class RegisterView(ActorRequiredMixin, View):
    """The register of processing activities, the retention policies and recent erasures."""

    required_action = "privacy.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request,
            "crm/privacy/register.html",
            {
                "activities": ProcessingActivity.objects.all(),
                "policies": privacy.retention_policies(),
                "erasures": ErasureRequest.objects.select_related("customer", "contact", "requested_by")[:20],
                "retention_form": RetentionPolicyForm(),
                "can_manage": self.actor.can("privacy.manage"),
            },
        )


class RegisterCsvView(ActorRequiredMixin, View):
    required_action = "privacy.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        response = HttpResponse(
            privacy.processing_activities_csv(ProcessingActivity.objects.all()),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="processing-activities.csv"'
        return response


class ActivityFormView(ActorRequiredMixin, View):
    required_action = "privacy.manage"

    def get_activity(self, pk: int | None) -> ProcessingActivity | None:
        if pk is None:
            return None
        activity = ProcessingActivity.objects.filter(pk=pk).first()
        if activity is None:
            raise Http404
        return activity

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        activity = self.get_activity(pk)
        form = ProcessingActivityForm(instance=activity)
        return render(request, "crm/privacy/activity_form.html", {"form": form, "activity": activity})

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        activity = self.get_activity(pk)
        form = ProcessingActivityForm(request.POST, instance=activity)
        if form.is_valid():
            try:
                privacy.processing_activity_save(actor=self.actor, activity=activity, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Processing activity saved."))
                return redirect("privacy-register")
        if activity is not None:
            activity.refresh_from_db()
        return render(
            request, "crm/privacy/activity_form.html", {"form": form, "activity": activity}, status=400
        )


class ActivityDeleteView(ActorRequiredMixin, View):
    required_action = "privacy.manage"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        activity = ProcessingActivity.objects.filter(pk=pk).first()
        if activity is None:
            raise Http404
        privacy.processing_activity_delete(actor=self.actor, activity=activity)
        messages.success(request, _("Processing activity deleted."))
        return redirect("privacy-register")


class RetentionPolicyView(ActorRequiredMixin, View):
    """POST: set the retention of one document type."""

    required_action = "privacy.manage"

    def post(self, request: HttpRequest) -> HttpResponse:
        form = RetentionPolicyForm(request.POST)
        if form.is_valid():
            try:
                privacy.retention_policy_set(actor=self.actor, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Retention policy saved."))
                return redirect("privacy-register")
        return render(
            request,
            "crm/privacy/register.html",
            {
                "activities": ProcessingActivity.objects.all(),
                "policies": privacy.retention_policies(),
                "erasures": ErasureRequest.objects.select_related("customer", "contact", "requested_by")[:20],
                "retention_form": form,
                "can_manage": True,
            },
            status=400,
        )
