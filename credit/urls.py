"""Browser pages of credit, under /credit/ (namespace `credit`)."""

from django.urls import path

from credit import views

app_name = "credit"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("approvals/", views.ApprovalsView.as_view(), name="approvals"),
    path("approvals/<id:pk>/approve/", views.ApproveView.as_view(), name="approve"),
    path("approvals/<id:pk>/reject/", views.RejectView.as_view(), name="reject"),
    path("approvals/<id:pk>/cancel/", views.CancelView.as_view(), name="cancel"),
    path("customers/<id:pk>/limit-request/", views.LimitRequestView.as_view(), name="limit-request"),
    path("customers/<id:pk>/statements/", views.StatementsView.as_view(), name="statements"),
    path(
        "customers/<id:pk>/statements/<id:statement_pk>/",
        views.StatementsView.as_view(),
        name="statement-edit",
    ),
    path(
        "customers/<id:pk>/statements/<id:statement_pk>/delete/",
        views.StatementDeleteView.as_view(),
        name="statement-delete",
    ),
    path("customers/<id:pk>/hold/", views.HoldPlaceView.as_view(), name="hold-place"),
    path("holds/<id:pk>/release/", views.HoldReleaseView.as_view(), name="hold-release"),
    path("reviews/<id:pk>/", views.ReviewView.as_view(), name="review"),
    path("settings/", views.SettingsView.as_view(), name="settings"),
]
