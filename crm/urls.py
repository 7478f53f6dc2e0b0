from django.urls import include, path

from crm import views

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("customers/", views.CustomerListView.as_view(), name="customers"),
    path("customers/new/", views.CustomerCreateView.as_view(), name="customer-create"),
    path("customers/<id:pk>/", views.CustomerDetailView.as_view(), name="customer-detail"),
    path("customers/<id:pk>/edit/", views.CustomerEditView.as_view(), name="customer-edit"),
    path("customers/<id:pk>/archive/", views.CustomerArchiveView.as_view(), name="customer-archive"),
    path("customers/<id:pk>/audit/", views.CustomerAuditView.as_view(), name="customer-audit"),
    path("customers/<id:pk>/sensitive/", views.SensitiveRevealView.as_view(), name="sensitive-reveal"),
    path("customers/<id:pk>/contacts/new/", views.ContactFormView.as_view(), name="contact-create"),
    path(
        "customers/<id:pk>/contacts/<id:contact_id>/edit/",
        views.ContactFormView.as_view(),
        name="contact-edit",
    ),
    path("customers/<id:pk>/log/", views.InteractionLogView.as_view(), name="interaction-log"),
    path("customers/<id:pk>/follow-ups/new/", views.FollowUpCreateView.as_view(), name="follow-up-create"),
    path("follow-ups/", views.FollowUpListView.as_view(), name="follow-ups"),
    path("follow-ups/<id:pk>/done/", views.FollowUpDoneView.as_view(), name="follow-up-done"),
    path("", include("crm.privacy_urls")),
]
