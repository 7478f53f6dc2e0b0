"""API routes of personal information rights: (prefix, viewset, basename), registered by finance/urls.py."""

from __future__ import annotations

from typing import Any

from crm.api import privacy

ROUTES: list[tuple[str, Any, str]] = [
    ("customers", privacy.CustomerPrivacyViewSet, "customer-privacy"),
    ("contacts", privacy.ContactPrivacyViewSet, "contact-privacy"),
    ("processing-activities", privacy.ProcessingActivityViewSet, "processing-activity"),
    ("retention-policies", privacy.RetentionPolicyViewSet, "retention-policy"),
]
