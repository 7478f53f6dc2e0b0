import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finance.jobs import JOBS, job_run
from finance.models import Organization


class Command(BaseCommand):
    help = "Run a scheduled job for one organization and day, through the same code as the Celery task."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job", help=f"One of: {', '.join(sorted(JOBS)) or '(none registered)'}.")
        parser.add_argument("--org", required=True, help="Organization slug.")
        parser.add_argument(
            "--date", default=None, help="YYYY-MM-DD; default today in the organization's timezone."
        )
        parser.add_argument("--force", action="store_true", help="Run again even if already done that day.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["job"] not in JOBS:
            raise CommandError(f"Unknown job {options['job']!r}. Jobs: {', '.join(sorted(JOBS))}.")
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}.")
        try:
            run_date = (
                datetime.date.fromisoformat(options["date"])
                if options["date"]
                else organization.local_today()
            )
        except ValueError as exc:
            raise CommandError("--date must be YYYY-MM-DD.") from exc
        run = job_run(
            organization=organization, job_name=options["job"], run_date=run_date, force=options["force"]
        )
        self.stdout.write(
            f"{options['job']} for {organization.slug} on {run_date}: {run.status} {run.result}"
        )
