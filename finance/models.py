"""The platform's data: organizations, users and their roles, API keys, audit, idempotency, job runs."""

from __future__ import annotations

import secrets
import zoneinfo
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from finance.money import validate_currency
from finance.tenancy import TenantManager, UnscopedManager, current_organization


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value})


class Role(models.TextChoices):
    OWNER = "owner", pgettext_lazy("role", "Owner")
    ADMIN = "admin", _("Administrator")
    FINANCE_MANAGER = "finance_manager", _("Finance manager")
    AR_CLERK = "ar_clerk", _("AR clerk")
    SALES_REP = "sales_rep", _("Sales rep")
    AUDITOR = "auditor", _("Auditor")


class Language(models.TextChoices):
    ENGLISH = "en", _("English")
    CHINESE = "zh-hans", _("Simplified Chinese")


class Organization(models.Model):
    """A tenant. Read before the tenant is known, so it carries no row-level policy."""

    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    base_currency = models.CharField(
        _("base currency"), max_length=3, default="CNY", validators=[validate_currency]
    )
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_timezone]
    )
    language = models.CharField(
        _("language"), max_length=10, choices=Language.choices, default=Language.ENGLISH
    )
    address = models.TextField(_("address"), blank=True)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def local_now(self):  # noqa: ANN201
        return timezone.now().astimezone(self.tzinfo)

    def local_today(self):  # noqa: ANN201
        return self.local_now().date()


