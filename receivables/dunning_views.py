"""Dunning pages: policies and past runs, the policy editor with a live template preview over a real
customer, tomorrow's run preview (the dry run), and one run's messages."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from crm.selectors import customers_visible_to
from finance.models import JobRun
from finance.web import ActorRequiredMixin
from receivables import dunning, dunning_policies
from receivables.dunning_forms import LevelFormSet, PolicyForm, PreviewDateForm, TemplatePreviewForm
from receivables.models import DunningLevel, DunningMessage, DunningPolicy

PAGE_SIZE = 50


def _policies() -> list[DunningPolicy]:
    levels = Prefetch("levels", queryset=DunningLevel.objects.order_by("days", "sequence"))
    return list(DunningPolicy.objects.prefetch_related(levels).order_by("priority", "pk"))


class DunningOverviewView(ActorRequiredMixin, View):
    """`/receivables/dunning/`: the policies, and the past runs with what each sent."""

    required_action = "collections.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        status = DunningMessage.Status
        runs = list(
            DunningMessage.objects.values("run_date")
            .annotate(
                total=Count("pk"),
                sent=Count("pk", filter=Q(status__in=[status.SENT, status.LOGGED])),
                waiting=Count("pk", filter=Q(status__in=[status.PENDING, status.SENDING, status.FAILED])),
                flagged=Count("pk", filter=Q(status__in=[status.FLAGGED, status.BOUNCED])),
            )
            .order_by("-run_date")[:30]
        )
        job_runs = {
            run.run_date: run
            for run in JobRun.objects.filter(job="dunning", run_date__in=[r["run_date"] for r in runs])
        }
        for run in runs:
            run["job"] = job_runs.get(run["run_date"])
        last_job = JobRun.objects.filter(job="dunning").order_by("-run_date").first()
        return render(
            request,
            "receivables/dunning/overview.html",
            {
                "policies": _policies(),
                "runs": runs,
                "last_job": last_job,
                "can_edit": self.actor.can("dunning_policy.change"),
            },
        )


class DunningRunView(ActorRequiredMixin, View):
    """`/receivables/dunning/runs/<date>/`: one run's messages and their delivery state."""

    required_action = "collections.view"

    def get(self, request: HttpRequest, run_date: str) -> HttpResponse:
        try:
            day = datetime.date.fromisoformat(run_date)
        except ValueError:
            raise Http404 from None
        queryset = (
            DunningMessage.objects.filter(run_date=day, customer__in=customers_visible_to(self.actor))
            .select_related("customer", "level")
            .annotate(invoice_count=Count("reminders"))
            .order_by("customer__name", "pk")
        )
        wanted = request.GET.get("status", "")
        if wanted in DunningMessage.Status.values:
            queryset = queryset.filter(status=wanted)
        page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "receivables/dunning/run.html",
            {
                "run_date": day,
                "page": page,
                "statuses": DunningMessage.Status.choices,
                "status": wanted,
                "query": f"status={wanted}" if wanted else "",
            },
        )


class DunningPreviewView(ActorRequiredMixin, View):
    """`/receivables/dunning/preview/?date=`: what the run of that day (default tomorrow) would send."""

    required_action = "collections.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        organization = self.actor.organization
        form = PreviewDateForm(request.GET or None)
        run_date = organization.local_today() + datetime.timedelta(days=1)
        if form.is_valid() and form.cleaned_data.get("date"):
            run_date = form.cleaned_data["date"]
        customer_ids = None
        if self.actor.sees_own_customers_only:
            customer_ids = list(customers_visible_to(self.actor).values_list("pk", flat=True))
        plan = dunning.dunning_plan(organization=organization, run_date=run_date, customer_ids=customer_ids)
        page = Paginator(plan.messages, PAGE_SIZE).get_page(request.GET.get("page"))
        for message in page.object_list:
            dunning.render_message(message, organization=organization, run_date=run_date)
        return render(
            request,
            "receivables/dunning/preview.html",
            {
                "form": form,
                "run_date": run_date,
                "page": page,
                "message_count": len(plan.messages),
                "query": f"date={run_date.isoformat()}",
                "invoice_count": sum(len(m.new_invoices) for m in plan.messages),
            },
            status=400 if form.is_bound and not form.is_valid() else 200,
        )


