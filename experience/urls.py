"""Browser routes of the experience app, one list per part."""

from __future__ import annotations

from experience import education_urls, loyalty_urls, service_urls, surveys_urls

app_name = "experience"

urlpatterns = [
    *surveys_urls.urlpatterns,
    *service_urls.urlpatterns,
    *loyalty_urls.urlpatterns,
    *education_urls.urlpatterns,
]
