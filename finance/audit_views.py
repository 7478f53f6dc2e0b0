"""The audit chain check on demand, for auditors: the same verification the nightly job runs."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views import View

from finance import auditchain
from finance.web import ActorRequiredMixin


class AuditVerifyView(ActorRequiredMixin, View):
    required_action = "audit.view"

    def post(self, request: HttpRequest) -> HttpResponse:
        verification = auditchain.verify_and_record(self.actor.organization, source="manual")
        if verification.intact:
            messages.success(
                request,
                _("The audit log is intact: %(count)s events checked.")
                % {"count": verification.events_checked},
            )
        else:
            messages.error(
                request,
                _("The audit log has %(count)s break(s); the owners and administrators were emailed.")
                % {"count": len(verification.breaks)},
            )
        return redirect("audit-log")
