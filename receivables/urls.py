"""Browser pages of receivables, under /receivables/ (namespace `receivables`)."""

from django.urls import path

from receivables import allocation_views, views

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
]
