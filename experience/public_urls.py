"""Routes that need no login: the survey link a customer's contact opens from an email."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "survey-public"

urlpatterns: list[URLPattern] = []
