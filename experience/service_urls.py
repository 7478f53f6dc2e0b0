"""Browser routes of the service part, included by experience/urls.py (app_name "experience")."""

from __future__ import annotations

from django.urls import path

from experience import service_views as views

urlpatterns = [
    path("service/", views.ServiceHomeView.as_view(), name="service-home"),
    path("service/new/", views.ServiceNewView.as_view(), name="service-new"),
    path("service/quality/", views.ServiceQualityView.as_view(), name="service-quality"),
    path("service/settings/", views.ServiceSettingsView.as_view(), name="service-settings"),
    path("service/<id:pk>/", views.ServiceDetailView.as_view(), name="service-detail"),
]
