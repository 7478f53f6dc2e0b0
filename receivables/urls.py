"""Browser pages of receivables, under /receivables/ (namespace `receivables`)."""

from django.urls import path

from receivables import allocation_views, collection_views, dunning_views, views

app_name = "receivables"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("aging/", views.AgingReportView.as_view(), name="aging"),
    path("aging/customers/<id:pk>/", views.AgingCustomerView.as_view(), name="aging-customer"),
    path("invoices/", views.InvoiceListView.as_view(), name="invoices"),
    path("invoices/<id:pk>/", views.InvoiceDetailView.as_view(), name="invoice-detail"),
    path("invoices/<id:pk>/write-off/", views.InvoiceWriteOffView.as_view(), name="invoice-write-off"),
    path("invoices/<id:pk>/void/", views.InvoiceVoidView.as_view(), name="invoice-void"),
    path("write-offs/<id:pk>/decide/", views.WriteOffDecideView.as_view(), name="write-off-decide"),
    path("payments/", views.PaymentListView.as_view(), name="payments"),
    path("payments/new/", views.PaymentCreateView.as_view(), name="payment-create"),
    path("payments/new/allocations/", views.PaymentAllocationsView.as_view(), name="payment-allocations"),
    path("customers/<id:pk>/apply/", allocation_views.ApplyCreditView.as_view(), name="apply-credit"),
    # Collections: the worklist and its row actions, the promises and disputes boards.
    path("dunning/", dunning_views.DunningOverviewView.as_view(), name="dunning"),
    path("dunning/preview/", dunning_views.DunningPreviewView.as_view(), name="dunning-preview"),
    path("dunning/runs/<str:run_date>/", dunning_views.DunningRunView.as_view(), name="dunning-run"),
    path("dunning/policies/new/", dunning_views.PolicyEditView.as_view(), name="dunning-policy-create"),
    path("dunning/policies/<id:pk>/", dunning_views.PolicyEditView.as_view(), name="dunning-policy"),
    path(
        "dunning/policies/recommended/",
        dunning_views.PolicyRecommendedView.as_view(),
        name="dunning-policy-recommended",
    ),
    path(
        "dunning/template-preview/",
        dunning_views.TemplatePreviewView.as_view(),
        name="dunning-template-preview",
    ),
    path("collections/", collection_views.WorklistView.as_view(), name="worklist"),
    path("collections/assign/", collection_views.AssignView.as_view(), name="worklist-assign"),
    path("collections/<id:pk>/call/", collection_views.CallView.as_view(), name="worklist-call"),
    path("collections/<id:pk>/promise/", collection_views.PromiseView.as_view(), name="worklist-promise"),
    path("collections/<id:pk>/dispute/", collection_views.DisputeOpenView.as_view(), name="worklist-dispute"),
    path(
        "collections/<id:pk>/statement/", collection_views.StatementView.as_view(), name="worklist-statement"
    ),
    path("collections/<id:pk>/snooze/", collection_views.SnoozeView.as_view(), name="worklist-snooze"),
    path("collections/<id:pk>/profile/", collection_views.ProfileView.as_view(), name="collection-profile"),
    path("promises/", collection_views.PromiseBoardView.as_view(), name="promises"),
    path("promises/<id:pk>/cancel/", collection_views.PromiseCancelView.as_view(), name="promise-cancel"),
    path("disputes/", collection_views.DisputeBoardView.as_view(), name="disputes"),
    path("disputes/<id:pk>/review/", collection_views.DisputeReviewView.as_view(), name="dispute-review"),
    path("disputes/<id:pk>/resolve/", collection_views.DisputeResolveView.as_view(), name="dispute-resolve"),
    path("disputes/<id:pk>/reject/", collection_views.DisputeRejectView.as_view(), name="dispute-reject"),
]
