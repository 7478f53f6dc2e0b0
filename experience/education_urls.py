"""Browser routes of the education part, included by experience/urls.py (app_name "experience"),
and the experience hub at /experience/."""

from __future__ import annotations

from django.urls import URLPattern, path

from experience import education_views as views
from experience.hub_views import HubView

urlpatterns: list[URLPattern] = [
    path("", HubView.as_view(), name="home"),
    path("education/", views.EducationHomeView.as_view(), name="education-home"),
    path("education/resources/new/", views.ResourceFormView.as_view(), name="education-resource-create"),
    path("education/resources/<id:pk>/", views.ResourceDetailView.as_view(), name="education-resource"),
    path(
        "education/resources/<id:pk>/edit/", views.ResourceFormView.as_view(), name="education-resource-edit"
    ),
    path(
        "education/resources/<id:pk>/delete/",
        views.ResourceDeleteView.as_view(),
        name="education-resource-delete",
    ),
    path(
        "education/resources/<id:pk>/invite/",
        views.SegmentInviteView.as_view(),
        name="education-invite-segment",
    ),
    path(
        "education/resources/<id:pk>/sessions/",
        views.SessionCreateView.as_view(),
        name="education-session-create",
    ),
    path("education/sessions/<id:pk>/edit/", views.SessionEditView.as_view(), name="education-session-edit"),
    path("education/attendances/<id:pk>/", views.AttendanceView.as_view(), name="education-attendance"),
    path(
        "education/customers/<id:pk>/invite/",
        views.CustomerInviteView.as_view(),
        name="education-customer-invite",
    ),
]
