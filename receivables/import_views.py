"""Browser import of invoices and payments: upload → mapping → preview → background run."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from finance.web import ActorRequiredMixin
from receivables import imports
from receivables.models import ImportJob
from receivables.tasks import import_run_task


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What to import"), choices=ImportJob.Kind.choices)
    file = forms.FileField(label=gettext_lazy("CSV or XLSX file"))


class ImportMixin(ActorRequiredMixin):
    required_action = "receivables.view"

    def job(self, pk: int) -> ImportJob:
        job = ImportJob.objects.filter(pk=pk).first()
        if job is None:
            raise Http404
        self.actor.require("invoice.create" if job.kind == "invoices" else "payment.post")
        return job


class ImportUploadView(ImportMixin, View):
    def get(self, request: HttpRequest, form: UploadForm | None = None) -> HttpResponse:
        recent = ImportJob.objects.defer("rows").order_by("-created_at")[:10]
        return render(
            request, "receivables/import_upload.html", {"form": form or UploadForm(), "recent": recent}
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = imports.import_create(
                    actor=self.actor,
                    kind=form.cleaned_data["kind"],
                    filename=upload.name,
                    content=upload.read(),
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                return redirect("import-detail", pk=job.pk)
        return self.get(request, form=form)


class ImportDetailView(ImportMixin, View):
    """Mapping and preview; POST checks every row, `confirm` starts the import."""

    def context(self, job: ImportJob, error: str = "") -> dict[str, Any]:
        preview = job.rows[:20]
        return {
            "job": job,
            "fields": imports.FIELDS[job.kind],
            "preview": preview,
            "error": error,
            "error_rows": sorted(job.row_errors.items(), key=lambda item: int(item[0]))[:200],
            "error_count": len(job.row_errors),
            "progress": imports.import_progress(job),
        }

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return render(request, "receivables/import_detail.html", self.context(self.job(pk)))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.job(pk)
        if "confirm" in request.POST:
            if job.status != ImportJob.Status.VALIDATED:
                return render(
                    request,
                    "receivables/import_detail.html",
                    self.context(job, _("Check the file first.")),
                    status=400,
                )
            job.status = ImportJob.Status.QUEUED
            job.save(update_fields=["status"])
            transaction.on_commit(
                lambda: import_run_task.delay(
                    organization_id=job.organization_id, job_id=job.pk, user_id=request.user.pk
                )
            )
            messages.success(request, _("Import started."))
            return redirect("import-detail", pk=job.pk)
        mapping = {
            field: request.POST.get(field, "") for field, _label, _required in imports.FIELDS[job.kind]
        }
        try:
            imports.import_check(actor=self.actor, job=job, mapping=mapping)
        except ValidationError as exc:
            job.mapping = mapping
            return render(
                request,
                "receivables/import_detail.html",
                self.context(job, " ".join(exc.messages)),
                status=400,
            )
        return redirect("import-detail", pk=job.pk)


class ImportProgressView(ImportMixin, View):
    """The htmx fragment the detail page polls while the import runs."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        job = self.job(pk)
        return render(
            request,
            "receivables/partials/import_progress.html",
            {"job": job, "progress": imports.import_progress(job)},
        )
