"""The survey page a customer's contact opens from the email: no login, the invitation's language,
nothing about the organization beyond its name and the question. An unknown or malformed link is
a friendly 404, an expired one a 410; a link already used says so (and a second submit records
nothing)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from experience import surveys
from experience.models import SurveyInvitation
from experience.surveys_forms import SurveyAnswerForm
from finance import tenancy

TEMPLATE = "experience/public/answer.html"


def _unavailable(
    request: HttpRequest, reason: str, language: str | None = None, status: int | None = None
) -> HttpResponse:
    status = status or {"missing": 404, "expired": 410, "answered": 200}[reason]
    with translation.override(language or translation.get_language()):
        return render(request, "experience/public/unavailable.html", {"reason": reason}, status=status)


@method_decorator(never_cache, name="dispatch")
class SurveyAnswerView(View):
    """`/s/<token>/`: GET shows the question, POST records the one answer."""

    def dispatch(self, request: HttpRequest, token: str = "", **kwargs: Any) -> HttpResponse:
        invitation = surveys.invitation_for_token(token)
        if invitation is None:
            return _unavailable(request, "missing")
        with tenancy.tenant(invitation.organization), translation.override(invitation.language):
            request.LANGUAGE_CODE = invitation.language  # type: ignore[attr-defined]
            return super().dispatch(request, invitation=invitation)

    def get(self, request: HttpRequest, invitation: SurveyInvitation) -> HttpResponse:
        state = surveys.invitation_state(invitation)
        if state != "open":
            return _unavailable(request, state, invitation.language)
        return self._render(
            request, invitation, SurveyAnswerForm(survey=invitation.survey, language=invitation.language)
        )

    def post(self, request: HttpRequest, invitation: SurveyInvitation) -> HttpResponse:
        state = surveys.invitation_state(invitation)
        if state != "open":
            return _unavailable(
                request, state, invitation.language, status=409 if state == "answered" else None
            )
        form = SurveyAnswerForm(request.POST, survey=invitation.survey, language=invitation.language)
        if not form.is_valid():
            return self._render(request, invitation, form, status=400)
        try:
            surveys.response_submit(
                invitation=invitation,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
                answers=form.answers(),
            )
        except surveys.InvitationUnavailable as exc:  # answered meanwhile (a second submit)
            return _unavailable(
                request, exc.reason, invitation.language, status=409 if exc.reason == "answered" else None
            )
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
            return self._render(request, invitation, form, status=400)
        return render(
            request, "experience/public/thanks.html", {"organization": invitation.organization.name}
        )

    def _render(
        self, request: HttpRequest, invitation: SurveyInvitation, form: SurveyAnswerForm, status: int = 200
    ) -> HttpResponse:
        survey = invitation.survey
        organization = invitation.organization
        return render(
            request,
            TEMPLATE,
            {
                "form": form,
                "organization": organization.name,
                "question": surveys.question_for(survey, invitation.language, organization),
                "intro": surveys.localized(survey.intro, invitation.language),
                "kind": survey.kind,
            },
            status=status,
        )
