"""Two-factor sign-in (TOTP with django-otp, recovery codes) and ending a user's other sessions.

Sign-in is two steps. The password step (django-axes counts its failures) leaves a *pending*
state in the session: the user's id, when, how many wrong codes, and the session hash at that
moment; nobody is signed in yet. The second step either checks a code (a confirmed TOTP device,
or a single-use recovery code) or, for a user whose role requires two-factor and who has no
device, enrolls one. Only then `complete_login()` calls `login()` and `otp_login()`.

Every change of password or second factor rotates `User.security_stamp`, which is part of the
session hash (`User._get_session_auth_hash`), so every other session of that user ends; the
view keeps its own session with `update_session_auth_hash`.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import login, update_session_auth_hash, user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from finance import audit, tenancy
from finance.actors import Actor
from finance.models import User
from finance.selectors import memberships_of

log = logging.getLogger("kehu.security")

PENDING_KEY = "kehu_mfa_pending"  # the half-done sign-in
DONE_KEY = "kehu_mfa"  # how this session's user signed in: "totp", "recovery", "enrolled" or "none"
RECOVERY_SHOW_KEY = "kehu_mfa_recovery_codes"  # new recovery codes, shown once
PENDING_SECONDS = 5 * 60
MAX_ATTEMPTS = 5
RECOVERY_CODES = 10
TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"


def _security_event(event: str, *, request: HttpRequest | None, user: User, **fields: Any) -> None:
    """One line on the `kehu.security` log (finance.security_events, when that module is present)."""
    try:
        from finance.security_events import emit
    except ImportError:  # pragma: no cover
        log.info("%s user=%s %s", event, user.pk, fields)
        return
    emit(event, request=request, user=user.pk, **fields)


class MfaError(Exception):
    """A two-factor action that is not allowed; the message is shown to the user."""


# --- Who needs what ------------------------------------------------------------------------


def required_roles() -> frozenset[str]:
    return frozenset(role.strip() for role in settings.MFA_REQUIRED_ROLES if role.strip())


def is_required(user: User) -> bool:
    """True when any of the user's memberships has a role that requires two-factor."""
    roles = required_roles()
    return any(m.role in roles for m in memberships_of(user))


def totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def is_enabled(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def pending_totp_device(user: User) -> TOTPDevice:
    """The unconfirmed device being enrolled (created on first use; its secret stays the same on reload)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def secret_for_display(device: TOTPDevice) -> str:
    """The base32 secret, in groups of four, for typing into an authenticator app."""
    from base64 import b32encode

    raw = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG QR code (rendered here, nothing leaves the server)."""
    import segno

    qr = segno.make(device.config_url, error="m")
    return qr.svg_inline(scale=4, dark="#111827", light="#ffffff", title="otpauth")


def normalize_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


# --- The pending (half-done) sign-in --------------------------------------------------------


@dataclass
class Pending:
    user: User
    attempts: int
    next_url: str


def start_pending(request: HttpRequest, *, user: User, next_url: str) -> None:
    """After the right password: remember who, when and where to, without signing in."""
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "uid": user.pk,
        "at": int(time.time()),
        "attempts": 0,
        "next": next_url,
        "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[-1]),
        "hash": user.get_session_auth_hash(),
    }


def pending(request: HttpRequest) -> Pending | None:
    """The half-done sign-in of this session, or None when there is none or it expired (5 minutes),
    or the user's password or second factor changed meanwhile."""
    state = request.session.get(PENDING_KEY)
    if not isinstance(state, dict):
        return None
    if int(time.time()) - int(state.get("at", 0)) > PENDING_SECONDS:
        clear_pending(request)
        return None
    user = User.objects.filter(pk=state.get("uid"), is_active=True).first()
    if user is None or not secrets.compare_digest(str(state.get("hash", "")), user.get_session_auth_hash()):
        clear_pending(request)
        return None
    user.backend = state.get("backend")
    return Pending(user=user, attempts=int(state.get("attempts", 0)), next_url=str(state.get("next", "")))


def clear_pending(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)


def record_failure(request: HttpRequest, *, user: User, reason: str) -> int:
    """A wrong code: counted in the session (MAX_ATTEMPTS ends the pending sign-in), by django-axes
    as a failed sign-in of this email from this address, and recorded as a security event.
    Returns the attempts left (0: back to the password step)."""
    state = request.session.get(PENDING_KEY) or {}
    attempts = int(state.get("attempts", 0)) + 1
    state["attempts"] = attempts
    request.session[PENDING_KEY] = state
    _security_event("mfa.failed", request=request, user=user, reason=reason, attempt=attempts)
    _record_for_user(user=user, action="user.mfa_failed", changes={"reason": reason})
    user_login_failed.send(
        sender=__name__, credentials={settings.AXES_USERNAME_FORM_FIELD: user.email}, request=request
    )
    left = max(MAX_ATTEMPTS - attempts, 0)
    if left == 0:
        clear_pending(request)
    return left


