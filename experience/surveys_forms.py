"""Forms of the survey and feedback pages, and of the public answer page. They parse input only:
the services in experience/surveys.py and experience/feedback.py validate the business rules, and
their ValidationErrors come back onto these forms' fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.models import LifecycleStage
from experience.models import FeedbackItem, ImprovementAction, Survey, SurveyQuestion
from experience.surveys import localized
from finance.bulk import error_detail
from finance.models import Language, Membership, User

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
CUSTOM_QUESTIONS = 3
CLASSES = [("", "—")] + [(c, c) for c in "ABCDE"]


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    for name, errors in error_detail(exc).items():
        form.add_error(name if name in form.fields else None, errors)


def _language_key(code: str) -> str:
    return code.replace("-", "_")


def members() -> Any:
    return User.objects.filter(pk__in=Membership.objects.values("user_id")).order_by("first_name", "email")


# --- The public answer ----------------------------------------


class SurveyAnswerForm(forms.Form):
    """The main score, a comment, and the survey's custom questions (fields "q<id>")."""

    score = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label=_("Your score"))
    comment = forms.CharField(
        label=_("Anything you would like to tell us? (optional)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args: Any, survey: Survey, language: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        low, high = survey.scale
        self.fields["score"].choices = [(n, str(n)) for n in range(low, high + 1)]
        self.fields["score"].error_messages["required"] = _("Please choose a score.")
        self.custom: list[str] = []
        for question in survey.questions.all():
            name = f"q{question.pk}"
            label = localized(question.text, language)
            if question.kind == SurveyQuestion.Kind.TEXT:
                field: forms.Field = forms.CharField(
                    label=label,
                    required=question.required,
                    max_length=2000,
                    widget=forms.Textarea(attrs={"rows": 2}),
                )
            elif question.kind == SurveyQuestion.Kind.RATING:
                field = forms.TypedChoiceField(
                    label=label,
                    required=question.required,
                    coerce=int,
                    choices=[(n, str(n)) for n in range(1, 6)],
                    widget=forms.RadioSelect,
                )
            else:
                field = forms.TypedChoiceField(
                    label=label,
                    required=question.required,
                    coerce=int,
                    choices=[(i, localized(c, language)) for i, c in enumerate(question.choices)],
                    widget=forms.RadioSelect,
                )
            self.fields[name] = field
            self.custom.append(name)

    def custom_fields(self) -> list[Any]:
        return [self[name] for name in self.custom]

    def answers(self) -> dict[str, Any]:
        return {name[1:]: self.cleaned_data.get(name) for name in self.custom}


# --- Surveys ----------------------------------------


class SurveyForm(forms.Form):
    """A survey with its main question and introduction per language and up to three custom questions."""

    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=Survey.Kind.choices)
    trigger = forms.ChoiceField(label=_("Sent"), choices=Survey.Trigger.choices)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    expiry_days = forms.IntegerField(label=_("Link valid for (days)"), min_value=1, max_value=365, initial=30)
    quiet_days = forms.IntegerField(
        label=_("At most one invitation per contact every (days)"), min_value=0, max_value=365, initial=30
    )

    def __init__(self, *args: Any, survey: Survey | None = None, **kwargs: Any) -> None:
        if survey is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_of(survey)
        super().__init__(*args, **kwargs)
        for code, name in Language.choices:
            key = _language_key(code)
            self.fields[f"question_{key}"] = forms.CharField(
                label=_("Question (%(language)s)") % {"language": name},
                required=False,
                max_length=1000,
                help_text=_("Empty: Kehu's standard wording."),
            )
            self.fields[f"intro_{key}"] = forms.CharField(
                label=_("Introduction (%(language)s)") % {"language": name},
                required=False,
                max_length=1000,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
        for n in range(1, CUSTOM_QUESTIONS + 1):
            self.fields[f"q{n}_kind"] = forms.ChoiceField(
                label=_("Question %(n)s: kind") % {"n": n},
                choices=[("", "—"), *SurveyQuestion.Kind.choices],
                required=False,
            )
            for code, name in Language.choices:
                self.fields[f"q{n}_text_{_language_key(code)}"] = forms.CharField(
                    label=_("Question %(n)s (%(language)s)") % {"n": n, "language": name},
                    required=False,
                    max_length=1000,
                )
            self.fields[f"q{n}_choices"] = forms.CharField(
                label=_("Question %(n)s: answers to choose from") % {"n": n},
                required=False,
                max_length=1000,
                help_text=_("For “one of several answers”: separated by “;”."),
            )
            self.fields[f"q{n}_required"] = forms.BooleanField(
                label=_("Question %(n)s: required") % {"n": n}, required=False
            )

    @staticmethod
    def initial_of(survey: Survey) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": survey.name,
            "kind": survey.kind,
            "trigger": survey.trigger,
            "is_active": survey.is_active,
            "expiry_days": survey.expiry_days,
            "quiet_days": survey.quiet_days,
        }
        for code, _name in Language.choices:
            key = _language_key(code)
            initial[f"question_{key}"] = (survey.question or {}).get(code, "")
            initial[f"intro_{key}"] = (survey.intro or {}).get(code, "")
        for n, question in enumerate(survey.questions.all(), start=1):
            if n > CUSTOM_QUESTIONS:
                break
            initial[f"q{n}_kind"] = question.kind
            initial[f"q{n}_required"] = question.required
            initial[f"q{n}_choices"] = "; ".join(localized(c, "en") for c in question.choices)
            for code, _name in Language.choices:
                initial[f"q{n}_text_{_language_key(code)}"] = (question.text or {}).get(code, "")
        return initial

    def main_fields(self) -> list[Any]:
        names = ["name", "kind", "trigger", "expiry_days", "quiet_days", "is_active"]
        return [self[name] for name in names]

    def text_fields(self) -> list[Any]:
        return [self[name] for name in self.fields if name.startswith(("question_", "intro_"))]

    def question_groups(self) -> list[list[Any]]:
        return [
            [self[name] for name in self.fields if name.startswith(f"q{n}_")]
            for n in range(1, CUSTOM_QUESTIONS + 1)
        ]

    def service_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        values: dict[str, Any] = {
            name: data[name] for name in ("name", "kind", "trigger", "is_active", "expiry_days", "quiet_days")
        }
        values["question"] = {code: data[f"question_{_language_key(code)}"] for code in Language.values}
        values["intro"] = {code: data[f"intro_{_language_key(code)}"] for code in Language.values}
        questions = []
        for n in range(1, CUSTOM_QUESTIONS + 1):
            kind = data.get(f"q{n}_kind")
            if not kind:
                continue
            choices = [c.strip() for c in (data.get(f"q{n}_choices") or "").split(";") if c.strip()]
            questions.append(
                {
                    "kind": kind,
                    "text": {code: data[f"q{n}_text_{_language_key(code)}"] for code in Language.values},
                    "choices": [{"en": c, "zh-hans": c} for c in choices],
                    "required": data.get(f"q{n}_required", False),
                }
            )
        values["questions"] = questions
        return values


class SegmentForm(forms.Form):
    """Whom to invite by hand: every active customer matching all the criteria given."""

    abc_class = forms.ChoiceField(
        label=_("ABC class"), choices=[("", "—"), ("A", "A"), ("B", "B"), ("C", "C")], required=False
    )
    lifecycle_stage = forms.ChoiceField(
        label=_("Lifecycle stage"), choices=[("", "—"), *LifecycleStage.choices], required=False
    )
    customer_group = forms.CharField(label=_("Customer group"), required=False, max_length=100)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    risk_class = forms.ChoiceField(label=_("Risk class"), choices=CLASSES, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = members()


# --- Feedback ----------------------------------------


class FeedbackForm(forms.Form):
    summary = forms.CharField(label=_("Summary"), max_length=300)
    detail = forms.CharField(
        label=_("Detail"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )
    category = forms.ChoiceField(label=_("Category"), choices=FeedbackItem.Category.choices)
    sentiment = forms.ChoiceField(label=_("Sentiment"), choices=FeedbackItem.Sentiment.choices)


class FeedbackStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=FeedbackItem.Status.choices)


class FeedbackFilterForm(forms.Form):
    category = forms.ChoiceField(
        label=_("Category"), choices=[("", _("All")), *FeedbackItem.Category.choices], required=False
    )
    sentiment = forms.ChoiceField(
        label=_("Sentiment"), choices=[("", _("All")), *FeedbackItem.Sentiment.choices], required=False
    )


class ActionForm(forms.Form):
    title = forms.CharField(label=_("Action"), max_length=300)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    due_date = forms.DateField(label=_("Due date"), widget=DATE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = members()


class ActionUpdateForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=ImprovementAction.Status.choices)
    outcome = forms.CharField(
        label=_("Outcome"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ResponseFilterForm(forms.Form):
    survey = forms.ModelChoiceField(label=_("Survey"), queryset=Survey.objects.none(), required=False)
    category = forms.ChoiceField(label=_("Category"), choices=[("", _("All"))], required=False)
    since = forms.DateField(label=_("From"), required=False, widget=DATE)
    until = forms.DateField(label=_("To"), required=False, widget=DATE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from experience.models import SurveyResponse

        super().__init__(*args, **kwargs)
        self.fields["survey"].queryset = Survey.objects.all()
        self.fields["category"].choices = [("", _("All")), *SurveyResponse.Category.choices]
