"""Browser pages of analytics, under /analytics/ (namespace `analytics`): the dashboard, the
customer list with its exports, the recompute button with its progress, and the policy settings.

Everything a page lists comes from `selectors.analytics_visible_to(actor)`, so a sales rep sees,
lists and exports only their own customers; the organization-wide figures (the run's summary:
charts, concentration, breakdowns, alert outcomes) need "analytics.portfolio". A run of another
organization is a 404; an action the role may not take is a 403.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from analytics import charts, exports, selectors, services
from analytics.forms import SORTS, CustomerFilterForm, PolicyForm, add_service_errors
from analytics.models import AnalyticsPolicy, AnalyticsRun, CustomerAnalytics, Segment
from analytics.runs import STALE_AFTER, STEPS, run_request
from analytics.tasks import recompute
from crm.models import LifecycleStage
from finance.actors import Actor
from finance.web import ActorRequiredMixin

PAGE_SIZE = 25
WHERE_TO_ACT = 10
RISK_LIST = 10

STEP_LABELS = {
    "load": gettext_lazy("Loading invoices, credit notes and payments"),
    "classes": gettext_lazy("Ranking customers into ABC classes"),
    "rfm": gettext_lazy("Scoring recency, frequency and monetary value"),
    "lifetime_value": gettext_lazy("Fitting the lifetime value models"),
    "churn": gettext_lazy("Estimating churn risk and lifecycle stages"),
    "summary": gettext_lazy("Summing up the portfolio"),
    "write": gettext_lazy("Saving the figures"),
    "done": gettext_lazy("Done"),
}

ABC_LABELS = {"A": "A", "B": "B", "C": "C", "": gettext_lazy("No class")}


# --- Reading the run ---------------------------------------------------------------------------------


def hhi_reading(hhi: float | None) -> str:
    """The Herfindahl-Hirschman index in words, by the usual thresholds (1,500 and 2,500)."""
    if hhi is None:
        return ""
    if hhi < 1500:
        return _("unconcentrated")
    if hhi <= 2500:
        return _("moderately concentrated")
    return _("highly concentrated")


def top_reason(row: CustomerAnalytics) -> str:
    """The churn factor that adds the most points, in words; empty when none adds any."""
    explained = [f for f in selectors.explain_churn(row.churn_factors) if f["points"]]
    if not explained:
        return ""
    return max(explained, key=lambda factor: factor["points"])["reason"]


def _money(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _rep_names(rep_ids: list[int]) -> dict[int, str]:
    """Names of the reps of the by-rep breakdown, in one query."""
    users = get_user_model().objects.filter(pk__in=[pk for pk in rep_ids if pk])
    return {user.pk: str(user) for user in users.only("pk", "first_name", "last_name", "email")}


def breakdown(rows: list[dict[str, Any]], labels: dict[Any, Any]) -> list[dict[str, Any]]:
    """A by-segment, by-class or by-rep breakdown of the summary, with labels and decimals."""
    result = []
    for row in rows:
        key = row.get("key", "")
        result.append(
            {
                "key": key,
                "label": labels.get(key, key),
                "customers": row.get("customers", 0),
                "revenue": _money(row.get("revenue")),
                "margin": _money(row.get("margin")),
                "clv": _money(row.get("clv")),
            }
        )
    return result


def fit_errors(run: AnalyticsRun) -> dict[str, bool]:
    """Which lifetime value model could not be fitted (their messages stay in the run's record)."""
    fitted = run.models_fit or {}
    bgnbd = fitted.get("bgnbd") or {}
    gamma = fitted.get("gamma_gamma") or {}
    return {
        "bgnbd": not bgnbd or "error" in bgnbd,
        "gamma_gamma": "error" in gamma,
        "gamma_fallback": gamma.get("fallback") == "observed_average",
    }


def run_warnings(run: AnalyticsRun) -> list[str]:
    """The run's warnings in words (documents left out for want of an exchange rate)."""
    kinds = {
        "invoices": _("invoices"),
        "credit_notes": _("credit notes"),
        "payments": _("payments"),
    }
    texts = []
    for warning in run.warnings or []:
        if warning.get("code") == "missing_rate":
            texts.append(
                _("%(count)s %(kind)s in %(currency)s from %(date)s have no exchange rate: left out.")
                % {
                    "count": warning.get("count", ""),
                    "kind": kinds.get(warning.get("kind", ""), warning.get("kind", "")),
                    "currency": warning.get("currency", ""),
                    "date": warning.get("first_date", ""),
                }
            )
    return texts


def portfolio_context(run: AnalyticsRun, policy: AnalyticsPolicy, currency: str) -> dict[str, Any]:
    """The organization-wide half of the dashboard, from the run's summary alone (plus one query
    for the reps' names)."""
    summary = run.summary or {}
    concentration = summary.get("concentration") or {}
    a_share = float(policy.abc_a_percent) / 100
    b_share = float(policy.abc_b_percent) / 100
    clv_hist = summary.get("clv_histogram") or {}
    cohorts = summary.get("cohorts") or {}
    by_rep = summary.get("by_rep") or []
    names = _rep_names([int(row["key"]) for row in by_rep if str(row.get("key", "")).isdigit()])
    rep_labels: dict[Any, Any] = {0: _("No owner"), "0": _("No owner")}
    for row in by_rep:
        key = row.get("key")
        if key not in rep_labels:
            rep_labels[key] = names.get(int(key), _("Former member")) if str(key).isdigit() else key
    errors = fit_errors(run)
    hhi = concentration.get("hhi")
    reach = charts.pareto_reach(concentration.get("pareto") or [], a_share)
    return {
        "summary": summary,
        "abc_counts": sorted((summary.get("abc_revenue") or {}).items()),
        "revenue_12m": _money(summary.get("revenue_12m")),
        "margin_12m": _money(summary.get("margin_12m")),
        "cash_12m": _money(summary.get("cash_12m")),
        "clv_total": None if errors["bgnbd"] else _money(summary.get("clv_total")),
        "overdue": _money(summary.get("overdue")),
        "top10_share": concentration.get("top10_share"),
        "top10_percent": None
        if concentration.get("top10_share") is None
        else round(concentration["top10_share"] * 100, 1),
        "hhi": hhi,
        "hhi_reading": hhi_reading(hhi),
        "pareto_reach": None if reach is None else round(reach * 100),
        "a_percent": policy.abc_a_percent,
        "pareto_chart": charts.pareto_chart(
            concentration.get("pareto") or [],
            a_share=a_share,
            b_share=b_share,
            title=_("Cumulative share of revenue by customer"),
        ),
        "has_pareto": len(concentration.get("pareto") or []) > 1,
        "rfm_chart": charts.rfm_heatmap(summary.get("rfm_grid") or [], title=_("Customers by R and F score")),
        "clv_chart": charts.histogram(
            clv_hist.get("edges") or [],
            clv_hist.get("counts") or [],
            title=_("Customers by lifetime value"),
            currency=currency,
        )
        if clv_hist.get("counts")
        else None,
        "churn_chart": charts.churn_bands_chart(
            summary.get("churn_bands") or [0] * 10,
            threshold=policy.churn_threshold,
            title=_("Customers by churn risk"),
        ),
        "cohort_chart": charts.cohort_heatmap(
            cohorts.get("months") or [],
            cohorts.get("sizes") or [],
            cohorts.get("matrix") or [],
            title=_("Share of each cohort buying, month by month"),
        )
        if any(cohorts.get("sizes") or [])
        else None,
        "by_segment": breakdown(summary.get("by_segment") or [], dict(Segment.choices)),
        "by_class": breakdown(summary.get("by_class") or [], ABC_LABELS),
        "by_rep": breakdown(by_rep, rep_labels),
        "alerts": selectors.alert_precision(),
        "fit": run.models_fit or {},
        "fit_errors": errors,
        "warnings": run_warnings(run),
    }


def is_stale(run: AnalyticsRun) -> bool:
    """A queued or running run that has not moved for longer than a run may take: its worker is
    gone, and the button may start it again."""
    since = run.started_at or run.created_at
    busy = run.status in (AnalyticsRun.Status.QUEUED, AnalyticsRun.Status.RUNNING)
    return busy and since < timezone.now() - STALE_AFTER


def progress_context(run: AnalyticsRun, *, portfolio: bool) -> dict[str, Any]:
    steps = run.steps or len(STEPS)
    done = run.status == AnalyticsRun.Status.DONE
    current = min(run.step + 1, steps)
    return {
        "run": run,
        "portfolio": portfolio,
        "polling": run.status in (AnalyticsRun.Status.QUEUED, AnalyticsRun.Status.RUNNING)
        and not is_stale(run),
        "stale": is_stale(run),
        "value": steps if done else run.step,
        "max": steps,
        "current": current,
        "label": STEP_LABELS.get(run.step_label, "") if run.status == AnalyticsRun.Status.RUNNING else "",
    }


def risk_rows(actor: Actor, limit: int, threshold: int) -> list[CustomerAnalytics]:
    """The actor's customers with the highest churn risk, each with its main reason. One query."""
    rows = list(
        selectors.analytics_visible_to(actor)
        .filter(churn_risk__isnull=False)
        .order_by("-churn_risk", "-action_value", "customer_id")[:limit]
    )
    for row in rows:
        row.top_reason = top_reason(row)
        row.risk_level = charts.risk_level(row.churn_risk, threshold)
    return rows


# --- Dashboard ---------------------------------------------------------------------------------------


class DashboardView(ActorRequiredMixin, View):
    """`/analytics/`: the latest run's figures. Portfolio roles see the headline figures, charts
    and breakdowns; everyone sees where to act and the churn-risk list of the customers they may
    see. A recompute in progress (or the one just asked for, `?run=<id>`) shows its progress."""

    required_action = "analytics.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = self.actor
        organization = actor.organization
        portfolio = actor.can("analytics.portfolio")
        policy = selectors.analytics_policy()
        run = selectors.latest_run()
        progress_run = self._progress_run(request)
        where = selectors.where_to_act(actor, limit=WHERE_TO_ACT)
        for row in where:
            row.reasons = selectors.action_reasons(row)
            row.top_reason = top_reason(row)
            row.risk_level = charts.risk_level(row.churn_risk, policy.churn_threshold)
        context: dict[str, Any] = {
            "run": run,
            "policy": policy,
            "portfolio": portfolio,
            "can_run": actor.can("analytics.run"),
            "can_policy": actor.can("analytics.policy"),
            "progress": progress_context(progress_run, portfolio=portfolio) if progress_run else None,
            "currency": organization.base_currency,
            "where": where,
            "risky": risk_rows(actor, RISK_LIST, policy.churn_threshold),
        }
        if run is not None and portfolio:
            context.update(portfolio_context(run, policy, organization.base_currency))
        return render(request, "analytics/dashboard.html", context)

    def _progress_run(self, request: HttpRequest) -> AnalyticsRun | None:
        """The run named by `?run=`, else the latest one if it is not done (running or failed)."""
        named = request.GET.get("run", "")
        if named.isdigit():
            return AnalyticsRun.objects.filter(pk=int(named)).first()
        latest = selectors.latest_run(done_only=False)
        if latest is not None and latest.status != AnalyticsRun.Status.DONE:
            return latest
        return None


# --- Recompute ---------------------------------------------------------------------------------------


class RunRequestView(ActorRequiredMixin, View):
    """POST `/analytics/runs/`: recompute today's figures in the background, then back to the
    dashboard, which shows the run's progress. A run already under way is not started twice."""

    required_action = "analytics.run"

    def post(self, request: HttpRequest) -> HttpResponse:
        organization = self.actor.organization
        run, should_start = run_request(actor=self.actor, run_date=organization.local_today())
        if should_start:
            run_date = run.date.isoformat()
            transaction.on_commit(lambda: recompute.delay(organization_id=organization.pk, run_date=run_date))
            messages.success(request, _("Recompute started."))
        else:
            messages.info(request, _("A recompute is already under way."))
        return redirect(f"{reverse('analytics:dashboard')}?run={run.pk}")


class RunProgressView(ActorRequiredMixin, View):
    """`/analytics/runs/<id>/progress/`: the htmx fragment the dashboard polls every second until
    the run is done or failed."""

    required_action = "analytics.view"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = AnalyticsRun.objects.filter(pk=pk).first()
        if run is None:
            raise Http404
        return render(
            request,
            "analytics/partials/run_progress.html",
            {"progress": progress_context(run, portfolio=self.actor.can("analytics.portfolio"))},
        )


# --- Customer list and exports -------------------------------------------------------------------------


def filtered_rows(
    actor: Actor, filters: dict[str, Any], policy: AnalyticsPolicy
) -> QuerySet[CustomerAnalytics]:
    """The actor's customers' figures, filtered and ordered as the list and its exports show them."""
    rows = selectors.analytics_visible_to(actor)
    if filters.get("segment"):
        rows = rows.filter(segment=filters["segment"])
    if filters.get("abc"):
        field = "abc_revenue" if policy.abc_basis == "revenue" else "abc_cash"
        rows = rows.filter(**{field: filters["abc"]})
    if filters.get("stage"):
        rows = rows.filter(lifecycle_stage=filters["stage"])
    if filters.get("risk_min") is not None:
        rows = rows.filter(churn_risk__gte=filters["risk_min"])
    owner = filters.get("owner")
    if owner is not None:
        rows = (
            rows.filter(customer__owner__isnull=True) if owner == 0 else rows.filter(customer__owner_id=owner)
        )
    ordering = [F(name[1:]).desc(nulls_last=True) for name in SORTS[filters["sort"]]]
    return rows.order_by(*ordering, "customer__name", "customer_id")


class CustomerListView(ActorRequiredMixin, View):
    """`/analytics/customers/`: every visible customer's figures, filtered and sorted, 25 a page;
    `?export=csv` or `?export=xlsx` downloads the same filtered list, all pages."""

    required_action = "analytics.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = self.actor
        portfolio = actor.can("analytics.portfolio")
        policy = selectors.analytics_policy()
        form = CustomerFilterForm(request.GET or None, portfolio=portfolio)
        filters = form.filters() if request.GET else {"sort": "risk"}
        rows = filtered_rows(actor, filters, policy)
        export = request.GET.get("export")
        if export in exports.FORMATS:
            return exports.customers_export(rows, export, today=actor.organization.local_today())
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        for row in page:
            row.risk_level = charts.risk_level(row.churn_risk, policy.churn_threshold)
            row.abc = row.abc_revenue if policy.abc_basis == "revenue" else row.abc_cash
        query = request.GET.copy()
        query.pop("page", None)
        query.pop("export", None)
        context = {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "portfolio": portfolio,
            "can_policy": actor.can("analytics.policy"),
            "basis": policy.abc_basis,
            "threshold": policy.churn_threshold,
            "currency": actor.organization.base_currency,
            "stages": dict(LifecycleStage.choices),
        }
        if request.htmx:  # type: ignore[attr-defined]
            return render(request, "analytics/partials/customer_rows.html", context)
        return render(request, "analytics/customers.html", context)


# --- Settings ----------------------------------------------------------------------------------------


class SettingsView(ActorRequiredMixin, View):
    """`/analytics/settings/`: the analytics policy. It takes effect at the next recompute."""

    required_action = "analytics.policy"

    def _render(self, form: PolicyForm, status: int = 200) -> HttpResponse:
        return render(self.request, "analytics/settings.html", {"form": form}, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(PolicyForm(initial=PolicyForm.initial_for(selectors.analytics_policy())))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PolicyForm(request.POST)
        if not form.is_valid():
            return self._render(form, status=400)
        try:
            services.policy_update(actor=self.actor, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self._render(form, status=400)
        messages.success(request, _("Analytics settings saved. The next recompute uses them."))
        return redirect("analytics:settings")
