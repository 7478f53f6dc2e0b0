"""Browser routes of the loyalty part, included by experience/urls.py (app_name "experience")."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
