"""Two-factor sign-in (TOTP, recovery codes) and the end of other sessions after a security change.

Owners, admins and the finance roles cannot get a session without a second factor: the password
step only leaves a pending state (five minutes, five codes); they enroll an authenticator at their
first sign-in. Other roles may turn it on. A password or two-factor change rotates the user's
security stamp, which is part of the session hash: every other session ends, the current one stays.
"""

from __future__ import annotations

import time
from importlib import import_module
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from finance import mfa, tenancy
from finance.models import AuditEvent, User
from tests.conftest import PASSWORD, login
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
VERIFY = "/accounts/login/code/"
ENROLL = "/accounts/login/enroll/"
NEW_PASSWORD = "an0ther-Long-passphrase"


def password_step(client: Client, user: Any, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(
        LOGIN, {"username": user.email, "password": password, **extra}, REMOTE_ADDR="203.0.113.9"
    )


def code_for(device: TOTPDevice, *, offset: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset
    return f"{totp.token():06d}"


def give_device(user: Any) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def events(org: Any, action: str) -> list[AuditEvent]:
    with tenancy.tenant(org):
        return list(AuditEvent.objects.filter(action=action))


def allow_retry(device: TOTPDevice) -> None:
    """django-otp makes a device wait 1, 2, 4… seconds after each wrong code; tests do not wait."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )


class TestRequiredRoles:
    @pytest.mark.parametrize("role", ["owner", "admin", "finance_manager", "ar_clerk"])
    def test_a_required_role_without_a_device_gets_no_session_until_enrolled(
        self, client, org, members, role
    ):
        response = password_step(client, members[role])
        assert response.status_code == 302 and response["Location"] == ENROLL
        assert not signed_in(client)
        assert client.get("/")["Location"].startswith(LOGIN)
        assert client.get("/api/v1/customers/").status_code in (401, 403)

    def test_enrollment_shows_a_qr_code_and_secret_then_signs_in_with_recovery_codes(
        self, client, org, members
    ):
        owner = members["owner"]
        password_step(client, owner, next="/customers/")
        page = client.get(ENROLL)
        assert page.status_code == 200
        assert b"<svg" in page.content and b'data-testid="totp-secret"' in page.content
        device = TOTPDevice.objects.get(user=owner, confirmed=False)
        assert mfa.secret_for_display(device).encode() in page.content

        wrong = client.post(ENROLL, {"otp_token": "000000" if code_for(device) != "000000" else "111111"})
        assert wrong.status_code == 200 and not signed_in(client)
        allow_retry(device)
        done = client.post(ENROLL, {"otp_token": code_for(device)})
        assert done.status_code == 302 and done["Location"].startswith(
            "/account/security/recovery-codes/new/"
        )
        assert signed_in(client)
        assert client.session[mfa.DONE_KEY] == "enrolled"
        device.refresh_from_db()
        assert device.confirmed
        codes_page = client.get(done["Location"])
        assert codes_page.status_code == 200
        assert codes_page.content.count(b"<li><code>") == mfa.RECOVERY_CODES
        assert b'href="/customers/"' in codes_page.content
        assert client.get(done["Location"]).status_code == 302  # shown once
        assert len(events(org, "user.mfa_enabled")) == 1
        assert client.get("/").status_code == 200

    def test_cancelling_enrollment_ends_the_half_finished_sign_in(self, client, org, members):
        owner = members["owner"]
        password_step(client, owner)
        assert client.get(ENROLL).status_code == 200
        assert client.get(LOGIN).status_code == 200  # "Cancel" leads back to the password step
        again = client.get(ENROLL)  # the next person at this browser cannot finish it
        assert again.status_code == 302 and again["Location"].startswith(LOGIN)
        device = TOTPDevice.objects.filter(user=owner).first()
        if device is not None:
            assert client.post(ENROLL, {"otp_token": code_for(device)}).status_code == 302
        assert not signed_in(client)

    def test_a_user_with_a_device_must_give_the_code(self, client, org, members):
        manager = members["finance_manager"]
        device = give_device(manager)
        response = password_step(client, manager, next="/customers/")
        assert response.status_code == 302 and response["Location"] == VERIFY
        assert not signed_in(client)
        assert client.get("/")["Location"].startswith(LOGIN)

        response = client.post(VERIFY, {"otp_token": code_for(device)})
        assert response.status_code == 302 and response["Location"] == "/customers/"
        assert signed_in(client)
        assert client.session[mfa.DONE_KEY] == "totp"
        assert client.session["otp_device_id"] == device.persistent_id
        assert client.get("/").status_code == 200

    def test_a_code_is_not_accepted_twice(self, client, org, members):
        manager = members["finance_manager"]
        device = give_device(manager)
        code = code_for(device)
        password_step(client, manager)
        assert client.post(VERIFY, {"otp_token": code}).status_code == 302
        other = Client()
        password_step(other, manager)
        assert other.post(VERIFY, {"otp_token": code}).status_code == 200
        assert not signed_in(other)

    def test_enrollment_and_code_pages_need_the_password_step(self, client, org, members):
        assert client.get(VERIFY)["Location"] == LOGIN
        assert client.post(ENROLL, {"otp_token": "123456"})["Location"] == LOGIN

    def test_a_role_that_does_not_require_it_signs_in_with_the_password(self, client, org, members):
        response = password_step(client, members["sales_rep"])
        assert response.status_code == 302 and response["Location"] == "/"
        assert signed_in(client) and client.session[mfa.DONE_KEY] == "none"

    def test_the_required_roles_come_from_the_setting(self, client, org, members, settings):
        settings.MFA_REQUIRED_ROLES = ["sales_rep"]
        assert password_step(client, members["sales_rep"])["Location"] == ENROLL
        assert password_step(Client(), members["owner"])["Location"] == "/"

    def test_force_login_still_gives_a_session(self, client, org, members):
        login(client, members["owner"])
        assert client.get("/").status_code == 200


class TestWrongCodes:
    def test_wrong_codes_are_counted_recorded_and_limited(self, client, org, members, settings):
        settings.AXES_FAILURE_LIMIT = 50  # the session's own limit first
        manager = members["finance_manager"]
        device = give_device(manager)
        password_step(client, manager)
        wrong = "000000" if code_for(device) != "000000" else "111111"
        for left in (4, 3, 2, 1):
            response = client.post(VERIFY, {"otp_token": wrong})
            assert response.status_code == 200 and not signed_in(client)
            assert f"Attempts left: {left}".encode() in response.content
        response = client.post(VERIFY, {"otp_token": wrong})
        assert response.status_code == 302 and response["Location"] == LOGIN
        assert mfa.PENDING_KEY not in client.session
        allow_retry(device)
        assert client.post(VERIFY, {"otp_token": code_for(device)})["Location"] == LOGIN  # back to step 1
        assert not signed_in(client)
        assert len(events(org, "user.mfa_failed")) == 5

    def test_wrong_codes_count_towards_the_axes_lockout(self, client, org, members):
        manager = members["finance_manager"]
        device = give_device(manager)
        password_step(client, manager)
        wrong = "000000" if code_for(device) != "000000" else "111111"
        for _ in range(4):
            assert client.post(VERIFY, {"otp_token": wrong}, REMOTE_ADDR="203.0.113.9").status_code == 200
        locked = client.post(VERIFY, {"otp_token": wrong}, REMOTE_ADDR="203.0.113.9")
        assert locked.status_code == 429 and b'data-testid="locked-out"' in locked.content
        assert password_step(Client(), manager).status_code == 429  # even the right password, for now

    def test_a_right_code_after_a_wrong_one_signs_in(self, client, org, members):
        manager = members["finance_manager"]
        device = give_device(manager)
        password_step(client, manager)
        client.post(VERIFY, {"otp_token": "abcdef"})
        allow_retry(device)
        assert client.post(VERIFY, {"otp_token": code_for(device)}).status_code == 302
        assert signed_in(client)

    def test_the_pending_sign_in_expires_after_five_minutes(self, client, org, members):
        manager = members["finance_manager"]
        device = give_device(manager)
        password_step(client, manager)
        session = client.session
        session[mfa.PENDING_KEY]["at"] -= mfa.PENDING_SECONDS + 1
        session.save()
        response = client.post(VERIFY, {"otp_token": code_for(device)})
        assert response.status_code == 302 and response["Location"] == LOGIN
        assert not signed_in(client)

    def test_a_password_change_during_the_pending_sign_in_ends_it(self, client, org, members):
        manager = members["finance_manager"]
        device = give_device(manager)
        password_step(client, manager)
        mfa.security_stamp_rotate(user=manager)
        assert client.post(VERIFY, {"otp_token": code_for(device)})["Location"] == LOGIN
        assert not signed_in(client)


class TestRecoveryCodes:
    def test_a_recovery_code_works_once(self, client, org, members):
        clerk = members["ar_clerk"]
        give_device(clerk)
        codes = mfa.recovery_codes_generate(user=clerk)
        password_step(client, clerk)
        response = client.post(VERIFY, {"otp_token": mfa.format_code(codes[0]).upper()})
        assert response.status_code == 302 and signed_in(client)
        assert client.session[mfa.DONE_KEY] == "recovery"
        assert mfa.recovery_codes_left(clerk) == mfa.RECOVERY_CODES - 1

        again = Client()
        password_step(again, clerk)
        assert again.post(VERIFY, {"otp_token": codes[0]}).status_code == 200
        assert not signed_in(again)

    def test_regenerating_replaces_the_codes_and_ends_other_sessions(self, client, org, members):
        rep = members["sales_rep"]
        give_device(rep)
        old = mfa.recovery_codes_generate(user=rep)
        other = login(Client(), rep)
        login(client, rep)
        response = client.post("/account/security/recovery-codes/", {"password": PASSWORD})
        assert response.status_code == 200
        assert response.content.count(b"<li><code>") == mfa.RECOVERY_CODES
        assert not StaticDevice.objects.filter(user=rep, token_set__token=old[0]).exists()
        assert mfa.recovery_codes_left(rep) == mfa.RECOVERY_CODES
        assert other.get("/")["Location"].startswith(LOGIN)
        assert client.get("/").status_code == 200
        assert len(events(org, "user.mfa_recovery_codes_regenerated")) == 1

    def test_regenerating_needs_the_current_password(self, client, org, members):
        rep = members["sales_rep"]
        give_device(rep)
        old = mfa.recovery_codes_generate(user=rep)
        login(client, rep)
        assert client.post("/account/security/recovery-codes/", {"password": "nope"}).status_code == 400
        assert StaticDevice.objects.filter(user=rep, token_set__token=old[0]).exists()


class TestAccountSecurity:
    def test_a_sales_rep_turns_two_factor_on(self, client, org, members):
        rep = members["sales_rep"]
        other = login(Client(), rep)
        login(client, rep)
        page = client.get("/account/security/enable/")
        assert page.status_code == 200 and b"<svg" in page.content
        device = TOTPDevice.objects.get(user=rep, confirmed=False)
        assert client.post("/account/security/enable/", {"otp_token": "12"}).status_code == 200
        assert not mfa.is_enabled(rep)
        allow_retry(device)
        response = client.post("/account/security/enable/", {"otp_token": code_for(device)})
        assert response.status_code == 200
        assert response.content.count(b"<li><code>") == mfa.RECOVERY_CODES
        assert mfa.is_enabled(rep)
        assert len(events(org, "user.mfa_enabled")) == 1
        # This session stays, the other one ends; the next sign-in asks for the code.
        assert client.get("/account/security/").status_code == 200
        assert other.get("/")["Location"].startswith(LOGIN)
        assert password_step(Client(), rep)["Location"] == VERIFY

    def test_a_sales_rep_turns_two_factor_off_with_the_password(self, client, org, members):
        rep = members["sales_rep"]
        give_device(rep)
        mfa.recovery_codes_generate(user=rep)
        other = login(Client(), rep)
        login(client, rep)
        assert client.post("/account/security/disable/", {"password": "nope"}).status_code == 400
        assert mfa.is_enabled(rep)
        response = client.post("/account/security/disable/", {"password": PASSWORD})
        assert response.status_code == 302
        assert not mfa.is_enabled(rep) and mfa.recovery_codes_left(rep) == 0
        assert other.get("/")["Location"].startswith(LOGIN)
        assert client.get("/").status_code == 200
        assert len(events(org, "user.mfa_disabled")) == 1
        assert password_step(Client(), rep)["Location"] == "/"

    def test_a_required_role_cannot_turn_two_factor_off(self, client, org, members):
        owner = members["owner"]
        give_device(owner)
        login(client, owner)
        page = client.get("/account/security/")
        assert page.status_code == 200 and b"cannot be turned off" in page.content
        response = client.post("/account/security/disable/", {"password": PASSWORD})
        assert response.status_code == 302
        assert mfa.is_enabled(owner)
        assert events(org, "user.mfa_disabled") == []

    def test_the_security_pages_need_a_session(self, client, org):
        for url in ("/account/security/", "/account/security/enable/", "/account/password/"):
            assert client.get(url)["Location"].startswith(LOGIN)


class TestOtherSessionsEnd:
    def test_a_password_change_ends_the_other_sessions(self, client, org, members):
        rep = members["sales_rep"]
        other = login(Client(), rep)
        login(client, rep)
        assert other.get("/").status_code == 200
        response = client.post(
            "/account/password/",
            {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
        assert response.status_code == 302
        assert client.get("/").status_code == 200  # this session stays
        assert other.get("/")["Location"].startswith(LOGIN)
        assert other.get("/api/v1/customers/").status_code in (401, 403)
        assert len(events(org, "user.password_changed")) == 1

    def test_a_password_change_needs_the_current_password(self, client, org, members):
        rep = members["sales_rep"]
        login(client, rep)
        response = client.post(
            "/account/password/",
            {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
        assert response.status_code == 200
        rep.refresh_from_db()
        assert rep.check_password(PASSWORD)

    def test_a_two_factor_change_alone_ends_the_other_sessions(self, client, org, members):
        rep = members["sales_rep"]
        give_device(rep)
        other = login(Client(), rep)
        login(client, rep)
        before = User.objects.get(pk=rep.pk).password
        client.post("/account/security/recovery-codes/", {"password": PASSWORD})
        assert User.objects.get(pk=rep.pk).password == before  # only the stamp changed
        assert other.get("/")["Location"].startswith(LOGIN)
        assert client.get("/").status_code == 200

    def test_a_password_reset_ends_every_session(self, client, org, members):
        rep = members["sales_rep"]
        other = login(Client(), rep)
        uid = urlsafe_base64_encode(force_bytes(rep.pk))
        token = default_token_generator.make_token(rep)
        form_url = client.get(f"/accounts/reset/{uid}/{token}/")["Location"]
        response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        assert response.status_code == 302
        assert other.get("/")["Location"].startswith(LOGIN)
        assert not signed_in(client)
        assert len(events(org, "user.password_changed")) == 1

    def test_existing_users_get_their_own_stamp_from_the_migration(self, members):
        User.objects.update(security_stamp="same")
        migration = import_module("finance.migrations.0004_user_security")
        migration.fill_security_stamps(django_apps, None)
        stamps = list(User.objects.values_list("security_stamp", flat=True))
        assert len(set(stamps)) == len(stamps) and "same" not in stamps


class TestAdminReset:
    def test_an_admin_resets_a_members_two_factor(self, client, org, members):
        manager = members["finance_manager"]
        give_device(manager)
        mfa.recovery_codes_generate(user=manager)
        theirs = login(Client(), manager)
        login(client, members["admin"])
        page = client.get("/account/members/")
        assert page.status_code == 200 and manager.email.encode() in page.content
        response = client.post(f"/account/members/{manager.pk}/reset-mfa/")
        assert response.status_code == 302
        assert not TOTPDevice.objects.filter(user=manager).exists()
        assert not StaticDevice.objects.filter(user=manager).exists()
        assert theirs.get("/")["Location"].startswith(LOGIN)
        [event] = events(org, "user.mfa_reset")
        assert event.actor_user_id == members["admin"].pk and event.object_id == str(manager.pk)
        assert password_step(Client(), manager)["Location"] == ENROLL  # enrolls again

    @pytest.mark.parametrize("role", ["finance_manager", "sales_rep", "auditor"])
    def test_other_roles_cannot_reset(self, client, org, members, role):
        owner = members["owner"]
        give_device(owner)
        login(client, members[role])
        assert client.get("/account/members/").status_code == 403
        assert client.post(f"/account/members/{owner.pk}/reset-mfa/").status_code == 403
        assert mfa.is_enabled(owner)

    def test_another_organizations_user_is_a_404(self, client, org, members, outsider):
        give_device(outsider)
        login(client, members["owner"])
        assert client.post(f"/account/members/{outsider.pk}/reset-mfa/").status_code == 404
        assert mfa.is_enabled(outsider)

    def test_a_user_in_two_organizations_is_required_if_either_role_requires(self, org, outsider_org):
        user = UserFactory(email="both@example.test")
        MembershipFactory(organization=org, role="sales_rep", user=user)
        assert not mfa.is_required(user)
        MembershipFactory(organization=outsider_org, role="ar_clerk", user=user)
        assert mfa.is_required(user)


def test_the_admin_signs_in_through_the_same_steps(client, db):
    response = client.get("/ops/admin/login/?next=/ops/admin/")
    assert response.status_code == 302 and response["Location"].startswith(f"{LOGIN}?next=")
