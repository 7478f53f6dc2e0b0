"""Sign-in pages (password, then a code or enrollment) and the account security pages.

The business rules live in `finance.mfa`; these views parse the form, call it and render.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_credentials
from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from finance import mfa
from finance.models import Membership
from finance.web import ActorRequiredMixin


class CodeForm(forms.Form):
    otp_token = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "size": 12}
        ),
    )


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("Your password was entered incorrectly."))
        return password


def _safe_next(request: HttpRequest, url: str) -> str:
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        return url
    return reverse("dashboard")


# --- Sign-in ------------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """Step 1: email and password (authenticated with the request, so django-axes counts failures
    and locks out). A user with, or required to have, a second factor goes on to step 2."""

    redirect_authenticated_user = True

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Back on step 1 ("Cancel", "Start again", or just this URL): a half-finished sign-in ends
        # here, so the next person at this browser cannot finish it without the password.
        mfa.clear_pending(request)
        return super().get(request, *args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        # The password was right: django-axes forgets this pair's failures (wrong codes count again).
        AxesProxyHandler.update_request(self.request)
        AxesProxyHandler.get_implementation().reset_user_attempts(
            self.request, get_credentials(user.get_username())
        )
        next_url = self.get_success_url()
        if mfa.is_enabled(user):
            mfa.start_pending(self.request, user=user, next_url=next_url)
            return redirect("login-verify")
        if mfa.is_required(user):
            mfa.start_pending(self.request, user=user, next_url=next_url)
            return redirect("login-enroll")
        mfa.complete_login(self.request, user=user, device=None, how="none")
        return HttpResponseRedirect(next_url)


def _expired(request: HttpRequest) -> HttpResponse:
    messages.info(request, _("Your sign-in expired or was interrupted: sign in again."))
    return redirect("login")


def _wrong_code(
    request: HttpRequest, pending: mfa.Pending, form: forms.Form, reason: str
) -> HttpResponse | None:
    """Count a wrong code; None to show the form again, else the response that ends the attempt."""
    left = mfa.record_failure(request, user=pending.user, reason=reason)
    if getattr(request, "axes_locked_out", False):
        mfa.clear_pending(request)
        return HttpResponse(status=429)  # django-axes' middleware turns this into its lockout page
    if left == 0:
        messages.error(request, _("Too many wrong codes: sign in again."))
        return redirect("login")
    form.add_error(
        "otp_token",
        _("That code is not right. Attempts left: %(left)s.") % {"left": left},
    )
    return None


@method_decorator([never_cache, sensitive_post_parameters("otp_token")], name="dispatch")
class LoginVerifyView(View):
    """Step 2 for a user with a device: the 6-digit code of the authenticator, or a recovery code."""

    template_name = "registration/login_verify.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        pending = mfa.pending(request)
        if pending is None or not mfa.is_enabled(pending.user):
            return _expired(request)
        return render(request, self.template_name, {"form": CodeForm()})

    def post(self, request: HttpRequest) -> HttpResponse:
        pending = mfa.pending(request)
        if pending is None or not mfa.is_enabled(pending.user):
            return _expired(request)
        form = CodeForm(request.POST)
        if form.is_valid():
            device, how = mfa.verify_code(pending.user, form.cleaned_data["otp_token"])
            if device is not None:
                mfa.complete_login(request, user=pending.user, device=device, how=how)
                if how == "recovery":
                    messages.warning(
                        request,
                        _("You signed in with a recovery code; %(left)s left.")
                        % {"left": mfa.recovery_codes_left(pending.user)},
                    )
                return redirect(_safe_next(request, pending.next_url))
            response = _wrong_code(request, pending, form, "code")
            if response is not None:
                return response
        return render(request, self.template_name, {"form": form})


@method_decorator([never_cache, sensitive_post_parameters("otp_token")], name="dispatch")
class LoginEnrollView(View):
    """Step 2 for a user whose role requires two-factor and who has none yet: scan, confirm, in."""

    template_name = "registration/login_enroll.html"

    def _context(self, device: Any, form: forms.Form) -> dict[str, Any]:
        return {"form": form, "qr_svg": mfa.qr_svg(device), "secret": mfa.secret_for_display(device)}

    def get(self, request: HttpRequest) -> HttpResponse:
        pending = mfa.pending(request)
        if pending is None or mfa.is_enabled(pending.user) or not mfa.is_required(pending.user):
            return _expired(request)
        device = mfa.pending_totp_device(pending.user)
        return render(request, self.template_name, self._context(device, CodeForm()))

    def post(self, request: HttpRequest) -> HttpResponse:
        pending = mfa.pending(request)
        if pending is None or mfa.is_enabled(pending.user) or not mfa.is_required(pending.user):
            return _expired(request)
        device = mfa.pending_totp_device(pending.user)
        form = CodeForm(request.POST)
        if form.is_valid():
            codes = mfa.mfa_enable(
                request=None, user=pending.user, device=device, code=form.cleaned_data["otp_token"]
            )
            if codes is not None:
                pending.user.refresh_from_db()
                mfa.complete_login(request, user=pending.user, device=device, how="enrolled")
                request.session[mfa.RECOVERY_SHOW_KEY] = codes
                query = urlencode({"next": _safe_next(request, pending.next_url)})
                return redirect(f"{reverse('account-recovery-codes')}?{query}")
            response = _wrong_code(request, pending, form, "enrollment")
            if response is not None:
                return response
        return render(request, self.template_name, self._context(device, form))


def admin_login(request: HttpRequest) -> HttpResponse:
    """The operators' admin signs in through the same two steps."""
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"))