class PolicyEditView(ActorRequiredMixin, View):
    """`/receivables/dunning/policies/new/` and `/<id>/`: everyone who may view collections sees a
    policy; only admins save it."""

    required_action = "collections.view"

    def _policy(self, pk: int | None) -> DunningPolicy | None:
        if pk is None:
            return None
        policy = DunningPolicy.objects.filter(pk=pk).first()
        if policy is None:
            raise Http404
        return policy

    def _render(
        self, request: HttpRequest, policy: DunningPolicy | None, form: Any, formset: Any, status: int = 200
    ) -> HttpResponse:
        return render(
            request,
            "receivables/dunning/policy_form.html",
            {
                "policy": policy,
                "form": form,
                "formset": formset,
                "can_edit": self.actor.can("dunning_policy.change"),
                "customers": customers_visible_to(self.actor)
                .order_by("name")
                .values_list("pk", "name")[:200],
                "variables": dunning.TEMPLATE_VARIABLES,
            },
            status=status,
        )

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        policy = self._policy(pk)
        if policy is None:
            if not self.actor.can("dunning_policy.change"):
                raise PermissionDenied
            form = PolicyForm(initial={"late_fee": DunningPolicy.LateFee.NONE})
            formset = LevelFormSet(prefix="levels")
        else:
            form = PolicyForm(initial=PolicyForm.initial_for(policy))
            levels = policy.levels.order_by("days", "sequence")
            formset = LevelFormSet(
                prefix="levels", initial=[LevelFormSet.form.initial_for(level) for level in levels]
            )
        return self._render(request, policy, form, formset)

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        if not self.actor.can("dunning_policy.change"):
            raise PermissionDenied
        policy = self._policy(pk)
        form = PolicyForm(request.POST)
        formset = LevelFormSet(request.POST, prefix="levels")
        if not (form.is_valid() and formset.is_valid()):
            return self._render(request, policy, form, formset, status=400)
        levels = [
            level_form.level_fields()
            for level_form in formset.forms
            if level_form.cleaned_data and not level_form.cleaned_data.get("DELETE")
        ]
        try:
            saved = dunning_policies.policy_save(
                actor=self.actor, policy=policy, levels=levels, **form.policy_fields()
            )
        except ValidationError as exc:
            for field_name, errors in exc.message_dict.items():
                target = field_name if field_name in form.fields else None
                for error in errors:
                    form.add_error(target, f"{field_name}: {error}" if target is None else error)
            return self._render(request, policy, form, formset, status=400)
        messages.success(request, _("Policy “%(name)s” saved.") % {"name": saved.name})
        return redirect("receivables:dunning-policy", pk=saved.pk)


class PolicyRecommendedView(ActorRequiredMixin, View):
    required_action = "dunning_policy.change"

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            policy = dunning_policies.policy_create_recommended(actor=self.actor)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("receivables:dunning")
        return redirect("receivables:dunning-policy", pk=policy.pk)


class TemplatePreviewView(ActorRequiredMixin, View):
    """htmx: a level's template (as typed, unsaved) rendered over a real customer's open invoices."""

    required_action = "collections.view"

    def post(self, request: HttpRequest) -> HttpResponse:
        prefix = request.POST.get("prefix", "")
        suffix = "zh" if request.POST.get("language") == "zh-hans" else "en"

        def field(name: str) -> str | None:
            if prefix:
                return request.POST.get(f"{prefix}-{name}")
            return request.POST.get(name.split("_")[0] if name.startswith(("subject_", "body_")) else name)

        form = TemplatePreviewForm(
            {
                "customer": request.POST.get("customer"),
                "language": request.POST.get("language"),
                "days": field("days") or 0,
                "name": field("name") or "",
                "pay_within_days": field("pay_within_days") or 7,
                "subject": field(f"subject_{suffix}") or "",
                "body": field(f"body_{suffix}") or "",
            }
        )
        context: dict[str, Any] = {"form": form}
        if not form.is_valid():
            return render(request, "receivables/dunning/partials/template_preview.html", context, status=400)
        data = form.cleaned_data
        customer = customers_visible_to(self.actor).filter(pk=data["customer"]).first()
        if customer is None:
            context["error"] = _("Choose a customer.")
            return render(request, "receivables/dunning/partials/template_preview.html", context, status=400)
        try:
            message = dunning.template_preview(
                organization=self.actor.organization,
                customer=customer,
                language=data["language"],
                subject=data["subject"],
                body=data["body"],
                run_date=self.actor.organization.local_today(),
                level_name=data.get("name") or "",
                days=data.get("days") or 0,
                pay_within_days=data.get("pay_within_days") or 7,
            )
        except ValidationError as exc:
            context["error"] = " ".join(exc.messages)
            return render(request, "receivables/dunning/partials/template_preview.html", context, status=400)
        context["message"] = message
        return render(request, "receivables/dunning/partials/template_preview.html", context)
