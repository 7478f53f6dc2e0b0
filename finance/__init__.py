"""Kehu's project package and the platform every app shares."""

from finance.celery import app as celery_app

__all__ = ["celery_app"]
