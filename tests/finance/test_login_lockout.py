"""Failed sign-ins lock the email and address pair after five tries (django-axes); the right
password then still fails until the cool-off, other accounts and addresses are not affected, and
a success resets the count."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def attempt(client, email: str, password: str, ip: str = "203.0.113.5"):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_five_failures_lock_the_account_from_that_address(client, org, members):
    email = members["owner"].email
    for _ in range(4):
        assert attempt(client, email, "wrong").status_code == 200  # the form again, with its error
    locked = attempt(client, email, "wrong")
    assert locked.status_code == 429
    assert b'data-testid="locked-out"' in locked.content
    assert attempt(client, email, PASSWORD).status_code == 429  # even the right password, for now
    assert attempt(client, email, PASSWORD, ip="198.51.100.7").status_code == 302  # another address
    assert attempt(client, members["admin"].email, PASSWORD).status_code == 302  # another account


def test_a_success_resets_the_count(client, org, members):
    email = members["owner"].email
    for _ in range(4):
        attempt(client, email, "wrong")
    assert attempt(client, email, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert attempt(client, email, "wrong").status_code == 200
