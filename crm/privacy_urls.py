"""Browser URLs of personal information rights, included by crm/urls.py."""

from django.urls import path

from crm import privacy_views as views

urlpatterns = [
    path("customers/<id:pk>/privacy/", views.CustomerPrivacyView.as_view(), name="customer-privacy"),
    path(
        "customers/<id:pk>/privacy/export/", views.PrivacyExportView.as_view(), name="customer-privacy-export"
    ),
    path("customers/<id:pk>/privacy/erase/", views.PrivacyEraseView.as_view(), name="customer-privacy-erase"),
    path(
        "customers/<id:pk>/contacts/<id:contact_id>/privacy/",
        views.ContactPrivacyView.as_view(),
        name="contact-privacy",
    ),
    path(
        "customers/<id:pk>/contacts/<id:contact_id>/privacy/export/",
        views.PrivacyExportView.as_view(),
        name="contact-privacy-export",
    ),
    path(
        "customers/<id:pk>/contacts/<id:contact_id>/privacy/erase/",
        views.PrivacyEraseView.as_view(),
        name="contact-privacy-erase",
    ),
    path("privacy/", views.RegisterView.as_view(), name="privacy-register"),
    path("privacy/activities.csv", views.RegisterCsvView.as_view(), name="privacy-register-csv"),
    path("privacy/activities/new/", views.ActivityFormView.as_view(), name="privacy-activity-create"),
    path("privacy/activities/<id:pk>/edit/", views.ActivityFormView.as_view(), name="privacy-activity-edit"),
    path(
        "privacy/activities/<id:pk>/delete/",
        views.ActivityDeleteView.as_view(),
        name="privacy-activity-delete",
    ),
    path("privacy/retention/", views.RetentionPolicyView.as_view(), name="privacy-retention"),
    path("privacy/erasures/<id:pk>/", views.ErasureDetailView.as_view(), name="erasure-detail"),
]
