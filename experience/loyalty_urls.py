"""Browser routes of the loyalty part, included by experience/urls.py (app_name "experience")."""

from __future__ import annotations

from django.urls import path

from experience import loyalty_views as views

urlpatterns = [
    path("loyalty/", views.HomeView.as_view(), name="loyalty-home"),
    path("loyalty/settings/", views.SettingsView.as_view(), name="loyalty-settings"),
    path("loyalty/tiers/<id:pk>/", views.TierEditView.as_view(), name="loyalty-tier"),
    path("loyalty/tiers/<id:pk>/delete/", views.TierDeleteView.as_view(), name="loyalty-tier-delete"),
    path("loyalty/customers/<id:pk>/", views.StatementView.as_view(), name="loyalty-statement"),
    path("loyalty/customers/<id:pk>/redeem/", views.RedeemView.as_view(), name="loyalty-redeem"),
    path("loyalty/customers/<id:pk>/adjust/", views.AdjustView.as_view(), name="loyalty-adjust"),
]
