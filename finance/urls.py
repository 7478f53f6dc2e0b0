"""Kehu's URLs: the wiring that names every app (browser pages and the `/api/v1/` router)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from analytics.api import views as analytics_views
from credit.api import views as credit_views
from crm.api import privacy_routes
from crm.api.views import ContactViewSet, CustomerViewSet, FollowUpViewSet, InteractionViewSet
from experience.api import education_routes, loyalty_routes, service_routes, surveys_routes
from finance import audit_views, mfa_views, views
from finance.api.views import AuditEventViewSet, OrganizationViewSet, WebhookEndpointViewSet
from finance.converters import IdConverter
from receivables import import_views, statement_views
from receivables.api import collection_views as cv
from receivables.api import dunning_views
from receivables.api import views as rv

register_converter(IdConverter, "id")

router = DefaultRouter()
router.include_root_view = False
# No `.json` suffix routes: one URL per resource (custom actions take no `format` argument).
router.include_format_suffixes = False
router.register("organization", OrganizationViewSet, basename="organization")
router.register("customers", CustomerViewSet, basename="customer")
router.register("contacts", ContactViewSet, basename="contact")
router.register("interactions", InteractionViewSet, basename="interaction")
router.register("follow-ups", FollowUpViewSet, basename="follow-up")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
router.register("invoices", rv.InvoiceViewSet, basename="invoice")
router.register("credit-notes", rv.CreditNoteViewSet, basename="credit-note")
router.register("payments", rv.PaymentViewSet, basename="payment")
router.register("allocations", rv.AllocationViewSet, basename="allocation")
router.register("exchange-rates", rv.ExchangeRateViewSet, basename="exchange-rate")
router.register("dunning-policies", dunning_views.DunningPolicyViewSet, basename="dunning-policy")
router.register("reminders", dunning_views.ReminderViewSet, basename="reminder")
router.register("reports/aging", rv.AgingReportViewSet, basename="report-aging")
router.register("reports/kpis", rv.KpiReportViewSet, basename="report-kpis")
router.register("promises", cv.PromiseViewSet, basename="promise")
router.register("disputes", cv.DisputeViewSet, basename="dispute")
router.register("credit/check", credit_views.CreditCheckViewSet, basename="credit-check")
router.register("credit/profiles", credit_views.ProfileViewSet, basename="credit-profile")
router.register("credit/limit-requests", credit_views.LimitRequestViewSet, basename="credit-limit-request")
router.register("credit/statements", credit_views.StatementViewSet, basename="credit-statement")
router.register("credit/orders", credit_views.OrderViewSet, basename="credit-order")
for _routes in (privacy_routes, surveys_routes, service_routes, loyalty_routes, education_routes):
    for _prefix, _viewset, _basename in _routes.ROUTES:
        router.register(_prefix, _viewset, basename=_basename)
router.register(
    "analytics/customers", analytics_views.CustomerAnalyticsViewSet, basename="analytics-customer"
)
router.register("analytics/cohorts", analytics_views.CohortViewSet, basename="analytics-cohorts")
router.register("analytics/summary", analytics_views.SummaryViewSet, basename="analytics-summary")
router.register("analytics/runs", analytics_views.RunViewSet, basename="analytics-run")
router.register("analytics/churn-alerts", analytics_views.ChurnAlertViewSet, basename="analytics-churn-alert")

urlpatterns = [
    path(
        "api/v1/customers/<id:pk>/statement.pdf",
        statement_views.StatementPdfApiView.as_view({"get": "list"}),
        name="customer-statement-pdf",
    ),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/login/", mfa_views.LoginView.as_view(), name="login"),
    path("accounts/login/code/", mfa_views.LoginVerifyView.as_view(), name="login-verify"),
    path("accounts/login/enroll/", mfa_views.LoginEnrollView.as_view(), name="login-enroll"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        mfa_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("account/security/", mfa_views.SecurityView.as_view(), name="account-security"),
    path("account/security/enable/", mfa_views.EnableView.as_view(), name="account-mfa-enable"),
    path("account/security/disable/", mfa_views.DisableView.as_view(), name="account-mfa-disable"),
    path(
        "account/security/recovery-codes/",
        mfa_views.RegenerateCodesView.as_view(),
        name="account-recovery-regenerate",
    ),
    path(
        "account/security/recovery-codes/new/", mfa_views.recovery_codes_shown, name="account-recovery-codes"
    ),
    path("account/password/", mfa_views.PasswordChangeView.as_view(), name="account-password"),
    path("account/members/", mfa_views.MemberSecurityView.as_view(), name="account-members"),
    path(
        "account/members/<id:pk>/reset-mfa/",
        mfa_views.MemberMfaResetView.as_view(),
        name="account-member-mfa-reset",
    ),
    path("ops/admin/login/", mfa_views.admin_login),  # the admin signs in through the two steps too
    path("i18n/", include("django.conf.urls.i18n")),
    path("organization/switch/", views.switch_organization, name="switch-organization"),
    path("settings/api-keys/", views.ApiKeysView.as_view(), name="api-keys"),
    path("settings/api-keys/<id:pk>/revoke/", views.ApiKeyRevokeView.as_view(), name="api-key-revoke"),
    path("settings/api-keys/<id:pk>/rotate/", views.ApiKeyRotateView.as_view(), name="api-key-rotate"),
    path("audit/", views.AuditLogView.as_view(), name="audit-log"),
    path("audit/verify/", audit_views.AuditVerifyView.as_view(), name="audit-verify"),
    path("modules/<slug:module>/", views.ModulePlaceholderView.as_view(), name="module"),
    path("customers/<id:pk>/statement/", statement_views.StatementView.as_view(), name="customer-statement"),
    path("statements/<str:token>/", statement_views.statement_by_link, name="statement-link"),
    path("imports/", import_views.ImportUploadView.as_view(), name="imports"),
    path("imports/<id:pk>/", import_views.ImportDetailView.as_view(), name="import-detail"),
    path("imports/<id:pk>/progress/", import_views.ImportProgressView.as_view(), name="import-progress"),
    path("ops/admin/", admin.site.urls),
    path("receivables/", include("receivables.urls")),
    path("credit/", include("credit.urls")),
    path("experience/", include("experience.urls")),
    path("s/", include("experience.public_urls")),
    path("analytics/", include("analytics.urls")),
    path("", include("crm.urls")),
]
