"""Nightly scoring from the ledger, rescoring on events, and periodic reviews."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from credit import scoring, services
from credit.models import CreditProfile, CreditReview, ScoreRecord
from crm.models import Customer, FollowUp
from finance import jobs, tenancy
from finance.actors import Actor
from tests.credit.conftest import customer, invoice

DAY = datetime.timedelta(days=1)
FIGURES = {
    "fiscal_year": 2025,
    "period_end": datetime.date(2025, 12, 31),
    "currency": "CNY",
    "current_assets": Decimal("500000"),
    "inventory": Decimal("100000"),
    "total_assets": Decimal("1000000"),
    "current_liabilities": Decimal("200000"),
    "total_liabilities": Decimal("400000"),
    "equity": Decimal("600000"),
    "retained_earnings": Decimal("200000"),
    "revenue": Decimal("2000000"),
    "ebit": Decimal("100000"),
    "interest_expense": Decimal("20000"),
    "net_income": Decimal("70000"),
}


def prompt_and_late_payers(org):
    today = org.local_today()
    prompt, late = customer(org, name="Prompt Ltd"), customer(org, name="Late Ltd")
    for n in range(6):
        due = today - (30 + 40 * n) * DAY
        invoice(org, prompt, f"P-{n}", due, total="10000.00", paid_on=due - 2 * DAY)
        invoice(org, late, f"L-{n}", due, total="10000.00", paid_on=due + 45 * DAY if n else None)
    return prompt, late


def test_the_nightly_job_scores_classes_and_suggests_limits_from_payment_behaviour(org):
    prompt, late = prompt_and_late_payers(org)
    today = org.local_today()
    run = jobs.job_run(organization=org, job_name="credit_scores", run_date=today)
    assert run.status == "done", run.error
    with tenancy.tenant(org):
        good, bad = CreditProfile.objects.get(customer=prompt), CreditProfile.objects.get(customer=late)
        assert good.score > bad.score
        assert good.risk_class < bad.risk_class  # "A" is best
        assert Customer.objects.get(pk=prompt.pk).risk_class == good.risk_class  # written through crm
        factors = {f["key"]: f for f in good.factors}
        assert Decimal(factors["avg_days_late"]["value"]) == Decimal("-2.0")
        assert factors["late_share"]["value"] == "0.0"
        late_factors = {f["key"]: f for f in bad.factors}
        assert Decimal(late_factors["worst_delay"]["value"]) >= 45
        assert good.suggested_limit > bad.suggested_limit
        assert good.next_review_on is not None
        assert ScoreRecord.objects.filter(computed_on=today).count() == 2
    # Rerunning the day replaces the records rather than adding to them.
    jobs.job_run(organization=org, job_name="credit_scores", run_date=today, force=True)
    with tenancy.tenant(org):
        assert ScoreRecord.objects.filter(computed_on=today).count() == 2


def test_a_new_statement_rescores_the_customer(org, members, django_capture_on_commit_callbacks):
    prompt, _late = prompt_and_late_payers(org)
    manager = Actor(organization=org, role="finance_manager", user=members["finance_manager"])
    with tenancy.tenant(org):
        scoring.customer_refresh(actor=manager, customer=prompt)
        before = CreditProfile.objects.get(customer=prompt).suggested_limit
        with django_capture_on_commit_callbacks(execute=True):
            services.statement_create(actor=manager, customer=prompt, **FIGURES)
        profile = CreditProfile.objects.get(customer=prompt)
    z = next(f for f in profile.factors if f["key"] == "z_score")
    assert z["value"] == "4.87" and z["points"] == 100
    # 10 % of 600,000 net worth caps nothing here; the suggestion stays at least as high.
    assert profile.suggested_limit >= before


def test_statements_refuse_bad_figures_and_duplicates(org, members):
    buyer = customer(org)
    clerk = Actor(organization=org, role="ar_clerk", user=members["ar_clerk"])
    with tenancy.tenant(org):
        services.statement_create(actor=clerk, customer=buyer, **FIGURES)
        with pytest.raises(ValidationError) as error:
            services.statement_create(actor=clerk, customer=buyer, **FIGURES)
        assert "fiscal_year" in error.value.message_dict
        bad = {**FIGURES, "fiscal_year": 2024, "total_assets": Decimal("0"), "inventory": Decimal("900000")}
        with pytest.raises(ValidationError) as error:
            services.statement_create(actor=clerk, customer=buyer, **bad)
        assert {"total_assets", "inventory"} <= set(error.value.message_dict)
        with pytest.raises(PermissionDenied):
            services.statement_create(
                actor=Actor(organization=org, role="sales_rep", user=members["sales_rep"]),
                customer=buyer,
                **{**FIGURES, "fiscal_year": 2023},
            )
        assert buyer.financial_statements.count() == 1


def test_events_from_receivables_rescore_the_customer(org, django_capture_on_commit_callbacks):
    buyer = customer(org)
    today = org.local_today()
    with django_capture_on_commit_callbacks(execute=True):
        invoice(org, buyer, "E-1", today - 40 * DAY, total="500.00", paid_on=today - DAY)
    with tenancy.tenant(org):
        profile = CreditProfile.objects.get(customer=buyer)
    assert profile.scored_at is not None
    assert next(f for f in profile.factors if f["key"] == "worst_delay")["value"] == "39"


def test_reviews_fall_due_by_class_once_and_the_decision_schedules_the_next(org, members):
    buyer = customer(org)
    today = org.local_today()
    with tenancy.tenant(org):
        profile = scoring.profile_ensure(buyer)
        profile.risk_class, profile.next_review_on = "E", today - DAY
        profile.save()
    first = jobs.job_run(organization=org, job_name="credit_reviews", run_date=today)
    assert first.result == {"due": 1, "created": 1}
    again = jobs.job_run(organization=org, job_name="credit_reviews", run_date=today, force=True)
    assert again.result["created"] == 0
    with tenancy.tenant(org):
        review = CreditReview.objects.get(customer=buyer)
        task = review.follow_up
        assert task.assignee == members["finance_manager"] and not task.done
        manager = Actor(organization=org, role="finance_manager", user=members["finance_manager"])
        with pytest.raises(ValidationError):
            services.review_complete(actor=manager, review=review, decision="change_limit", notes="More")
        services.review_complete(
            actor=manager,
            review=review,
            decision="change_limit",
            notes="Orders grew",
            requested_limit=Decimal(8000),
        )
        profile = CreditProfile.objects.get(customer=buyer)
        assert profile.last_review_on == today
        assert profile.next_review_on == scoring.add_months(today, 1)  # class E: monthly
        assert FollowUp.objects.get(pk=task.pk).done
        assert profile.credit_limit is None  # the new limit waits for a second person's approval
        with pytest.raises(ValidationError, match="already completed"):
            services.review_complete(actor=manager, review=review, decision="keep", notes="again")


def test_add_months_clamps_to_the_end_of_the_month():
    assert scoring.add_months(datetime.date(2026, 1, 31), 1) == datetime.date(2026, 2, 28)
    assert scoring.add_months(datetime.date(2026, 11, 30), 3) == datetime.date(2027, 2, 28)
    assert scoring.add_months(datetime.date(2026, 5, 15), 12) == datetime.date(2027, 5, 15)
