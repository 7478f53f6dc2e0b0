"""crm's scheduled job: each morning, one digest email per rep of their due and overdue follow-ups."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.models import FollowUp, FollowUpReminder
from finance.actors import Actor
from finance.models import User


def follow_up_reminders(*, actor: Actor, run_date: datetime.date) -> dict[str, Any]:
    """Email every assignee with open follow-ups due on or before `run_date`, once per day.

    The (organization, assignee, day) key makes a rerun send nothing twice; a digest whose send
    did not finish (no `sent_at`) is sent by the rerun.
    """
    counts = dict(
        FollowUp.objects.filter(done=False, due_date__lte=run_date, assignee__isnull=False)
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values_list("assignee_id", "n")
    )
    sent = 0
    for assignee in User.objects.filter(pk__in=counts, is_active=True).exclude(email=""):
        try:
            with transaction.atomic():
                reminder, _created = FollowUpReminder.objects.get_or_create(
                    assignee=assignee, day=run_date, defaults={"follow_up_count": counts[assignee.pk]}
                )
        except IntegrityError:
            reminder = FollowUpReminder.objects.get(assignee=assignee, day=run_date)
        if reminder.sent_at is not None:
            continue
        follow_ups = list(
            FollowUp.objects.filter(done=False, due_date__lte=run_date, assignee=assignee)
            .select_related("customer")
            .order_by("due_date", "id")[:100]
        )
        with translation.override(assignee.language or actor.organization.language):
            body = render_to_string(
                "crm/email/follow_up_digest.txt",
                {
                    "assignee": assignee,
                    "organization": actor.organization,
                    "follow_ups": follow_ups,
                    "run_date": run_date,
                    "site_url": settings.SITE_URL,
                },
            )
            subject = _("%(count)s follow-ups due at %(organization)s") % {
                "count": len(follow_ups),
                "organization": actor.organization.name,
            }
        send_mail(subject, body, None, [assignee.email])
        reminder.sent_at = timezone.now()
        reminder.save(update_fields=["sent_at"])
        sent += 1
    return {"assignees": len(counts), "sent": sent}
