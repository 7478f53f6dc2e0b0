"""Browser pages of analytics, under /analytics/ (namespace `analytics`)."""

from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("customers/", views.CustomerListView.as_view(), name="customers"),
    path("runs/", views.RunRequestView.as_view(), name="run-request"),
    path("runs/<id:pk>/progress/", views.RunProgressView.as_view(), name="run-progress"),
    path("settings/", views.SettingsView.as_view(), name="settings"),
]
