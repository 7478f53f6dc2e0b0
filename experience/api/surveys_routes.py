"""API routes of the surveys part: (prefix, viewset, basename), registered by finance/urls.py."""

from __future__ import annotations

from typing import Any

from experience.api import surveys

ROUTES: list[tuple[str, Any, str]] = [
    ("experience/surveys", surveys.SurveyViewSet, "experience-survey"),
    ("experience/survey-invitations", surveys.InvitationViewSet, "experience-survey-invitation"),
    ("experience/survey-responses", surveys.ResponseViewSet, "experience-survey-response"),
    ("experience/survey-results", surveys.ResultsViewSet, "experience-survey-results"),
    ("experience/feedback", surveys.FeedbackViewSet, "experience-feedback"),
    ("experience/improvement-actions", surveys.ActionViewSet, "experience-improvement-action"),
]
