"""Routes that need no login: the survey link a customer's contact opens from an email."""

from __future__ import annotations

from django.urls import path

from experience import public_views

app_name = "survey-public"

urlpatterns = [
    path("<str:token>/", public_views.SurveyAnswerView.as_view(), name="answer"),
]
