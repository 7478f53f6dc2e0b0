"""Education pages under /experience/education/: the catalogue with its figures and coming
sessions, a resource with its sessions, attendance list and invite-by-segment form, the inline
(htmx) attendance update, and inviting one customer from the customer page.

Views parse input with a form and call one service of `experience.education`; a service's
ValidationError comes back as field errors with status 400 and nothing written. Objects named by
id are fetched inside the tenant and, for places, the actor's visible customers: another
organization's id, or another rep's customer, is a 404. An action the role may not take is a 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from crm.selectors import customer_for
from experience import education
from experience.education_forms import (
    AttendanceForm,
    CustomerInviteForm,
    ResourceForm,
    SegmentInviteForm,
    SessionForm,
    add_service_errors,
)
from experience.models import Attendance, Resource, Session
from finance.web import ActorRequiredMixin
from receivables.views import safe_next

ATTENDANCE_PAGE_SIZE = 50


def session_for(pk: int) -> Session:
    session = Session.objects.select_related("resource").filter(pk=pk).first()
    if session is None:
        raise Http404
    return session


class EducationHomeView(ActorRequiredMixin, View):
    """`/experience/education/`: every resource with its figures, and the coming sessions."""

    required_action = "experience.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = self.actor
        resources = education.resource_figures(actor=actor)
        return render(
            request,
            "experience/education/home.html",
            {
                "resources": resources,
                "sessions": education.upcoming_sessions(actor=actor),
                "totals": {
                    "invited": sum(r.invited for r in resources),
                    "attended": sum(r.attended for r in resources),
                    "completed": sum(r.completed for r in resources),
                },
                "can_change": actor.can("education.change"),
            },
        )


class ResourceFormView(ActorRequiredMixin, View):
    """`/experience/education/resources/new/` and `.../<id>/edit/`."""

    required_action = "education.change"

    def _render(self, form: ResourceForm, resource: Resource | None, status: int = 200) -> HttpResponse:
        return render(
            self.request,
            "experience/education/resource_form.html",
            {"form": form, "resource": resource},
            status=status,
        )

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        resource = education.resource_for(self.actor, pk) if pk else None
        return self._render(ResourceForm(instance=resource), resource)

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        resource = education.resource_for(self.actor, pk) if pk else None
        form = ResourceForm(request.POST)
        if not form.is_valid():
            return self._render(form, resource, status=400)
        fields = {name: form.cleaned_data[name] for name in ResourceForm.Meta.fields}
        try:
            if resource is None:
                resource = education.resource_create(actor=self.actor, **fields)
            else:
                resource = education.resource_update(actor=self.actor, resource=resource, **fields)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self._render(form, resource, status=400)
        messages.success(request, _("%(title)s saved.") % {"title": resource.title})
        return redirect("experience:education-resource", pk=resource.pk)


class ResourceDeleteView(ActorRequiredMixin, View):
    required_action = "education.change"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        resource = education.resource_for(self.actor, pk)
        try:
            education.resource_delete(actor=self.actor, resource=resource)
        except ValidationError as exc:
            for error in exc.messages:
                messages.error(request, error)
            return redirect("experience:education-resource", pk=resource.pk)
        messages.success(request, _("%(title)s deleted.") % {"title": resource.title})
        return redirect("experience:education-home")


class ResourceDetailView(ActorRequiredMixin, View):
    """`/experience/education/resources/<id>/`: figures, sessions (with a form to add one), the
    places of the actor's customers (filter by status, paginated) with inline updates, and the
    invite-by-segment form (POSTed to `education-invite-segment`)."""

    required_action = "experience.view"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self.render_page(request, education.resource_for(self.actor, pk))

    def render_page(
        self,
        request: HttpRequest,
        resource: Resource,
        *,
        invite_form: SegmentInviteForm | None = None,
        session_form: SessionForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        actor = self.actor
        figures = education.with_figures(actor, Resource.objects.filter(pk=resource.pk)).get()
        figures.completion_rate = education.completion_rate(figures.completed, figures.invited)
        places = (
            education.attendances_visible_to(actor).filter(resource=resource).order_by("-invited_on", "-id")
        )
        status_filter = request.GET.get("status", "")
        if status_filter in Attendance.Status.values:
            places = places.filter(status=status_filter)
        page = Paginator(places, ATTENDANCE_PAGE_SIZE).get_page(request.GET.get("page"))
        can_change = actor.can("education.change")
        return render(
            request,
            "experience/education/resource_detail.html",
            {
                "resource": figures,
                "sessions": education.resource_sessions(actor=actor, resource=resource),
                "page": page,
                "rows": [{"place": place} for place in page],
                "statuses": Attendance.Status.choices,
                "status_filter": status_filter,
                "can_change": can_change,
                "is_guide": resource.kind == Resource.Kind.GUIDE,
                "invite_form": invite_form or (SegmentInviteForm(resource=resource) if can_change else None),
                "session_form": session_form
                or (SessionForm() if can_change and resource.kind != Resource.Kind.GUIDE else None),
            },
            status=status,
        )


class SegmentInviteView(ResourceDetailView):
    """POST `/experience/education/resources/<id>/invite/`: invite a segment; repeating it adds nobody."""

    required_action = "education.change"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        resource = education.resource_for(self.actor, pk)  # another organization's id is a 404
        return redirect("experience:education-resource", pk=resource.pk)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        resource = education.resource_for(self.actor, pk)
        form = SegmentInviteForm(request.POST, resource=resource)
        if not form.is_valid():
            return self.render_page(request, resource, invite_form=form, status=400)
        try:
            result = education.attendances_invite_segment(
                actor=self.actor,
                resource=resource,
                session=form.cleaned_data.get("session"),
                send_email=form.cleaned_data["send_email"],
                **form.segment(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.render_page(request, resource, invite_form=form, status=400)
        messages.success(
            request,
            _("Invited %(count)s customers (%(already)s were invited already).")
            % {"count": result.count, "already": result.already},
        )
        return redirect("experience:education-resource", pk=resource.pk)


class SessionCreateView(ResourceDetailView):
    """POST `/experience/education/resources/<id>/sessions/`: schedule a session."""

    required_action = "education.change"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        resource = education.resource_for(self.actor, pk)  # another organization's id is a 404
        return redirect("experience:education-resource", pk=resource.pk)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        resource = education.resource_for(self.actor, pk)
        form = SessionForm(request.POST)
        if not form.is_valid():
            return self.render_page(request, resource, session_form=form, status=400)
        try:
            education.session_create(
                actor=self.actor,
                resource=resource,
                **{n: form.cleaned_data[n] for n in SessionForm.Meta.fields},
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.render_page(request, resource, session_form=form, status=400)
        messages.success(request, _("Session scheduled."))
        return redirect("experience:education-resource", pk=resource.pk)


class SessionEditView(ActorRequiredMixin, View):
    """`/experience/education/sessions/<id>/edit/`: move, relocate or re-host a session; or delete
    it (POST with `delete`) while nobody is invited."""

    required_action = "education.change"

    def _render(self, form: SessionForm, session: Session, status: int = 200) -> HttpResponse:
        return render(
            self.request,
            "experience/education/session_form.html",
            {"form": form, "session": session},
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        session = session_for(pk)
        return self._render(SessionForm(instance=session), session)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        session = session_for(pk)
        if "delete" in request.POST:
            try:
                education.session_delete(actor=self.actor, session=session)
            except ValidationError as exc:
                for error in exc.messages:
                    messages.error(request, error)
                return redirect("experience:education-session-edit", pk=session.pk)
            messages.success(request, _("Session deleted."))
            return redirect("experience:education-resource", pk=session.resource_id)
        form = SessionForm(request.POST)
        if not form.is_valid():
            return self._render(form, session, status=400)
        try:
            education.session_update(
                actor=self.actor,
                session=session,
                **{n: form.cleaned_data[n] for n in SessionForm.Meta.fields},
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self._render(form, session, status=400)
        messages.success(request, _("Session saved."))
        return redirect("experience:education-resource", pk=session.resource_id)


class AttendanceView(ActorRequiredMixin, View):
    """`/experience/education/attendances/<id>/`: GET the row's edit form (htmx swaps it in), POST
    the change; htmx gets the updated row back, a plain form a redirect."""

    required_action = "education.change"

    def _row(self, place: Attendance, form: AttendanceForm | None = None, status: int = 200) -> HttpResponse:
        template = (
            "experience/education/partials/attendance_row.html"
            if self.request.htmx  # type: ignore[attr-defined]
            else "experience/education/attendance.html"
        )
        return render(
            self.request, template, {"row": {"place": place, "form": form}, "can_change": True}, status=status
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        place = education.attendance_for(self.actor, pk)
        if "cancel" in request.GET:
            return self._row(place)
        return self._row(place, AttendanceForm.for_attendance(place))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        place = education.attendance_for(self.actor, pk)
        form = AttendanceForm(request.POST, prefix=f"a{place.pk}")
        if form.is_valid():
            data = form.cleaned_data
            try:
                place = education.attendance_update(
                    actor=self.actor,
                    attendance=place,
                    status=data["status"],
                    on=data["on"],
                    rating=data["rating"],
                    feedback=data["feedback"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
        if form.errors:
            # htmx swaps only 2xx answers by default: there the row with its errors comes back as 200.
            return self._row(place, form, status=200 if request.htmx else 400)  # type: ignore[attr-defined]
        if request.htmx:  # type: ignore[attr-defined]
            return self._row(education.attendance_for(self.actor, pk))
        messages.success(request, _("Attendance saved."))
        return redirect(
            safe_next(request, reverse("experience:education-resource", args=[place.resource_id]))
        )


class CustomerInviteView(ActorRequiredMixin, View):
    """`/experience/education/customers/<id>/invite/`: invite this customer (optionally one of
    its contacts) to a resource or a coming session."""

    required_action = "education.change"

    def _render(self, customer: Any, form: CustomerInviteForm, status: int = 200) -> HttpResponse:
        return render(
            self.request,
            "experience/education/invite.html",
            {"customer": customer, "form": form},
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)
        initial = {}
        if request.GET.get("resource", "").isdigit():
            initial["resource"] = request.GET["resource"]
        return self._render(customer, CustomerInviteForm(customer=customer, initial=initial))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)
        form = CustomerInviteForm(request.POST, customer=customer)
        if not form.is_valid():
            return self._render(customer, form, status=400)
        data = form.cleaned_data
        session = data["session"]
        resource = data["resource"]
        try:
            place, created = education.attendance_invite(
                actor=self.actor,
                resource=resource,
                session=session,
                customer=customer,
                contact=data["contact"],
                send_email=data["send_email"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self._render(customer, form, status=400)
        if created:
            messages.success(request, _("%(customer)s is invited.") % {"customer": customer.name})
        else:
            messages.info(request, _("%(customer)s was invited already.") % {"customer": customer.name})
        return redirect(safe_next(request, reverse("customer-detail", args=[customer.pk])))