# --- Account security -------------------------------------------------------------------------


def _codes_page(request: HttpRequest, codes: list[str], next_url: str) -> HttpResponse:
    return render(
        request,
        "account/recovery_codes.html",
        {"codes": [mfa.format_code(c) for c in codes], "next": next_url},
    )


@never_cache
@login_required
def recovery_codes_shown(request: HttpRequest) -> HttpResponse:
    """The recovery codes made at enrollment, shown once (then gone from the session)."""
    codes = request.session.pop(mfa.RECOVERY_SHOW_KEY, None)
    if not codes:
        return redirect("account-security")
    return _codes_page(request, codes, _safe_next(request, request.GET.get("next", "")))


@method_decorator([never_cache, login_required], name="dispatch")
class SecurityView(View):
    template_name = "account/security.html"

    def get(self, request: HttpRequest, form: forms.Form | None = None, status: int = 200) -> HttpResponse:
        user = request.user
        actor = getattr(request, "actor", None)
        context = {
            "enabled": mfa.is_enabled(user),
            "required": mfa.is_required(user),
            "codes_left": mfa.recovery_codes_left(user),
            "password_form": form or PasswordConfirmForm(user=user),
            "can_manage_members": actor is not None and actor.can("apikey.manage"),
        }
        return render(request, self.template_name, context, status=status)


@method_decorator([never_cache, login_required, sensitive_post_parameters("otp_token")], name="dispatch")
class EnableView(View):
    """Voluntary two-factor: scan the QR code, confirm with a code, get the recovery codes."""

    template_name = "account/enable.html"

    def _render(self, request: HttpRequest, form: forms.Form) -> HttpResponse:
        device = mfa.pending_totp_device(request.user)
        return render(
            request,
            self.template_name,
            {"form": form, "qr_svg": mfa.qr_svg(device), "secret": mfa.secret_for_display(device)},
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        if mfa.is_enabled(request.user):
            return redirect("account-security")
        return self._render(request, CodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        if mfa.is_enabled(request.user):
            return redirect("account-security")
        form = CodeForm(request.POST)
        if form.is_valid():
            device = mfa.pending_totp_device(request.user)
            codes = mfa.mfa_enable(
                request=request, user=request.user, device=device, code=form.cleaned_data["otp_token"]
            )
            if codes is not None:
                request.session[mfa.DONE_KEY] = "enrolled"
                messages.success(request, _("Two-factor sign-in is on. Your other sessions were signed out."))
                return _codes_page(request, codes, reverse("account-security"))
            form.add_error("otp_token", _("That code is not right."))
        return self._render(request, form)


@method_decorator([never_cache, login_required, require_POST], name="dispatch")
class DisableView(View):
    def post(self, request: HttpRequest) -> HttpResponse:
        form = PasswordConfirmForm(request.POST, user=request.user)
        if not form.is_valid():
            return SecurityView().get(request, form=form, status=400)
        try:
            mfa.mfa_disable(request=request, user=request.user)
        except mfa.MfaError:
            messages.error(request, _("Your role requires two-factor sign-in: it cannot be turned off."))
            return redirect("account-security")
        request.session[mfa.DONE_KEY] = "none"
        messages.success(request, _("Two-factor sign-in is off. Your other sessions were signed out."))
        return redirect("account-security")


@method_decorator([never_cache, login_required, require_POST], name="dispatch")
class RegenerateCodesView(View):
    def post(self, request: HttpRequest) -> HttpResponse:
        form = PasswordConfirmForm(request.POST, user=request.user)
        if not form.is_valid():
            return SecurityView().get(request, form=form, status=400)
        try:
            codes = mfa.mfa_recovery_codes_regenerate(request=request, user=request.user)
        except mfa.MfaError:
            return redirect("account-security")
        messages.success(request, _("New recovery codes: the old ones no longer work."))
        return _codes_page(request, codes, reverse("account-security"))


class PasswordChangeView(auth_views.PasswordChangeView):
    """Needs the current password; then every other session of the user ends."""

    template_name = "account/password_change.html"
    success_url = reverse_lazy("account-security")

    def form_valid(self, form: Any) -> HttpResponse:
        form.save()
        mfa.password_changed(request=self.request, user=form.user, how="change")
        messages.success(self.request, _("Password changed. Your other sessions were signed out."))
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The reset link's form; the new password also ends every session of the user."""

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        mfa.password_changed(request=None, user=form.user, how="reset")
        return response


# --- Members' two-factor (owners and admins) --------------------------------------------------


class MemberSecurityView(ActorRequiredMixin, View):
    """The organization's members and whether they use two-factor; reset a lost device."""

    required_action = "apikey.manage"

    def get(self, request: HttpRequest) -> HttpResponse:
        rows = [
            {
                "membership": m,
                "enabled": mfa.is_enabled(m.user),
                "required": m.role in mfa.required_roles(),
            }
            for m in Membership.objects.select_related("user").order_by("user__email")
        ]
        return render(request, "account/members.html", {"rows": rows})


class MemberMfaResetView(ActorRequiredMixin, View):
    required_action = "apikey.manage"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        membership = Membership.objects.select_related("user").filter(user_id=pk).first()
        if membership is None:
            raise Http404
        try:
            mfa.mfa_reset(actor=self.actor, user=membership.user)
        except mfa.MfaError:
            messages.error(request, _("Reset your own two-factor on your security page."))
            return redirect("account-members")
        messages.success(
            request,
            _("Two-factor sign-in of %(user)s was reset; their sessions were signed out.")
            % {"user": membership.user},
        )
        return redirect("account-members")