class UserManager(DjangoUserManager):
    def _create_user(self, email: str, password: str | None, **extra: Any):  # type: ignore[override]  # noqa: ANN202
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any):  # type: ignore[override]  # noqa: ANN201
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any):  # type: ignore[override]  # noqa: ANN201
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in with an email address; belongs to organizations through memberships."""

    username = None  # type: ignore[assignment]
    email = models.EmailField(_("email address"), unique=True)
    language = models.CharField(_("language"), max_length=10, choices=Language.choices, blank=True)
    # Part of the session hash: a new stamp (password or two-factor change) ends every other session.
    security_stamp = models.CharField(
        _("security stamp"), max_length=64, default=secrets.token_hex, editable=False
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []
    objects = UserManager()  # type: ignore[misc]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """An HMAC over the password hash and the security stamp (Django's hashes the password only)."""
        return salted_hmac(
            "finance.models.User.get_session_auth_hash",
            f"{self.password}:{self.security_stamp}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


class TenantModel(models.Model):
    """Base of every tenant-owned model: the organization, and a manager scoped to the current one.

    `rls_lookup` is an extra SQL condition under which PostgreSQL shows a row before the tenant is
    known (memberships of the signed-in user, API keys of the presented prefix); empty for the rest.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("organization")
    )

    objects = TenantManager()
    unscoped = UnscopedManager()

    rls_lookup: ClassVar[str] = ""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.organization_id is None:
            self.organization = current_organization()
        super().save(*args, **kwargs)


class Membership(TenantModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    rls_lookup = "user_id = NULLIF(current_setting('kehu.user_id', true), '')::bigint"

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class ApiKeyScope(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Write")


class ApiKey(TenantModel):
    """An organization's key for integrations. Only a SHA-256 hash is stored; the prefix is shown."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    hashed_key = models.CharField(max_length=64)
    scopes = models.JSONField(_("scopes"), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    # Set when the key is rotated: it keeps working until then, so integrations can switch over.
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    rotated_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="successors",
        verbose_name=_("rotated from"),
    )
    # Requests per minute; empty means the organization's or the deployment's default.
    rate_limit_per_minute = models.PositiveIntegerField(
        _("rate limit per minute"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
    )

    rls_lookup = "prefix = current_setting('kehu.key_prefix', true)"

    # The generation of the cache entry this key was read with (finance.selectors.API_KEYS).
    cache_generation: str | None = None

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def can_write(self) -> bool:
        return ApiKeyScope.WRITE in self.scopes


class AuditEventManager(TenantManager):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        from finance import auditchain

        created = super().bulk_create(objs, *args, **kwargs)
        auditchain.seal_after_commit({event.organization_id for event in created})
        return created


class AuditEvent(TenantModel):
    """One write by a user, an API key or the system; append-only, sealed into a hash chain
    after its transaction commits (finance/auditchain.py)."""

    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(_("action"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    customer_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    objects = AuditEventManager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="audit_org_time"),
            models.Index(fields=["organization", "object_type", "object_id"], name="audit_org_object"),
            # Sealing after a commit reads the organization's events above an id (auditchain): a
            # range on this index whatever the statistics say; on the organization index alone the
            # planner, with statistics older than a busy hour, read every event of the organization
            # at each commit (a dunning run of 20k reminders slowed to 15 events a second).
            models.Index(fields=["organization", "id"], name="audit_org_id"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)
        from finance import auditchain

        auditchain.seal_after_commit({self.organization_id})

    @property
    def actor_label(self) -> str:
        if self.actor_user_id:
            return str(self.actor_user)
        if self.actor_api_key_id:
            return str(self.actor_api_key)
        return str(_("system"))


class AuditSeal(TenantModel):
    """The tamper-evident chain over the audit log: one seal per event, in the order sealed.

    `chain_hash` = SHA-256 of the previous seal's chain hash and this event's canonical hash, so
    changing, removing or reordering any sealed event breaks every later link. Insert-only like the
    events (on PostgreSQL the application role may not UPDATE or DELETE either table). The event
    is referenced by id, not by a foreign key, so that a deleted event leaves its seal behind as
    evidence."""

    event_id = models.BigIntegerField(unique=True)
    sequence = models.PositiveBigIntegerField()
    event_hash = models.CharField(max_length=64)
    chain_hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sequence"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "sequence"], name="audit_seal_unique_sequence")
        ]
        # Sealing after a commit reads the seals of an id range (finance.auditchain._seal_above).
        indexes = [models.Index(fields=["organization", "event_id"], name="audit_seal_org_event")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.chain_hash[:12]}"


class AuditVerification(TenantModel):
    """One check of the organization's audit chain (nightly job, `verify_audit` or an auditor)."""

    checked_at = models.DateTimeField(_("checked"), default=timezone.now)
    intact = models.BooleanField(_("intact"))
    events_checked = models.PositiveBigIntegerField(_("events checked"), default=0)
    sealed_through = models.PositiveBigIntegerField(_("sealed through"), default=0)
    head_hash = models.CharField(_("head hash"), max_length=64, blank=True)
    breaks = models.JSONField(_("breaks"), default=list, blank=True)
    source = models.CharField(_("source"), max_length=20)

    class Meta:
        verbose_name = _("audit verification")
        verbose_name_plural = _("audit verifications")
        ordering = ["-checked_at", "-id"]

    def __str__(self) -> str:
        return f"{self.checked_at:%Y-%m-%d %H:%M} {'intact' if self.intact else 'broken'}"


class IdempotencyKey(TenantModel):
    """A POST's `Idempotency-Key`: the first response is replayed for the same key and body."""

    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    completed = models.BooleanField(default=False)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="idempotency_unique_key")]

    def __str__(self) -> str:
        return self.key


class JobRun(TenantModel):
    """A scheduled job's run for one organization and day: the key that makes reruns harmless."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    job = models.CharField(max_length=64)
    run_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "job", "run_date"], name="jobrun_unique_day")
        ]
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.job} {self.run_date} {self.status}"


class WebhookEndpoint(TenantModel):
    """An organization's HTTPS endpoint for events, signed with its own secret."""

    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list)
    secret = models.CharField(max_length=64, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("webhook endpoint")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(TenantModel):
    """One event for one endpoint; `event_id` is unique, so an event is never queued twice."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64)
    event_id = models.CharField(max_length=120)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "endpoint", "event_id"], name="webhook_delivery_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"