def verify_code(user: User, code: str) -> tuple[Any | None, str]:
    """The device that accepts `code` (a TOTP code, else a recovery code, which is then used up)
    and "totp" / "recovery"; (None, "") when none does. django-otp throttles each device too."""
    token = normalize_code(code)
    if token.isdigit() and len(token) == 6:
        with transaction.atomic():
            device = (
                TOTPDevice.objects.select_for_update()
                .filter(user=user, confirmed=True)
                .order_by("pk")
                .first()
            )
            if device is not None and device.verify_token(token):
                return device, "totp"
        return None, ""
    with transaction.atomic():
        for device in StaticDevice.objects.filter(user=user, confirmed=True).select_for_update():
            if device.verify_token(token):
                return device, "recovery"
    return None, ""


def complete_login(request: HttpRequest, *, user: User, device: Any | None, how: str) -> None:
    """The only place a browser session is signed in: `login()`, then the verified device."""
    clear_pending(request)
    login(request, user, backend=getattr(user, "backend", None))
    if device is not None:
        otp_login(request, device)
    request.session[DONE_KEY] = how


# --- Writes ---------------------------------------------------------------------------------


def _record_for_user(*, user: User, action: str, changes: dict | None = None) -> None:
    """A security event about `user`, in the audit log of every organization they belong to."""
    for membership in memberships_of(user):
        with tenancy.tenant(membership.organization, user_id=user.pk):
            audit.record(
                actor=Actor(organization=membership.organization, role=membership.role, user=user),
                action=action,
                instance=user,
                changes=changes or {},
            )


def security_stamp_rotate(*, user: User) -> None:
    user.security_stamp = secrets.token_hex()
    user.save(update_fields=["security_stamp"])


def _keep_session(request: HttpRequest | None, user: User) -> None:
    if request is not None and getattr(request, "user", None) is not None and request.user.pk == user.pk:
        update_session_auth_hash(request, user)


def recovery_codes_generate(*, user: User) -> list[str]:
    """Replace the user's recovery codes with RECOVERY_CODES new ones; returns them (shown once)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


@transaction.atomic
def mfa_enable(*, request: HttpRequest | None, user: User, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the pending device with a code from the app: two-factor is on, recovery codes are
    made, the other sessions end. Returns the recovery codes, or None when the code is wrong."""
    if device.user_id != user.pk or device.confirmed:
        raise MfaError("device")
    token = normalize_code(code)
    if not (token.isdigit() and len(token) == 6) or not device.verify_token(token):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.name = TOTP_NAME
    device.save(update_fields=["confirmed", "name"])
    codes = recovery_codes_generate(user=user)
    security_stamp_rotate(user=user)
    _record_for_user(user=user, action="user.mfa_enabled")
    _security_event("mfa.enabled", request=request, user=user, outcome="success")
    _keep_session(request, user)
    if request is not None and getattr(request, "user", None) is not None and request.user.pk == user.pk:
        otp_login(request, device)
    return codes


@transaction.atomic
def mfa_disable(*, request: HttpRequest | None, user: User) -> None:
    """Turn two-factor off (not allowed while a role requires it); the other sessions end."""
    if is_required(user):
        raise MfaError("required")
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    security_stamp_rotate(user=user)
    _record_for_user(user=user, action="user.mfa_disabled")
    _security_event("mfa.disabled", request=request, user=user, outcome="success")
    _keep_session(request, user)


@transaction.atomic
def mfa_recovery_codes_regenerate(*, request: HttpRequest | None, user: User) -> list[str]:
    if not is_enabled(user):
        raise MfaError("disabled")
    codes = recovery_codes_generate(user=user)
    security_stamp_rotate(user=user)
    _record_for_user(user=user, action="user.mfa_recovery_codes_regenerated")
    _security_event("mfa.recovery_codes_regenerated", request=request, user=user, outcome="success")
    _keep_session(request, user)
    return codes


@transaction.atomic
def mfa_reset(*, actor: Actor, user: User) -> None:
    """An owner or admin removes another member's second factor (a lost phone): their devices are
    deleted and every session of theirs ends; a required role enrolls again at the next sign-in."""
    actor.require("apikey.manage")
    if actor.user is not None and actor.user.pk == user.pk:
        raise MfaError("self")
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    security_stamp_rotate(user=user)
    audit.record(actor=actor, action="user.mfa_reset", instance=user)
    _security_event("mfa.reset", request=None, user=user, outcome="success")


@transaction.atomic
def password_changed(*, request: HttpRequest | None, user: User, how: str) -> None:
    """After a password change or reset (the form saved it): other sessions end, audit event."""
    security_stamp_rotate(user=user)
    _record_for_user(user=user, action="user.password_changed", changes={"how": how})
    _security_event("password.changed", request=request, user=user, outcome="success", how=how)
    _keep_session(request, user)
