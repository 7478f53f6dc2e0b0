"""Browser routes of the surveys part, included by experience/urls.py (app_name "experience")."""

from __future__ import annotations

from django.urls import path

from experience import surveys_views as views

urlpatterns = [
    path("surveys/", views.SurveysHomeView.as_view(), name="surveys-home"),
    path("surveys/new/", views.SurveyFormView.as_view(), name="survey-create"),
    path("surveys/responses/", views.ResponsesView.as_view(), name="survey-responses"),
    path("surveys/feedback/", views.FeedbackBoardView.as_view(), name="survey-feedback"),
    path("surveys/feedback/new/", views.FeedbackCreateView.as_view(), name="survey-feedback-create"),
    path("surveys/feedback/<id:pk>/", views.FeedbackDetailView.as_view(), name="survey-feedback-detail"),
    path("surveys/actions/<id:pk>/", views.ActionUpdateView.as_view(), name="survey-action-update"),
    path("surveys/<id:pk>/", views.SurveyDetailView.as_view(), name="survey-detail"),
    path("surveys/<id:pk>/edit/", views.SurveyFormView.as_view(), name="survey-edit"),
    path("surveys/<id:pk>/send/", views.SurveySendView.as_view(), name="survey-send"),
]
